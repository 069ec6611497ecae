"""The scheduler: links become ready, failures retry or fail with the reason, crashes lose nothing, a job
never runs twice, stale vectors are re-embedded, backups are consistent copies with retention.

Crashes are simulated in-process here (an exception that is not an `Exception`, as a killed process would
leave the database: job `running`, nothing rolled back by us; or a task cancelled mid-batch); the real
SIGKILL of a `moodtape worker` process is in tests/bot/test_jobs_cli.py.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from moodtape.core.config import Settings
from moodtape.core.pipeline.embedding import TrackEmbedder
from moodtape.core.engine import Engine
from moodtape.core.pipeline.backups import backup_database, backup_due, list_backups
from moodtape.core.pipeline.identity import machine_prefix
from moodtape.core.pipeline.scheduler import SchedulerHandle, start_scheduler
from moodtape.core.pipeline.worker import BACKUP, EMBED, Worker, default_batch_size
from moodtape.core.links import NotAudio
from moodtape.db.connect import connector, pick_driver
from moodtape.db.store import Store
from tests.conftest import AUDIO, make_settings
from tests.fakes.http_server import FakeWeb


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_deezer(1109731, "Windowlicker", "Aphex Twin", preview="/audio/beat_b.mp3")
        yield server


def job_settings(tmp_path: Path, web: FakeWeb | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {"allow_private_networks": True, "demo": "never", "download_timeout_s": 5.0}
    if web is not None:
        values["deezer_api_url"] = web.url("/deezer")
    values.update(overrides)
    return make_settings(tmp_path, **values)


@pytest.fixture
async def engine(tmp_path: Path, web: FakeWeb, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engine]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    opened = await Engine.open(job_settings(tmp_path, web))
    try:
        yield opened
    finally:
        await opened.close()
    assert list(scratch.iterdir()) == []  # downloaded audio never outlives its embedding


def make_worker(engine: Engine, *, embedder: Any = None, **options: Any) -> Worker:
    """A worker on `engine` with an instrumented embedder, other batch sizes or leases."""

    async def load() -> Any:
        return embedder if embedder is not None else await engine.embedder()

    return Worker(engine.store, engine.settings, device=engine.device, embedder=load,
                  open_track=engine.links.open_track, **options)


class SimulatedCrash(BaseException):
    """Not an Exception: nothing in the code catches it, like a process being killed."""


class CountingEmbedder:
    """The real embedder, counting calls per file; optionally crashing at the n-th call or slowing down."""

    def __init__(self, inner: TrackEmbedder, *, crash_at: int | None = None, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.crash_at = crash_at
        self.delay_s = delay_s

    @property
    def versions(self) -> dict[str, str]:
        return self.inner.versions

    def embed_file(self, path: Path) -> Any:
        if self.crash_at is not None and sum(self.calls.values()) + 1 == self.crash_at:
            raise SimulatedCrash(f"killed while embedding {path}")
        self.calls[Path(path).name] += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.inner.embed_file(path)


def count_mark_ready(store: Store, counter: Counter[int]) -> None:
    original = store.mark_ready

    async def counted(track_id: int, *args: Any, **kwargs: Any) -> None:
        await original(track_id, *args, **kwargs)
        counter[track_id] += 1

    store.mark_ready = counted  # type: ignore[method-assign]


def distinct_copies(folder: Path, n: int) -> list[Path]:
    """n audio files with different content (trailing bytes after the WAV data change the hash only)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (AUDIO / "pad_a.wav").read_bytes()
    paths = []
    for i in range(n):
        path = folder / f"take_{i:02d}.wav"
        path.write_bytes(source + bytes([i + 1]) * (i + 1))
        paths.append(path)
    return paths


async def snapshot(store: Store, skip: set[int]) -> dict[str, Any]:
    tracks = [t for t in await store.list_tracks() if t.id not in skip]
    vectors = {kind: {k: (v.vector, v.model_version) for k, v in (await store.get_vectors(kind)).items()
                      if k not in skip} for kind in ("audio", "mood", "cf")}
    return {"tracks": tracks, "vectors": vectors, "playlists": await store.playlist_pairs()}


# ------------------------------------------------------------------ links through the scheduler
async def eventually(condition: Callable[[], Awaitable[bool]], failure: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)


async def link_after_first_tick(engine: Engine, handle: SchedulerHandle) -> int:
    """Wait for the scheduler's first tick, then add a link; the link's track id."""

    async def ticked() -> bool:
        return handle.ticks >= 1

    await eventually(ticked, "the first tick did not run")
    result = await engine.add_link("https://www.deezer.com/track/1109731")
    assert result.status == "pending"
    return result.track_id


async def embedded(engine: Engine, track_id: int) -> bool:
    return (await engine.store.get_track(track_id)).status != "pending"  # type: ignore[union-attr]


async def test_scheduler_turns_a_link_into_a_ready_track(engine: Engine, web: FakeWeb) -> None:
    handle = start_scheduler(engine.worker(), interval_s=3600)  # the first tick runs at once, the next in an hour...
    try:
        track_id = await link_after_first_tick(engine, handle)
        handle.wake()  # ... unless woken
        await eventually(lambda: embedded(engine, track_id), "the scheduler did not embed the link")
    finally:
        await handle.stop()
    assert (await engine.store.get_track(track_id)).status == "ready"  # type: ignore[union-attr]
    assert handle.ticks >= 1 and not handle.scheduler.running
    assert len(list_backups(engine.settings.backup_dir)) == 1  # the first tick also made the first backup
    assert not await backup_due(engine.store, engine.settings)


async def test_adding_a_link_wakes_the_scheduler_of_this_process(engine: Engine, web: FakeWeb) -> None:
    """A bot's /add calls `Engine.add_link` only; the scheduler beside it embeds the link before its next tick."""
    handle = start_scheduler(engine.worker(), interval_s=3600, on_queued=engine.on_queued)
    try:
        track_id = await link_after_first_tick(engine, handle)  # no handle.wake() here
        await eventually(lambda: embedded(engine, track_id), "adding the link did not wake the scheduler")

        async def second_round_done() -> bool:  # the round that embedded it counts itself when it ends
            return handle.ticks >= 2

        await eventually(second_round_done, "the woken round did not finish")
    finally:
        await handle.stop()
    assert engine.on_queued == []  # a stopped scheduler is no longer woken
    assert (await engine.store.get_track(track_id)).status == "ready"  # type: ignore[union-attr]


async def test_corrupt_downloads_fail_with_the_reason_and_change_nothing_else(engine: Engine, web: FakeWeb) -> None:
    await engine.add_files([AUDIO / "beat_a.ogg", AUDIO / "pad_b.mp3"])
    garbage = await engine.add_link(web.url("/audio/truncated.flac"))  # a real FLAC header, then nothing
    with pytest.raises(NotAudio, match="no audio format"):  # random bytes: refused at /add time, by sniffing
        await engine.add_link(web.url("/audio/corrupt.mp3"))
    before = await snapshot(engine.store, {garbage.track_id})
    summary = await engine.worker().tick()
    track = await engine.store.get_track(garbage.track_id)
    assert track is not None and track.status == "failed" and track.attempts == 1
    assert "truncated or corrupt" in (track.error or "") or "not an audio file" in (track.error or "")
    assert summary["jobs"][0]["failed"] == [garbage.track_id] and summary["jobs"][0]["retrying"] == []
    assert await engine.store.get_vector("audio", garbage.track_id) is None
    assert await snapshot(engine.store, {garbage.track_id}) == before


async def test_transient_failures_back_off_then_succeed(engine: Engine, web: FakeWeb) -> None:
    link = web.url("/flaky/pad_b.mp3")
    result = await engine.add_link(link)
    web.fail_next["/flaky/pad_b.mp3"] = [503, 502]
    worker = engine.worker()

    await worker.tick()
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.status == "pending" and track.attempts == 1 and "503" in (track.error or "")
    wait = datetime.strptime(track.next_attempt_at or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    delay = (wait - datetime.now(timezone.utc)).total_seconds()
    assert 50 <= delay <= 67  # first retry after ~embed_interval_s (60 s ± 10 %)

    hits = web.hits["/flaky/pad_b.mp3"]
    assert (await worker.tick())["jobs"] == []  # not due yet: nothing runs
    assert web.hits["/flaky/pad_b.mp3"] == hits

    await engine.store.set_status(result.track_id, "pending", track.error, next_attempt_at="2000-01-01T00:00:00Z")
    await worker.tick()
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.attempts == 2 and "502" in (track.error or "")
    wait = datetime.strptime(track.next_attempt_at or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert 105 <= (wait - datetime.now(timezone.utc)).total_seconds() <= 133  # doubled

    await engine.store.set_status(result.track_id, "pending", track.error, next_attempt_at="2000-01-01T00:00:00Z")
    await worker.tick()
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.status == "ready" and track.error is None


async def test_retries_stop_at_max_attempts(tmp_path: Path, web: FakeWeb) -> None:
    async with await Engine.open(job_settings(tmp_path, web, max_attempts=2)) as engine:
        result = await engine.add_link(web.url("/flaky/beat_b.mp3"))
        web.fail_next["/flaky/beat_b.mp3"] = [503] * 5
        await engine.worker().tick()
        await engine.store.set_status(result.track_id, "pending", "x", next_attempt_at="2000-01-01T00:00:00Z")
        await engine.worker().tick()
        track = await engine.store.get_track(result.track_id)
        assert track is not None and track.status == "failed" and "gave up after 2 attempts" in (track.error or "")


async def test_permanent_errors_fail_at_once(engine: Engine, web: FakeWeb) -> None:
    result = await engine.add_link(web.url("/flaky/pad_a.ogg"))
    web.fail_next["/flaky/pad_a.ogg"] = [404] * 5
    hits = web.hits["/flaky/pad_a.ogg"]
    await engine.worker().tick()
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.status == "failed" and "404" in (track.error or "")
    assert track.attempts == 1 and web.hits["/flaky/pad_a.ogg"] == hits + 1  # asked once, not retried


# ------------------------------------------------------------------ crashes
async def test_a_crash_mid_batch_then_restart_completes_the_batch_once(tmp_path: Path) -> None:
    settings = job_settings(tmp_path)
    files = distinct_copies(tmp_path / "music", 6)
    ready_calls: Counter[int] = Counter()
    async with await Engine.open(settings) as first:
        await first.add_files(files, embed=False)
        crashing = CountingEmbedder(await first.embedder(), crash_at=4)
        count_mark_ready(first.store, ready_calls)
        worker = make_worker(first, embedder=crashing, concurrency=1, batch_size=6, lease_s=1)
        with pytest.raises(SimulatedCrash):
            await worker.tick()
        assert sum(ready_calls.values()) == 3
        running = await first.store.jobs("running")
        assert [j.kind for j in running] == [EMBED]  # the dead worker's job is left as it was

    async with await Engine.open(settings) as second:  # "restart": a new process on the same database
        counting = CountingEmbedder(await second.embedder())
        count_mark_ready(second.store, ready_calls)
        patient = make_worker(second, embedder=counting, concurrency=1, lease_s=600)
        early = await patient.tick()
        assert [j for j in early["jobs"] if j["kind"] == EMBED] == []  # the dead worker's lease still holds
        assert await second.store.count_tracks("pending") == 3
        await asyncio.sleep(2.2)  # with a 1 s lease, the dead worker's has run out: requeued, run once
        late = await make_worker(second, embedder=counting, concurrency=1, lease_s=1).tick()
        assert late["recovered"] == [running[0].id]
        assert await second.store.count_tracks("ready") == 6
        assert set(ready_calls) == {t.id for t in await second.store.list_tracks()}
        assert all(n == 1 for n in ready_calls.values())  # every track flipped to ready exactly once
        assert sum(counting.calls.values()) == 3  # only the unfinished tracks were embedded again
        assert sum((await second.store.vector_versions("audio")).values()) == 6
        assert [j.id for j in await second.store.jobs("done") if j.kind == EMBED] == [running[0].id]


async def test_a_cancelled_batch_gives_its_job_back_and_a_restart_finishes_it(tmp_path: Path) -> None:
    settings = job_settings(tmp_path)
    files = distinct_copies(tmp_path / "music", 6)
    ready_calls: Counter[int] = Counter()
    async with await Engine.open(settings) as engine:
        await engine.add_files(files, embed=False)
        count_mark_ready(engine.store, ready_calls)
        slow = CountingEmbedder(await engine.embedder(), delay_s=0.3)
        task = asyncio.create_task(make_worker(engine, embedder=slow, concurrency=1, batch_size=6).tick())
        while sum(ready_calls.values()) < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # the thread that was embedding finishes; its result must be dropped
        queued = [j for j in await engine.store.jobs("queued") if j.kind == EMBED]
        assert len(queued) == 1 and "interrupted" in (queued[0].last_error or "")
        done_before = sum(ready_calls.values())
        assert 2 <= done_before < 6
        summary = await make_worker(engine, concurrency=2).tick()
        embedded = next(job for job in summary["jobs"] if job["kind"] == EMBED)
        assert embedded["id"] == queued[0].id and len(embedded["ready"]) == 6 - done_before
        assert await engine.store.count_tracks("ready") == 6 and all(n == 1 for n in ready_calls.values())


async def test_two_workers_never_run_the_same_job(tmp_path: Path) -> None:
    settings = job_settings(tmp_path)
    async with await Engine.open(settings) as one, await Engine.open(settings) as two:
        ids = [await one.store.enqueue_job(BACKUP, {"n": i}) for i in range(12)]
        ran: list[tuple[int, str]] = []
        active: set[int] = set()

        def instrument(worker: Worker) -> Worker:
            async def fake_backup(job: Any) -> dict[str, Any]:
                assert job.id not in active, "a job ran twice at once"
                active.add(job.id)
                ran.append((job.id, worker.id))
                await asyncio.sleep(0.02)
                active.discard(job.id)
                return {}

            worker._backup = fake_backup  # type: ignore[method-assign]
            return worker

        w1, w2 = instrument(one.worker()), instrument(two.worker())
        await asyncio.gather(w1.run_pending((BACKUP,)), w2.run_pending((BACKUP,)))
        assert sorted(job_id for job_id, _ in ran) == sorted(ids)  # each job exactly once
        assert {worker for _, worker in ran} == {w1.id, w2.id}  # and both workers took part
        assert await one.store.jobs("queued") == [] and await one.store.jobs("running") == []


async def test_only_dead_workers_lose_their_jobs(tmp_path: Path) -> None:
    async with await Engine.open(job_settings(tmp_path)) as engine:
        store = engine.store
        # the worker first: building it may load torch (seconds), which must not eat the 1 s leases below
        worker = make_worker(engine, lease_s=1)
        for _ in range(3):
            await store.enqueue_job(BACKUP, unique=False)
        dead_here = await store.claim_job([BACKUP], f"{machine_prefix()}999999/dead")  # no such process
        alive_elsewhere = await store.claim_job([BACKUP], "other-host/pid[1]/123/live")
        alive_here = await store.claim_job([BACKUP], f"{machine_prefix()}1/init")  # pid 1 always exists
        assert await worker.recover() == [dead_here.id]  # type: ignore[union-attr]
        await asyncio.sleep(2.2)  # now the others' leases are stale too (nobody renewed them)
        assert sorted(await worker.recover()) == sorted([alive_elsewhere.id, alive_here.id])  # type: ignore[union-attr]


# ------------------------------------------------------------------ re-embedding
async def test_vectors_of_an_older_model_are_re_embedded(engine: Engine, web: FakeWeb) -> None:
    """A new model is simulated by stamping the stored vectors with an older version string."""
    await engine.add_files([AUDIO / "beat_a.ogg", AUDIO / "pad_b.mp3"])
    link = await engine.add_link(web.url("/flaky/beat_b.mp3"))
    await engine.embed_pending()
    versions = (await engine.embedder()).versions
    for track in await engine.store.list_tracks(status="ready"):
        stored = await engine.store.get_vector("audio", track.id)
        await engine.store.put_vector("audio", track.id, stored.vector, "hand-v0-older")  # type: ignore[union-attr]
    web.fail_next["/flaky/beat_b.mp3"] = [503]  # the link's audio is unreachable for now
    counting = CountingEmbedder(await engine.embedder())
    summary = await make_worker(engine, embedder=counting).tick()
    reembed = next(job for job in summary["jobs"] if job["kind"] == "reembed")
    assert len(reembed["ready"]) == 2 and reembed["postponed"] == [link.track_id]
    assert (await engine.store.get_track(link.track_id)).status == "ready"  # type: ignore[union-attr]
    assert await engine.store.vector_versions("audio") == {versions["audio"]: 2, "hand-v0-older": 1}
    summary = await make_worker(engine, embedder=counting).tick()  # the link is reachable again
    assert await engine.store.vector_versions("audio") == {versions["audio"]: 3}
    assert counting.calls["beat_a.ogg"] == 1 and counting.calls["pad_b.mp3"] == 1


# ------------------------------------------------------------------ backups
async def test_backups_are_consistent_copies_with_retention(tmp_path: Path) -> None:
    settings = job_settings(tmp_path, backup_keep=2)
    async with await Store.open(settings.db_path) as store, await Store.open(settings.db_path) as writer:
        from moodtape.db.models import NewTrack

        stop = asyncio.Event()

        async def keep_writing() -> int:
            n = 0
            while not stop.is_set():
                await writer.add_track(NewTrack(title=f"t{n}", source_kind="catalogue", external_id=f"x:{n}",
                                                status="metadata_only"))
                n += 1
                await asyncio.sleep(0)
            return n

        task = asyncio.create_task(keep_writing())
        made = []
        for _ in range(4):
            await asyncio.sleep(0.05)
            made.append(await backup_database(store, settings))
        stop.set()
        total = await task

    kept = list_backups(settings.backup_dir)
    assert kept == made[-2:] and not any(p.name.endswith(".partial") for p in settings.backup_dir.iterdir())
    counts = []
    for path in kept:
        conn = connector(path, pick_driver())()
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            titles = [row[0] for row in conn.execute("SELECT title FROM tracks ORDER BY id")]
        finally:
            conn.close()
        assert titles == [f"t{i}" for i in range(len(titles))]  # a prefix of the writes: no torn state
        counts.append(len(titles))
    assert 0 < counts[0] <= counts[1] <= total


async def test_a_backup_is_due_once_per_interval(tmp_path: Path) -> None:
    settings = job_settings(tmp_path, backup_interval_h=1)
    async with await Store.open(settings.db_path) as store:
        assert await backup_due(store, settings)
        await backup_database(store, settings)
        assert not await backup_due(store, settings)
        await store.set_meta("last_backup_at", "2000-01-01T00:00:00Z")
        assert await backup_due(store, settings)


# ------------------------------------------------------------------ device and batching
async def test_batch_size_follows_the_device(tmp_path: Path) -> None:
    assert default_batch_size("cuda") > default_batch_size("cpu")
    async with await Engine.open(job_settings(tmp_path, device="cpu")) as engine:
        assert engine.device == "cpu" and engine.worker().batch_size == default_batch_size("cpu")
    async with await Engine.open(job_settings(tmp_path, device="cpu", embed_batch_size=3)) as engine:
        assert engine.worker().batch_size == 3


async def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    settings = job_settings(tmp_path)
    files = distinct_copies(tmp_path / "music", 2)
    async with await Engine.open(settings) as engine:
        await engine.add_files(files, embed=False)
        await engine.store.enqueue_job(EMBED)
    async with await Engine.open(settings) as engine:
        assert [j.kind for j in await engine.store.jobs("queued")] == [EMBED]
        summary = await engine.worker().tick()
        assert summary["jobs"][0]["kind"] == EMBED and len(summary["jobs"][0]["ready"]) == 2


async def test_collaborative_vectors_are_refreshed_when_playlists_or_votes_change(tmp_path: Path) -> None:
    from moodtape.core.cf.state import load_state
    from moodtape.core.pipeline.cf_due import cf_refresh_due
    from moodtape.core.pipeline.worker import CF_REFRESH
    from tests.core.cf.store_data import import_genres

    settings = job_settings(tmp_path, cf_refresh_interval_h=1.0)
    async with await Engine.open(settings) as engine:
        worker = engine.worker()
        assert not await cf_refresh_due(engine.store, settings)  # nothing to learn from yet
        ids = await import_genres(engine.store, tmp_path)
        summary = await worker.tick()
        assert CF_REFRESH in summary["queued"]
        refreshed = [j for j in summary["jobs"] if j["kind"] == CF_REFRESH]
        assert refreshed and refreshed[0]["status"] == "done"
        state = await load_state(engine.store)
        assert state is not None and sum((await engine.store.vector_versions("cf")).values()) >= len(ids) - 2
        assert CF_REFRESH not in (await worker.tick())["queued"]  # nothing changed
        await engine.store.add_feedback(ids["Song A1"], "tg:1", 1)
        assert not await cf_refresh_due(engine.store, settings)  # a vote, but refreshed under an hour ago
    async with await Engine.open(job_settings(tmp_path, cf_refresh_interval_h=1e-9)) as engine:
        assert CF_REFRESH in (await engine.worker().tick())["queued"]  # the vote is folded in next time
