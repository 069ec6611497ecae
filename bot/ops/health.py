"""Whether `moodtape run` is fit to answer: the database answers, the emotion model is loaded, the scheduler
(when this process runs one) is alive, and each bot is connected to its service.

Each part is a named check returning (ok, detail); `/healthz` is 200 when all pass and 503 otherwise, with the
details as JSON, so a container's HEALTHCHECK and a person reading it see the same reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["HealthChecks"]

Check = Callable[[], Awaitable[tuple[bool, str]]]

#: A database that takes longer than this to answer `SELECT` of its schema version counts as unreachable.
DB_TIMEOUT_S = 5.0


class HealthChecks:
    """The named checks of one service process; the bots add theirs as they start."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.checks: dict[str, Check] = {"database": self._database, "models": self._models}
        self.model_error: str | None = None

    def add(self, name: str, check: Callable[[], tuple[bool, str]]) -> None:
        """A synchronous check (a bot's connection state, the scheduler's)."""
        async def run() -> tuple[bool, str]:
            return check()

        self.checks[name] = run

    async def _database(self) -> tuple[bool, str]:
        try:
            version = await asyncio.wait_for(self.engine.store.schema_version(), DB_TIMEOUT_S)
        except asyncio.TimeoutError:
            return False, f"no answer within {DB_TIMEOUT_S:g} s"
        except Exception as exc:  # any failure to read is "unreachable", with its reason
            return False, f"unreachable: {exc}".strip()
        return True, f"schema version {version}"

    async def _models(self) -> tuple[bool, str]:
        if self.model_error:
            return False, f"the emotion model failed to load: {self.model_error}"
        if not self.engine.models_loaded:
            return False, "the emotion model is loading"
        return True, "emotion model loaded"

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, {"status": "ok"|"unhealthy", "checks": {name: {"ok": ..., "detail": ...}}})."""
        results: dict[str, Any] = {}
        for name, check in self.checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:
                ok, detail = False, f"check failed: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        healthy = all(r["ok"] for r in results.values())
        return healthy, {"status": "ok" if healthy else "unhealthy", "checks": results}
