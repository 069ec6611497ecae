"""One id per request: in every JSON log line written while answering it, and in the apology the person sees,
so an operator finds the whole story of a screenshot's "ref ..." with one search."""

from __future__ import annotations

import io
import json
import logging

import pytest

from moodtape.bot.ops.metrics import observe
from moodtape.bot.shared.errors import user_message
from moodtape.bot.shared.log_format import JsonFormatter
from moodtape.core.errors import QueryError


@pytest.fixture
def json_log() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("moodtape.test.requests")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield log, stream
    log.removeHandler(handler)


async def test_the_apology_names_the_id_of_the_requests_log_lines(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = json_log
    with pytest.raises(RuntimeError) as failure:
        async with observe("telegram", "mood"):
            log.info("reading the mood of a message")
            raise RuntimeError("the model fell over")
    # the front end's error handler answers after the request's context has ended
    reply = user_message(failure.value, log, "telegram update 1")
    first, error = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["message"] == "reading the mood of a message" and first["level"] == "INFO"
    assert first["request"] == error["request"] == reply.reference
    assert f"(ref {reply.reference})" in reply.text and "RuntimeError" in error["exception"]


async def test_requests_get_different_ids_and_user_errors_are_not_logged(
        json_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = json_log
    for _ in range(2):
        async with observe("discord", "similar"):
            log.info("answering")
    a, b = [json.loads(line)["request"] for line in stream.getvalue().splitlines()]
    assert a != b
    reply = user_message(QueryError("there is no track #9 in the catalogue"), log)
    assert reply.user_error and reply.text == "there is no track #9 in the catalogue"
    assert len(stream.getvalue().splitlines()) == 2  # a person's mistake is not an error in the log
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "no request here", None, None)
    assert "request" not in json.loads(JsonFormatter().format(outside))


def test_the_cli_writes_json_log_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "MOODTAPE_DB": str(tmp_path / "log.db")}
    done = subprocess.run([sys.executable, "-m", "moodtape.bot.cli", "--log-format", "json", "-vv", "stats"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is one JSON object
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
