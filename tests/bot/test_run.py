"""`moodtape run`: clear one-line errors for tokens, and a real run stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.fakes.telegram_server import FakeTelegram
from tests.tiny_models import build_tiny_roberta


def test_missing_tokens_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--db", str(tmp_path / "x.db"), "run", "all"])
    err = capsys.readouterr().err
    assert code == 2
    assert "MOODTAPE_TELEGRAM_TOKEN" in err and "MOODTAPE_DISCORD_TOKEN" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOODTAPE_")}
    env.update({"MOODTAPE_DB": str(tmp_path / "bot.db"), "MOODTAPE_DATA_DIR": str(tmp_path), **extra})
    return env


async def test_refused_telegram_token_is_one_line(tmp_path: Path) -> None:
    async with FakeTelegram() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moodtape.bot.cli", "run", "telegram", "--no-scheduler",
            env=_child_env(tmp_path, MOODTAPE_TELEGRAM_TOKEN="999:wrong-token",
                           MOODTAPE_TELEGRAM_API_URL=server.root),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert "rejected the token" in text and "wrong-token" not in text and "Traceback" not in text


async def test_run_telegram_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    model = build_tiny_roberta(tmp_path / "model")
    async with FakeTelegram() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moodtape.bot.cli", "run", "telegram",
            env=_child_env(tmp_path, MOODTAPE_TELEGRAM_TOKEN=server.token, MOODTAPE_TELEGRAM_API_URL=server.root,
                           MOODTAPE_EMOTION_MODEL=str(model), MOODTAPE_KOREAN_EMOTION_MODEL=str(model)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await server.wait_for(lambda: server.calls_to("getUpdates") or None, timeout=60)
            user = FakeTelegram.user(77)
            chat = server.private_chat(user)
            server.send_text(user, "/similar Battle for Wesnoth")
            reply = await server.wait_for_message(chat["id"], contains="Wesnoth", timeout=60)
            assert reply is not None
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "stopped" in err.decode()


async def test_run_telegram_with_a_webhook_answers_updates_posted_to_it(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tg"
    model = build_tiny_roberta(tmp_path / "model")
    async with FakeTelegram() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moodtape.bot.cli", "run", "telegram", "--no-scheduler",
            env=_child_env(tmp_path, MOODTAPE_TELEGRAM_TOKEN=server.token, MOODTAPE_TELEGRAM_API_URL=server.root,
                           MOODTAPE_EMOTION_MODEL=str(model), MOODTAPE_KOREAN_EMOTION_MODEL=str(model),
                           MOODTAPE_TELEGRAM_WEBHOOK_URL=url, MOODTAPE_TELEGRAM_WEBHOOK_PORT=str(port)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await server.wait_for(lambda: server.webhook, timeout=60, what="setWebhook")
            user = FakeTelegram.user(78)
            chat = server.private_chat(user)
            server.send_text(user, "/similar Battle for Wesnoth")
            await server.wait_for_message(chat["id"], contains="Wesnoth", timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert f"webhook {url} on 127.0.0.1:{port}" in err.decode()
    assert not server.calls_to("getUpdates")
