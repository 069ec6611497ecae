"""The HTTP side of `moodtape run`: `/healthz` and `/metrics` on `MOODTAPE_HTTP_LISTEN` (aiohttp, which
discord.py already brings), on the bots' event loop.

`/metrics` reads the store's counts at most every `STATS_TTL_S` seconds, so a scraper polling often cannot
turn into a load on a large database.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from aiohttp import web

from moodtape.bot.ops import metrics
from moodtape.bot.ops.health import HealthChecks
from moodtape.core.errors import UserError

__all__ = ["OpsServer", "parse_listen"]

log = logging.getLogger("moodtape.ops")

STATS_TTL_S = 10.0


def parse_listen(value: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 in brackets) as (host, port); a clear error for anything else."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"MOODTAPE_HTTP_LISTEN={value!r}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


class OpsServer:
    """Serves the two endpoints until `stop`; `port` is the bound port (useful with port 0)."""

    def __init__(self, engine: Any, health: HealthChecks, listen: str) -> None:
        self.engine = engine
        self.health = health
        self.host, self.port = parse_listen(listen)
        self._stats: dict[str, Any] | None = None
        self._stats_at = float("-inf")
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise UserError(f"cannot serve /healthz and /metrics on {self.host}:{self.port}: {exc.strerror or exc}")
        bound = [address for address in self._runner.addresses if isinstance(address, tuple)]
        if bound:
            self.port = int(bound[0][1])  # the real port when 0 asked for any free one
        log.info("serving /healthz and /metrics on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = await self.health.report()
        return web.Response(status=200 if healthy else 503, text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if now - self._stats_at >= STATS_TTL_S:
            try:
                self._stats = await self.engine.store.stats()
            except Exception:  # /healthz says why; the metrics keep their last values
                log.warning("could not read the database's counts for /metrics", exc_info=True)
                self._stats = None
            self._stats_at = now
        metrics.refresh(self.engine, self._stats)
        return web.Response(body=metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"})
