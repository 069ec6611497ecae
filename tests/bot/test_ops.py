"""`moodtape run` with MOODTAPE_HTTP_LISTEN: /healthz says whether the service can answer and why not, /metrics
counts the requests the real Telegram bot answered (against the fake Bot API), in Prometheus' text format."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from moodtape.bot.ops import HealthChecks
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from tests.fakes.telegram_server import FakeTelegram
from tests.tiny_models import build_tiny_roberta


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def requests_counted(text: str, command: str, outcome: str = "ok") -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "moodtape_requests_total" and sample.labels.get("front_end") == "telegram"
                    and sample.labels.get("command") == command and sample.labels.get("outcome") == outcome):
                return sample.value
    return 0.0


async def until(check, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_healthz_and_metrics_follow_the_running_bot(tmp_path: Path) -> None:
    model = build_tiny_roberta(tmp_path / "model")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOODTAPE_")}
    async with FakeTelegram() as server:
        env.update({"MOODTAPE_DB": str(tmp_path / "bot.db"), "MOODTAPE_DATA_DIR": str(tmp_path),
                    "MOODTAPE_TELEGRAM_TOKEN": server.token, "MOODTAPE_TELEGRAM_API_URL": server.root,
                    "MOODTAPE_EMOTION_MODEL": str(model), "MOODTAPE_KOREAN_EMOTION_MODEL": str(model),
                    "MOODTAPE_HTTP_LISTEN": f"127.0.0.1:{port}", "MOODTAPE_USER_COOLDOWN_S": "0"})
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moodtape.bot.cli", "run", "telegram", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                async def healthy() -> dict | None:
                    try:
                        answer = await http.get(f"{base}/healthz")
                    except httpx.TransportError:
                        return None
                    return answer.json() if answer.status_code == 200 else None

                health = await until(healthy)
                assert set(health["checks"]) == {"database", "models", "scheduler", "telegram"}
                assert all(check["ok"] for check in health["checks"].values())

                before = (await http.get(f"{base}/metrics")).text
                assert "moodtape_reply_seconds" in before and "moodtape_models_loaded 1.0" in before
                user = FakeTelegram.user(91)
                chat = server.private_chat(user)
                server.send_text(user, "/similar Battle for Wesnoth")
                await server.wait_for_message(chat["id"], contains="Wesnoth", timeout=60)
                server.send_text(user, "/similar no such song anywhere 123")
                await server.wait_for_message(chat["id"], contains="no such song", timeout=60)

                async def counted() -> str | None:
                    text = (await http.get(f"{base}/metrics")).text
                    return text if requests_counted(text, "similar") > requests_counted(before, "similar") else None

                after = await until(counted)
                assert requests_counted(after, "similar") == requests_counted(before, "similar") + 1
                assert requests_counted(after, "similar", "refused") == requests_counted(before, "similar", "refused") + 1
                assert 'moodtape_reply_seconds_count{command="similar",front_end="telegram"}' in after
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert f"serving /healthz and /metrics on 127.0.0.1:{port}" in err.decode()


async def test_healthz_is_unhealthy_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    engine = await Engine.open(Settings(db=tmp_path / "x.db"))
    try:
        health = HealthChecks(engine)
        healthy, body = await health.report()
        assert not healthy and body["checks"]["database"]["ok"]
        assert body["checks"]["models"] == {"ok": False, "detail": "the emotion model is loading"}
    finally:
        await engine.close()
    healthy, body = await health.report()  # the connection is gone: as if the file became unreadable
    assert not healthy and not body["checks"]["database"]["ok"]
    assert body["checks"]["database"]["detail"].startswith("unreachable")
    assert json.dumps(body)  # what /healthz sends
