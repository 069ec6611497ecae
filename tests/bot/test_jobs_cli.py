"""`moodtape add URL`, `moodtape jobs`, `moodtape worker` and `moodtape similar URL` as an admin uses them.

The links point at a local fake server (tests/fakes/http_server.py); `MOODTAPE_ALLOW_PRIVATE_NETWORKS=1`
lets the client reach it on 127.0.0.1.  Two tests run a real `moodtape worker` process: one stops it with
SIGTERM (graceful), one kills it with SIGKILL mid-batch and shows that a restart completes the batch once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.conftest import AUDIO
from tests.fakes.http_server import FakeWeb

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_deezer(1109731, "Windowlicker", "Aphex Twin", preview="/audio/beat_b.mp3")
        yield server


@pytest.fixture
def env(web: FakeWeb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    values = {"MOODTAPE_ALLOW_PRIVATE_NETWORKS": "1", "MOODTAPE_DEEZER_API_URL": web.url("/deezer"),
              "MOODTAPE_DEMO": "never", "MOODTAPE_DATA_DIR": str(tmp_path / "data"),
              "MOODTAPE_DOWNLOAD_TIMEOUT_S": "10"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_links_from_the_cli_through_the_queue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, web: FakeWeb, env: dict[str, str]
) -> None:
    db = str(tmp_path / "lib.db")
    code, out, _ = run(capsys, "--db", db, "add", "--no-embed", "--json", web.url("/audio/pad_b.mp3"),
                       "https://www.deezer.com/en/track/1109731", web.url("/page.html"))
    assert code == 1  # the web page was refused; the two songs were queued
    links = json.loads(out)["links"]
    assert [row.get("status") for row in links[:2]] == ["pending", "pending"]
    assert links[1]["service"] == "Deezer" and links[1]["artist"] == "Aphex Twin"
    assert links[2]["link"].endswith("/page.html") and "web page" in links[2]["error"]

    code, out, _ = run(capsys, "--db", db, "jobs", "--json")
    queue = json.loads(out)
    assert code == 0 and queue["tracks"] == {"pending": 2, "due": 2, "retrying": 0, "failed": 0}
    assert [job["kind"] for job in queue["queued"]] == ["embed"] and queue["running"] == []

    code, out, _ = run(capsys, "--db", db, "worker", "--once", "--json")
    done = json.loads(out)
    embed = next(job for job in done["jobs"] if job["kind"] == "embed")
    assert code == 0 and embed["status"] == "done" and len(embed["ready"]) == 2

    code, out, err = run(capsys, "--db", db, "add", web.url("/audio/truncated.flac"), str(AUDIO / "beat_a.ogg"))
    assert code == 1 and "added 1 track(s), 1 ready" in out  # the link's download failed: not all done
    assert "truncated.flac" not in err and "-> failed" in out  # the link was embedded at once, and failed

    code, out, _ = run(capsys, "--db", db, "jobs")
    assert code == 0 and "tracks: 0 pending" in out and "1 failed" in out
    assert "failed tracks:" in out and "truncated" in out.split("failed tracks:")[1]

    code, out, _ = run(capsys, "--db", db, "similar", web.url("/audio/beat_b.mp3"), "--json", "-k", "2")
    result = json.loads(out)
    assert code == 0 and result["query"]["kind"] == "link" and result["query"]["service"] == "the web"
    assert result["tracks"][0]["title"] == "Windowlicker"  # the Deezer preview is this very audio
    assert result["tracks"][0]["score"] > 0.99


def test_a_refused_link_exits_with_the_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              web: FakeWeb, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("MOODTAPE_ALLOW_PRIVATE_NETWORKS", "0")
    code, out, err = run(capsys, "--db", str(tmp_path / "x.db"), "add", web.url("/audio/pad_b.mp3"))
    assert code == 1 and "not allowed" in err and "loopback" in err
    code, _, err = run(capsys, "--db", str(tmp_path / "x.db"), "similar", "http://169.254.169.254/latest/")
    assert code == 2 and "metadata" in err


def _worker(db: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "moodtape.bot.cli", "--db", db, "worker", *extra], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_worker_stops_gracefully_on_sigterm(tmp_path: Path, env: dict[str, str]) -> None:
    process = _worker(str(tmp_path / "w.db"), env)
    try:
        deadline = time.monotonic() + 120
        line = ""
        assert process.stderr is not None
        while "worker running" not in line:
            assert time.monotonic() < deadline and process.poll() is None, "the worker did not start"
            line = process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "worker stopped" in err


def _count(db: str, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow  # ~20 s: a real process start, a kill, a restart (the in-process crash test is always run)
def test_a_killed_worker_restarts_and_completes_the_batch_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, env: dict[str, str]
) -> None:
    music = tmp_path / "music"
    music.mkdir()
    source = (AUDIO / "pad_a.wav").read_bytes()
    for i in range(16):
        (music / f"take_{i:02d}.wav").write_bytes(source + bytes([i + 1]) * (i + 1))
    db = str(tmp_path / "k.db")
    assert run(capsys, "--db", db, "add", "--no-embed", str(music))[0] == 0
    process = _worker(db, {**env, "MOODTAPE_EMBED_BATCH_SIZE": "16"})
    try:
        deadline = time.monotonic() + 120
        while _count(db, "SELECT count(*) FROM tracks WHERE status = 'ready'") < 2:
            assert time.monotonic() < deadline and process.poll() is None, "the worker never embedded"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    ready_before = _count(db, "SELECT count(*) FROM tracks WHERE status = 'ready'")
    assert 2 <= ready_before < 16, "the kill did not land mid-batch"
    assert _count(db, "SELECT count(*) FROM jobs WHERE kind = 'embed' AND status = 'running'") == 1
    pending = {row[0] for row in sqlite3.connect(db).execute("SELECT id FROM tracks WHERE status = 'pending'")}

    code, out, _ = run(capsys, "--db", db, "worker", "--once", "--json")
    summary = json.loads(out)
    assert code == 0 and len(summary["recovered"]) == 1  # a dead process on this machine: requeued at once
    embed = next(job for job in summary["jobs"] if job["kind"] == "embed")
    assert set(embed["ready"]) == pending and len(embed["ready"]) == len(pending)  # only the rest, once each
    code, out, _ = run(capsys, "--db", db, "stats", "--json")
    stats = json.loads(out)
    assert stats["tracks"]["ready"] == 16 and sum(stats["vectors"]["audio"].values()) == 16
