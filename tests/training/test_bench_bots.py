"""`moodtape bench bots`: a short load test of the real Telegram bot gets answers to every message, without
errors, and reports the documented figures; without the checkout's fake server it says so in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moodtape.bot.cli import main
from moodtape.training import bench_bots


def test_a_short_load_test_answers_every_message_without_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOODTAPE_USER_COOLDOWN_S", "30")  # the bench must switch the throttle off itself
    code = main(["bench", "bots", "--users", "3", "--seconds", "3", "--think", "0.1,0.3", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["users"] == 3 and data["seconds"] == 3
    assert data["replies"] > 3 and data["replies"] == data["sent"]  # several messages per person
    assert data["errors"] == 0, data["error_details"]
    assert 0 < data["reply_ms"]["p50"] <= data["reply_ms"]["p99"] <= data["reply_ms"]["max"]
    lag = data["loop_lag_ms"]
    assert lag["samples"] > 50 and 0 <= lag["p50"] <= lag["p99"] <= lag["max"]
    assert "user_cooldown_s=0" in data["throttle"]
    assert not (tmp_path / "data" / "moodtape.db").exists()  # a temporary database, not the configured one


def test_without_the_checkouts_fake_server_it_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_bots, "REPO_ROOT", tmp_path)  # an installed copy: no tests/ beside the package
    code = main(["bench", "bots", "--users", "2", "--seconds", "1"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "tests/fakes/telegram_server.py" in lines[0] and str(tmp_path) in lines[0]
    assert "Traceback" not in captured.err


def test_percentiles_use_the_nearest_rank() -> None:
    samples = [float(n) for n in range(100, 0, -1)]
    assert bench_bots.percentiles(samples) == {"p50": 50.0, "p99": 99.0, "max": 100.0}
    assert bench_bots.percentiles([]) == {"p50": 0.0, "p99": 0.0, "max": 0.0}
