"""The store against real databases: schema, dedupe, KNN, atomic changes, jobs and leases, backups.

Every test that takes `store` runs twice: on a SQLite file (sqlite-vec) and on PostgreSQL + pgvector (a
real server, see tests/pg_server.py), so both stores are held to the same answers.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import pytest
from moodtape.db.connect import ExtensionUnavailable, connector, pick_driver
from moodtape.db.models import NewTrack
from moodtape.db.pg.store import PG_DUMP_ENV, PgStore
from moodtape.db.store import Store, StoreError

from tests.conftest import AnyStore, any_store
from tests.pg_server import PgServer

store = any_store  # every test in this module runs on a SQLite file and on PostgreSQL


def unit(v: list[float], dim: int = 128) -> np.ndarray:
    x = np.zeros(dim, dtype=np.float32)
    x[: len(v)] = v
    return x / np.linalg.norm(x)


async def test_open_applies_migrations_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "m.db"
    store = await Store.open(path)
    try:
        assert path.exists()
        assert await store.schema_version() >= 1
        mode = await store._fetchone("PRAGMA journal_mode")
        assert mode[0].lower() == "wal"
        version = await store._fetchone("SELECT vec_version()")
        assert version[0].startswith("v")
    finally:
        await store.close()
    again = await Store.open(path)  # re-opening applies nothing new and keeps data
    await again.close()


async def test_open_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        await Store.open(tmp_path)


def test_driver_can_load_extensions() -> None:
    driver = pick_driver()
    assert hasattr(driver.module.Connection, "enable_load_extension")


async def test_add_track_dedupes_by_hash_and_external_id(store: AnyStore) -> None:
    first, created = await store.add_track(NewTrack(title="A", source_kind="file", content_hash="h1"))
    again, created_again = await store.add_track(NewTrack(title="A copy", source_kind="file", content_hash="h1"))
    assert created and not created_again and first == again
    ext, _ = await store.add_track(NewTrack(title="B", source_kind="url", external_id="deezer:1"))
    ext2, created2 = await store.add_track(NewTrack(title="B", source_kind="url", external_id="deezer:1"))
    assert ext == ext2 and not created2
    assert await store.count_tracks() == 2


async def test_knn_orders_by_cosine_and_filters_version(store: AnyStore) -> None:
    ids = []
    for i, vec in enumerate([[1, 0], [1, 0.1], [0, 1], [-1, 0]]):
        tid, _ = await store.add_track(NewTrack(title=f"t{i}", source_kind="file", content_hash=f"h{i}"))
        await store.mark_ready(tid, {"audio": (unit(vec), "v1" if i < 3 else "v2")})
        ids.append(tid)
    hits = await store.knn("audio", unit([1, 0]), 3, model_version="v1")
    assert [h.track_id for h in hits] == [ids[0], ids[1], ids[2]]
    assert hits[0].distance == pytest.approx(0.0, abs=1e-6)
    assert hits[2].distance == pytest.approx(1.0, abs=1e-6)
    excluded = await store.knn("audio", unit([1, 0]), 2, model_version="v1", exclude={ids[0]})
    assert [h.track_id for h in excluded] == [ids[1], ids[2]]
    assert await store.vector_versions("audio") == {"v1": 3, "v2": 1}
    # every hit says which version matched: `similar` knows the answer needs no filtered search
    unfiltered = await store.knn("audio", unit([-1, 0]), 4)
    assert [(h.track_id, h.model_version) for h in unfiltered][:1] == [(ids[3], "v2")]
    assert {h.model_version for h in unfiltered[1:]} == {"v1"}


async def test_tracks_with_moods_and_an_exact_search_on_request(store: AnyStore) -> None:
    ids = []
    for i, vec in enumerate([[1, 0], [1, 0.2], [0, 1]]):
        tid, _ = await store.add_track(NewTrack(title=f"t{i}", source_kind="file", content_hash=f"h{i}"))
        moods = {"mood": ([0.1 * i, -0.5], "m1")} if i != 1 else {}  # the second track has no mood
        await store.mark_ready(tid, {"audio": (unit(vec), "v1"), **moods},
                               details={"mood": {"top_tags": [f"tag{i}"]}})
        ids.append(tid)
    tracks, moods = await store.tracks_with_moods([ids[2], ids[0], ids[1], 999_999])
    assert sorted(tracks) == sorted(ids) and tracks[ids[2]].title == "t2"
    assert sorted(moods) == [ids[0], ids[2]]
    assert moods[ids[2]].vector == pytest.approx([0.2, -0.5]) and moods[ids[2]].details == {"top_tags": ["tag2"]}
    assert await store.tracks_with_moods([]) == ({}, {})
    exact = await store.knn("audio", unit([1, 0.1]), 2, exclude={ids[0]}, exact=True)
    assert [h.track_id for h in exact] == [ids[1], ids[2]]
    stored = await store.knn("audio", unit([1, 0]), 1, exclude={ids[0]}, stored_query=True)
    assert [h.track_id for h in stored] == [ids[1]]


async def test_wrong_dimension_is_refused(store: AnyStore) -> None:
    tid, _ = await store.add_track(NewTrack(title="t", source_kind="file", content_hash="x"))
    with pytest.raises(ValueError, match="128 dimensions"):
        await store.mark_ready(tid, {"audio": (np.ones(5), "v1")})
    track = await store.get_track(tid)
    assert track is not None and track.status == "pending"


async def test_mark_ready_is_all_or_nothing(store: AnyStore) -> None:
    tid, _ = await store.add_track(NewTrack(title="t", source_kind="file", content_hash="x"))
    with pytest.raises(ValueError):
        await store.mark_ready(tid, {"audio": (unit([1]), "v1"), "mood": ([float("nan"), 0.0], "m1")})
    assert await store.get_vector("audio", tid) is None  # the audio row was rolled back too
    assert (await store.get_track(tid)).status == "pending"  # type: ignore[union-attr]


async def test_failing_a_track_drops_its_vectors(store: AnyStore) -> None:
    tid, _ = await store.add_track(NewTrack(title="t", source_kind="file", content_hash="x"))
    await store.mark_ready(tid, {"audio": (unit([1]), "v1"), "mood": ([0.5, -0.2], "m1")},
                           details={"mood": {"gems": {"calmness": 0.7}}})
    mood = await store.get_vector("mood", tid)
    assert mood is not None and mood.details["gems"]["calmness"] == 0.7
    await store.set_status(tid, "failed", "file vanished", count_attempt=True)
    track = await store.get_track(tid)
    assert track is not None and track.status == "failed" and track.error == "file vanished" and track.attempts == 1
    assert await store.get_vector("audio", tid) is None and await store.get_vector("mood", tid) is None


async def test_search_prefers_exact_titles(store: AnyStore) -> None:
    await store.add_track(NewTrack(title="Blue Monday Remix", artist="X", source_kind="file", content_hash="1"))
    exact, _ = await store.add_track(NewTrack(title="Blue Monday", artist="New Order", source_kind="file",
                                              content_hash="2"))
    found = await store.search_tracks("new order - blue monday")
    assert found[0].id == exact
    assert [t.id for t in await store.search_tracks("blue monday")][0] == exact
    assert await store.search_tracks("100%_") == []  # LIKE wildcards are escaped


async def test_jobs_are_claimed_once(store: AnyStore) -> None:
    job_id = await store.enqueue_job("embed", {"batch": 1})
    assert await store.enqueue_job("embed", {"batch": 1}) is None  # same job already queued
    claims = await asyncio.gather(*(store.claim_job(["embed"], f"w{i}") for i in range(4)))
    taken = [c for c in claims if c is not None]
    assert len(taken) == 1 and taken[0].id == job_id and taken[0].status == "running"
    await store.finish_job(job_id, error="boom", retry_after_s=0)
    again = await store.claim_job(["embed"], "w9")
    assert again is not None and again.attempts == 2 and again.last_error == "boom"
    await store.finish_job(job_id)
    assert (await store.jobs(status="done"))[0].id == job_id


async def test_feedback_upserts(store: AnyStore) -> None:
    tid, _ = await store.add_track(NewTrack(title="t", source_kind="file", content_hash="x"))
    await store.add_feedback(tid, "tg:1", 1, {"mood": "sad"})
    await store.add_feedback(tid, "tg:1", -1, {"mood": "sad"})
    await store.add_feedback(tid, "tg:2", 1, {"mood": "sad"})
    assert sorted(await store.feedback()) == [(tid, "tg:1", -1), (tid, "tg:2", 1)]
    with pytest.raises(ValueError):
        await store.add_feedback(tid, "tg:1", 5)


async def test_backup_is_a_usable_copy(store: AnyStore, tmp_path: Path, request: pytest.FixtureRequest,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tid, _ = await store.add_track(NewTrack(title="kept", source_kind="file", content_hash="x"))
    await store.mark_ready(tid, {"audio": (unit([1]), "v1")})
    target = tmp_path / "backups" / f"copy{store.backup_suffix}"
    if isinstance(store, PgStore):  # pg_dump of the server's version: the one that came with it, or PATH's
        server: PgServer = request.getfixturevalue("pg_server")
        monkeypatch.setenv(PG_DUMP_ENV, server.tool("pg_dump") or "pg_dump")
    await store.backup_to(target)
    if isinstance(store, PgStore):  # restore the archive into an empty database, as a person would
        restored = server.fresh_database()
        subprocess.run([server.tool("pg_restore") or "pg_restore", "--no-owner", f"--dbname={restored}",
                        str(target)], check=True, capture_output=True)
        copy: AnyStore = await PgStore.open(restored)
    else:
        copy = await Store.open(target)
    try:
        assert (await copy.get_track(tid)).title == "kept"  # type: ignore[union-attr]
        assert len(await copy.knn("audio", unit([1]), 1)) == 1
    finally:
        await copy.close()


async def test_playlists_bulk_and_reimport(store: AnyStore) -> None:
    a, _ = await store.add_track(NewTrack(title="a", source_kind="catalogue", external_id="e:a"))
    b, _ = await store.add_track(NewTrack(title="b", source_kind="catalogue", external_id="e:b"))
    added, skipped = await store.add_playlists_bulk([("mix", "mpd", "1", None, [b, a, b])])
    assert (added, skipped) == (1, 0)
    assert await store.add_playlists_bulk([("mix", "mpd", "1", None, [a])]) == (0, 1)
    assert await store.playlist_pairs() == [(1, b), (1, a), (1, b)]


async def test_a_newer_schema_is_refused_as_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    await (await Store.open(path)).close()
    conn = connector(path, pick_driver())()
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer than this Moodtape"):
        await Store.open(path)
    with pytest.raises(StoreError, match="does not exist"):
        await Store.open(tmp_path / "missing.db", create=False)


def test_extension_unavailable_is_a_store_error() -> None:
    assert issubclass(ExtensionUnavailable, StoreError)


async def test_list_tracks_filters_ids_in_sql(store: AnyStore) -> None:
    ids = [(await store.add_track(NewTrack(title=f"t{i}", source_kind="file", content_hash=f"h{i}")))[0]
           for i in range(5)]
    await store.set_status(ids[1], "failed", "gone")
    wanted = {ids[4], ids[1], ids[0], 10_000}
    assert [t.id for t in await store.list_tracks(status="pending", ids=wanted)] == [ids[0], ids[4]]
    assert [t.id for t in await store.list_tracks(ids=wanted, limit=2)] == [ids[0], ids[1]]
    assert await store.list_tracks(ids=[]) == []
    assert len(await store.list_tracks(status="pending")) == 4


async def test_leases_renew_release_and_requeue(store: AnyStore) -> None:
    first = await store.enqueue_job("embed", {"batch": 1})
    second = await store.enqueue_job("embed", {"batch": 2})
    assert (await store.claim_job(["embed"], "host:1:a")).id == first  # type: ignore[union-attr]
    assert (await store.claim_job(["embed"], "host:2:b")).id == second  # type: ignore[union-attr]
    assert await store.renew_lease(first, "host:1:a") and not await store.renew_lease(first, "host:2:b")
    assert await store.requeue_dead_jobs("host:", lambda owner: owner == "host:2:b") == [second]
    assert not await store.release_job(second, "host:2:b", "stopping")  # no longer running: not its job
    assert await store.release_job(first, "host:1:a", "stopping")
    assert {job.id: job.last_error for job in await store.jobs(status="queued")} == {
        first: "stopping", second: "requeued: its worker process died"}
    again = await store.claim_job(["embed"], "host:3:c")
    assert again is not None and await store.requeue_expired_jobs(3600) == []
    await asyncio.sleep(1.1)
    assert await store.requeue_expired_jobs(1) == [again.id]


async def test_backlog_counts_waiting_and_failed_tracks_in_sql(store: AnyStore) -> None:
    """`moodtape jobs` reads these: due, waiting for a retry, and failed tracks, without loading every row."""
    ids = [(await store.add_track(NewTrack(title=f"t{i}", source_kind="file", source=f"/m/{i}.mp3",
                                           content_hash=f"h{i}")))[0] for i in range(5)]
    await store.set_status(ids[1], "pending", "503", next_attempt_at="2999-01-01T00:00:00Z", count_attempt=True)
    await store.set_status(ids[2], "pending", "503", next_attempt_at="2000-01-01T00:00:00Z", count_attempt=True)
    await store.set_status(ids[3], "failed", "not audio")
    await store.set_status(ids[4], "failed", "empty file")
    assert await store.backlog() == (3, 2, 2)  # pending, of those due now, failed
    assert [t.id for t in await store.waiting_tracks(10)] == [ids[1]]
    assert [t.id for t in await store.latest_failed(1)] == [ids[4]]
    assert [t.id for t in await store.latest_failed(10)] == [ids[3], ids[4]]
