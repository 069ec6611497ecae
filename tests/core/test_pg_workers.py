"""Workers on several hosts sharing one PostgreSQL + pgvector database (issue 15, items 2 and 4).

* An /add in one process (a bot) wakes the scheduler of another (a worker) through LISTEN/NOTIFY: the
  worker's clock is set to an hour, so only the notification can make it embed the link in time.
* Two real `moodtape worker` processes against one server, the one holding the embed job killed with
  SIGKILL mid-batch: the other takes the job over once the lease runs out (it is started as another host,
  so it cannot see that the process died), every track ends `ready` exactly once, and the counts and the
  vectors match a SQLite run of the same input.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from moodtape.bot.cli import main
from moodtape.core.engine import Engine
from moodtape.core.pipeline.scheduler import start_scheduler
from moodtape.db.pg.store import PG_DUMP_ENV, PgStore
from moodtape.db.store import Store
from tests.conftest import AUDIO
from tests.core.test_jobs import embedded, eventually, job_settings, web  # noqa: F401 (web: a fixture)
from tests.fakes.http_server import FakeWeb
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[2]
TAKES = 10  # distinct good files: several batches of 2, so a kill lands mid-job
LEASE_S = 3  # short, so the survivor takes over soon (heartbeats every second keep a live lease)
#: Runs the CLI as if on another machine: worker ids carry the host name, and a worker only checks the
#: processes of its own machine, so this one must wait for the lease to expire (as a second GPU host would).
OTHER_HOST = ("import socket, sys; socket.gethostname = lambda: 'gpu-host-b'; "
              "from moodtape.bot.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture
async def two_engines(tmp_path: Path, web: FakeWeb, pg_url: str, pg_server: PgServer,  # noqa: F811
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Engine, Engine]]:
    """A 'bot' engine and a 'worker' engine: two stores (two connection pools) on one server database."""
    monkeypatch.setenv(PG_DUMP_ENV, pg_server.tool("pg_dump") or "pg_dump")  # the first tick backs up
    settings = job_settings(tmp_path, web, database_url=pg_url)
    bot = await Engine.open(settings)
    worker = await Engine.open(settings)
    try:
        yield bot, worker
    finally:
        await bot.close()
        await worker.close()


async def test_an_add_in_another_process_wakes_the_worker(two_engines: tuple[Engine, Engine]) -> None:
    bot, worker = two_engines
    assert isinstance(bot.store, PgStore) and bot.store is not worker.store
    handle = start_scheduler(worker.worker(), interval_s=3600)  # no on_queued: the bot is "elsewhere"
    try:
        async def ticked() -> bool:
            return handle.ticks >= 1

        await eventually(ticked, "the first tick did not run")
        result = await bot.add_link("https://www.deezer.com/track/1109731")
        assert result.status == "pending"
        await eventually(lambda: embedded(bot, result.track_id), "the notification did not wake the worker")

        async def ticked_again() -> bool:  # the round that embedded it counts once it has finished
            return handle.ticks >= 2

        await eventually(ticked_again, "the worker did not finish the round the notification started")
    finally:
        await handle.stop()
    assert (await bot.store.get_track(result.track_id)).status == "ready"  # type: ignore[union-attr]


# ------------------------------------------------------------------ two worker processes, one killed
def _music(folder: Path) -> None:
    folder.mkdir()
    source = (AUDIO / "pad_a.wav").read_bytes()
    for i in range(TAKES):
        (folder / f"take_{i:02d}.wav").write_bytes(source + bytes([i + 1]) * (i + 1))
    shutil.copy(AUDIO / "corrupt.mp3", folder / "corrupt.mp3")  # fails: the failed counts must match too


def _worker(env: dict[str, str], log: Path, other_host: bool) -> subprocess.Popen[bytes]:
    code = ["-c", OTHER_HOST] if other_host else ["-m", "moodtape.bot.cli"]
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, *code, "worker"], cwd=ROOT, env=full, stdout=out, stderr=out)


def _one(url: str, sql: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchone()


async def _summary(store: Store | PgStore) -> dict[str, Any]:
    """What must match between the backends: counts, and each file's vectors (by content hash)."""
    stats = await store.stats()
    tracks = {t.id: t.content_hash for t in await store.list_tracks()}
    vectors = {kind: {tracks[tid]: (np.asarray(v.vector), v.model_version)
                      for tid, v in (await store.get_vectors(kind)).items()} for kind in ("audio", "mood")}
    return {"tracks": stats["tracks"], "sources": stats["sources"], "versions": stats["vectors"],
            "vectors": vectors}


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    tmp_path: Path, pg_url: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    music = tmp_path / "music"
    _music(music)
    env = {"MOODTAPE_DEMO": "never", "MOODTAPE_DATA_DIR": str(tmp_path / "data"), "MOODTAPE_DATABASE_URL": pg_url,
           "MOODTAPE_EMBED_BATCH_SIZE": "2", "MOODTAPE_JOB_LEASE_S": str(LEASE_S),
           "MOODTAPE_EMBED_INTERVAL_S": "1", PG_DUMP_ENV: pg_server.tool("pg_dump") or "pg_dump"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["add", "--no-embed", str(music)]) == 0  # a bot host records the files; the workers embed
    capsys.readouterr()

    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [_worker(env, logs[0], other_host=False), _worker(env, logs[1], other_host=True)]
    try:
        deadline = time.monotonic() + 180
        while True:  # until the embed job runs and a few tracks are ready
            ready = _one(pg_url, "SELECT count(*) FROM tracks WHERE status = 'ready'")[0]
            holder = _one(pg_url, "SELECT locked_by FROM jobs WHERE kind = 'embed' AND status = 'running'")
            if ready >= 2 and holder is not None:
                break
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "no worker embedded"
            time.sleep(0.02)
        pid = int(holder[0].split("/")[2])  # worker ids: host/pid-namespace/pid/random
        victim = next(w for w in workers if w.pid == pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(30)
        ready_at_kill = _one(pg_url, "SELECT count(*) FROM tracks WHERE status = 'ready'")[0]
        assert 2 <= ready_at_kill < TAKES, "the kill did not land mid-batch"
        survivor = next(w for w in workers if w is not victim)
        while _one(pg_url, "SELECT count(*) FROM tracks WHERE status = 'pending'")[0] or _one(
                pg_url, "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")[0]:
            assert time.monotonic() < deadline and survivor.poll() is None, "the survivor did not finish the job"
            time.sleep(0.1)
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(60)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(30)
    texts = {w.pid: log.read_text(errors="replace") for w, log in zip(workers, logs)}
    assert "requeued job(s)" in texts[survivor.pid]  # taken over after the lease ran out, not before
    readied = [int(n) for text in texts.values() for n in re.findall(r"track #(\d+) ready", text)]
    assert len(readied) == len(set(readied)), "a track was embedded by both workers"
    embed = _one(pg_url, "SELECT status, attempts FROM jobs WHERE kind = 'embed' ORDER BY id LIMIT 1")
    assert embed == ("done", 2)  # claimed by the victim, then once by the survivor

    monkeypatch.delenv("MOODTAPE_DATABASE_URL")  # the same input, embedded by one process into SQLite
    assert main(["--db", str(tmp_path / "reference.db"), "add", str(music)]) == 1  # 1: a file failed
    assert f"added {TAKES + 1} track(s), {TAKES} ready" in capsys.readouterr().out

    async def compare() -> None:
        reference = await Store.open(tmp_path / "reference.db")
        pg = await PgStore.open(pg_url)
        try:
            want, got = await _summary(reference), await _summary(pg)
        finally:
            await reference.close()
            await pg.close()
        assert got["tracks"] == want["tracks"] and got["tracks"]["ready"] == TAKES
        assert got["tracks"]["failed"] == 1 and got["tracks"]["pending"] == 0
        assert got["sources"] == want["sources"] and got["versions"] == want["versions"]
        for kind in ("audio", "mood"):
            assert got["vectors"][kind].keys() == want["vectors"][kind].keys()
            for content_hash, (vector, version) in want["vectors"][kind].items():
                assert got["vectors"][kind][content_hash][1] == version
                np.testing.assert_allclose(got["vectors"][kind][content_hash][0], vector, atol=1e-5)
        assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in music.glob("take_*")}) == TAKES

    asyncio.run(compare())
