"""Approximate search on large catalogues: the HNSW index answers like the exact scan, follows every write
(also another connection's), survives restarts, rebuilds from a broken or stale file, and is reported."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from moodtape.db.connect import connector, pick_driver
from moodtape.db.models import NewTrack
from moodtape.db.store import Store
from moodtape.db.usearch_index import Index, f32_rows

N = 3000
DIM = 128


def clustered(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    data = centres[rng.integers(0, 40, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def exact_ids(data: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    ids = np.array(list(data))
    sims = np.stack(list(data.values())) @ query
    return ids[np.argsort(-sims, kind="stable")[:k]].tolist()


async def open_store(path: Path | str, min_tracks: int = 1000) -> Store:
    store = await Store.open(path, ann_min_tracks=min_tracks)
    store.ann.poll_s = 0.0  # tests look at other connections' writes at once
    return store


async def ready(store: Store, kind: str = "audio") -> None:
    probe = np.ones(DIM if kind == "audio" else 2, dtype=np.float32)
    await store.knn(kind, probe / np.linalg.norm(probe), 1)  # the first search over the threshold starts it
    assert await store.ann.wait(kind) == "ready"


@pytest.fixture
def data() -> dict[int, np.ndarray]:
    return {i + 1: v for i, v in enumerate(clustered(N))}


async def filled(path: Path | str, data: dict[int, np.ndarray], min_tracks: int = 1000) -> Store:
    store = await open_store(path, min_tracks)
    await store.put_vectors("audio", data.items(), "v1")
    return store


async def test_ann_answers_like_the_exact_search(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    store = await filled(tmp_path / "a.db", data)
    try:
        await ready(store)
        queries = clustered(30, seed=1)
        recalls = []
        for q in queries:
            hits = await store.knn("audio", q, 10)
            want = exact_ids(data, q, 10)
            recalls.append(len({h.track_id for h in hits} & set(want)) / 10)
            for h in hits:  # the table's cosine distance, as sqlite-vec reports it
                assert h.distance == pytest.approx(1.0 - float(data[h.track_id] @ q), abs=1e-5)
            assert [h.distance for h in hits] == sorted(h.distance for h in hits)
        assert np.mean(recalls) >= 0.97
    finally:
        await store.close()


async def test_below_the_threshold_the_exact_scan_answers(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    store = await filled(tmp_path / "a.db", data, min_tracks=N + 1)
    try:
        q = clustered(1, seed=2)[0]
        hits = await store.knn("audio", q, 10)
        assert [h.track_id for h in hits] == exact_ids(data, q, 10)
        assert store.ann.state("audio") == "off"
        assert await store.ann.wait("audio") == "off"
    finally:
        await store.close()


async def test_excluded_ids_and_versions(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    store = await filled(tmp_path / "a.db", data)
    try:
        newer = {i: v for i, v in data.items() if i % 3 == 0}
        await store.put_vectors("audio", newer.items(), "v2")
        await ready(store)
        q = data[3]
        top = [h.track_id for h in await store.knn("audio", q, 10)]
        assert top[0] == 3
        excluded = set(top[:5])
        hits = await store.knn("audio", q, 10, exclude=excluded)
        assert len(hits) == 10 and not excluded & {h.track_id for h in hits}
        v2 = await store.knn("audio", q, 10, model_version="v2")
        assert v2 and all(h.track_id % 3 == 0 for h in v2)
        # the index says which version each hit is of, as the exact scan does
        for hits in (await store.knn("audio", q, 30), await store.knn("audio", q, 30, exact=True)):
            assert [h.model_version for h in hits] == ["v2" if h.track_id % 3 == 0 else "v1" for h in hits]
            assert {h.model_version for h in hits} == {"v1", "v2"}
        v1 = await store.knn("audio", q, 10, model_version="v1")
        assert v1 and all(h.track_id % 3 != 0 for h in v1)
        assert await store.knn("audio", q, 10, model_version="v9") == []
    finally:
        await store.close()


async def test_writes_of_another_connection_are_followed(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    path = tmp_path / "a.db"
    serving = await filled(path, data)
    worker = await open_store(path, min_tracks=10**9)  # another process: writes only
    try:
        track_id, _ = await worker.add_track(NewTrack("gone", "file", status="ready"))
        await worker.put_vector("audio", track_id, data[1], "v1")
        await ready(serving)
        q = data[1]
        assert track_id in {h.track_id for h in await serving.knn("audio", q, 5)}
        await worker.set_status(track_id, "failed", "broken")  # deletes its audio vector
        assert track_id not in {h.track_id for h in await serving.knn("audio", q, 5)}
        away = -q  # re-embedding track 2 far away moves it out of q's neighbourhood and next to -q
        assert 2 in {h.track_id for h in await serving.knn("audio", data[2], 3)}
        await worker.put_vector("audio", 2, away, "v1")
        hits = await serving.knn("audio", away, 1)
        assert hits[0].track_id == 2 and hits[0].distance == pytest.approx(0.0, abs=1e-5)
        many = {N + 10 + i: v for i, v in enumerate(clustered(400, seed=5))}  # > inline: background catch-up
        await worker.put_vectors("audio", many.items(), "v1")
        await serving.knn("audio", q, 1)
        assert await serving.ann.wait("audio") == "ready"
        first = next(iter(many))
        assert (await serving.knn("audio", many[first], 1))[0].track_id == first
    finally:
        await worker.close()
        await serving.close()


async def test_saved_index_is_restored_and_caught_up(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    path = tmp_path / "a.db"
    store = await filled(path, data)
    await ready(store)
    await store.close()
    assert list((tmp_path / "a.db.ann").glob("audio-*.usearch"))
    writer = await open_store(path, min_tracks=10**9)
    await writer.put_vector("audio", 7, -data[7], "v1")  # while the index was on disk
    await writer.close()
    again = await open_store(path)
    try:
        await ready(again)
        hit = (await again.knn("audio", -data[7], 1))[0]
        assert hit.track_id == 7 and hit.distance == pytest.approx(0.0, abs=1e-5)
        stats = (await again.stats())["ann"]
        (audio,) = [i for i in stats["indexes"] if i["kind"] == "audio"]
        assert audio["vectors"] == N and audio["state"] == "ready" and audio["version"] == "v1"
        assert audio["bytes_memory"] > N * DIM * 4 and audio["bytes_disk"] > N * DIM * 4
        assert stats["min_tracks"] == 1000
    finally:
        await again.close()


async def test_corrupt_or_stale_files_are_rebuilt(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    path = tmp_path / "a.db"
    store = await filled(path, data)
    await ready(store)
    await store.close()
    (file,) = (tmp_path / "a.db.ann").glob("audio-*.usearch")
    file.write_bytes(b"not an index")
    store = await open_store(path)
    try:
        await ready(store)
        assert (await store.knn("audio", data[5], 1))[0].track_id == 5
    finally:
        await store.close()
    # A write that bypassed the log (e.g. a backup restored over the file): the counts disagree, so rebuild.
    raw = connector(path, pick_driver(), isolation_level=None)()
    raw.execute("DELETE FROM vec_audio WHERE track_id = 5")
    raw.close()
    store = await open_store(path)
    try:
        await ready(store)
        assert 5 not in {h.track_id for h in await store.knn("audio", data[5], 5)}
        assert (await store.stats())["ann"]["indexes"][0]["vectors"] == N - 1
    finally:
        await store.close()


async def test_mood_distances_are_euclidean_in_memory_too() -> None:
    store = await open_store(":memory:", min_tracks=50)
    try:
        points = np.random.default_rng(3).uniform(-1, 1, (200, 2)).astype(np.float32)
        for i, p in enumerate(points, start=1):
            await store.put_vector("mood", i, p, "m1", {"gems": {}})
        await ready(store, "mood")
        hits = await store.knn("mood", [0.1, 0.2], 5)
        want = np.linalg.norm(points - np.array([0.1, 0.2], dtype=np.float32), axis=1)
        assert [h.track_id for h in hits] == (np.argsort(want)[:5] + 1).tolist()
        assert [h.distance for h in hits] == pytest.approx(np.sort(want)[:5].tolist(), abs=1e-5)
        assert store.ann.stats()["folder"] is None
    finally:
        await store.close()


def test_index_rows_are_read_the_same_with_or_without_the_compiled_lookup() -> None:
    """`f32_rows` takes usearch's compiled lookup when it is there and the public `get` otherwise; both give
    each key's vector in order and None for a key the index lacks."""
    index = Index(ndim=4, metric="cos", dtype="f32")
    vectors = np.random.default_rng(4).standard_normal((2, 4)).astype(np.float32)
    index.add(np.array([1, 2], dtype=np.uint64), vectors)
    keys = np.array([2, 9, 1], dtype=np.uint64)

    class PublicOnly:  # an Index as a future usearch might shape it: no `_compiled`
        get = staticmethod(index.get)

    for rows in (f32_rows(index, keys), f32_rows(PublicOnly(), keys)):  # type: ignore[arg-type]
        assert rows[1] is None
        np.testing.assert_array_equal(rows[0], vectors[1])
        np.testing.assert_array_equal(rows[2], vectors[0])


async def test_a_query_with_nan_is_refused_before_any_search(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    store = await filled(tmp_path / "a.db", data)
    try:
        await ready(store)
        broken = np.array(data[1], dtype=np.float32)
        broken[3] = np.nan
        with pytest.raises(ValueError, match="NaN or infinite"):
            await store.knn("audio", broken, 5)
        with pytest.raises(ValueError, match="dimensions"):
            await store.knn("audio", broken[:10], 5, stored_query=True)
    finally:
        await store.close()


async def test_vectors_read_through_the_index_are_the_tables(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    """A large catalogue's vector reads come from the ready index (no vec0 chunk reads) and say exactly
    what the table says: the vector, its version, a mood's details; this connection's writes at once."""
    store = await filled(tmp_path / "a.db", data)
    worker = await open_store(tmp_path / "a.db", min_tracks=10**9)  # a second connection reads the table only
    try:
        rng = np.random.default_rng(5)
        for i in range(1, N + 1):
            await store.put_vector("mood", i, rng.uniform(-1, 1, 2), "m1", {"top_tags": [f"tag{i}"]})
        await ready(store, "audio")
        await ready(store, "mood")
        ids = [1, 17, 2999, N + 50]  # the last has no vectors
        assert await store.ann.vectors("audio", ids) is not None  # the index answers these reads
        for kind in ("audio", "mood"):
            through_index = await store.get_vectors(kind, ids)
            from_table = await worker.get_vectors(kind, ids)
            assert set(through_index) == set(from_table) == {1, 17, 2999}
            for track_id, stored in from_table.items():
                got = through_index[track_id]
                assert got.vector == stored.vector and got.model_version == stored.model_version
                assert got.details == stored.details
                for reader in (store, worker):  # the array a search by this track starts from, both ways
                    array, version = await reader.vector_array(kind, track_id)
                    assert array.dtype == np.float32 and array.tolist() == stored.vector
                    assert version == stored.model_version
            assert await store.vector_array(kind, N + 50) is None and await worker.vector_array(kind, N + 50) is None
        assert (await store.get_vector("mood", 17)).details == {"top_tags": ["tag17"]}
        for i in (1, 17):  # rows for two of the tracks: a reply's details are read in one statement
            await store.add_track(NewTrack(id=i, title=f"song {i}", source_kind="file", content_hash=f"h{i}"))
        tracks, moods = await store.tracks_with_moods(ids)
        assert sorted(tracks) == sorted(moods) == [1, 17]
        assert moods[17] == (await worker.get_vectors("mood", [17]))[17]

        await store.put_vector("audio", 17, -data[17], "v2")
        await store.put_vector("mood", 17, [0.5, -0.5], "m2", {"top_tags": ["new"]})
        await store.set_status(2999, "failed", "gone")  # a track that stops being ready loses its vectors
        changed = await store.get_vectors("audio", [17, 2999])
        assert list(changed) == [17] and changed[17].model_version == "v2"
        assert changed[17].vector == pytest.approx((-data[17]).tolist())
        array, version = await store.vector_array("audio", 17)  # this connection's write, at once
        assert version == "v2" and array.tolist() == changed[17].vector
        mood = await store.get_vector("mood", 17)
        assert (mood.vector, mood.model_version, mood.details) == ([0.5, -0.5], "m2", {"top_tags": ["new"]})
    finally:
        await worker.close()
        await store.close()


async def test_an_exact_search_can_be_asked_for_over_a_ready_index(tmp_path: Path,
                                                                   data: dict[int, np.ndarray]) -> None:
    store = await filled(tmp_path / "a.db", data)
    try:
        await ready(store)
        for q in clustered(5, seed=4):
            hits = await store.knn("audio", q, 10, exact=True, exclude={exact_ids(data, q, 1)[0]})
            assert [h.track_id for h in hits] == exact_ids(data, q, 11)[1:]
    finally:
        await store.close()


async def test_a_new_model_version_replaces_the_old_one(tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    serving = await filled(tmp_path / "a.db", data)
    worker = await open_store(tmp_path / "a.db", min_tracks=10**9)
    try:
        await ready(serving)
        moved = {i: -v for i, v in data.items()}  # e.g. a CF refresh: every vector, a new version
        await worker.put_vectors("audio", moved.items(), "v2")
        await serving.knn("audio", data[1], 1)
        assert await serving.ann.wait("audio") == "ready"
        assert await serving.knn("audio", data[1], 3, model_version="v1") == []
        hit = (await serving.knn("audio", -data[1], 1, model_version="v2"))[0]
        assert hit.track_id == 1 and hit.distance == pytest.approx(0.0, abs=1e-5)
        (audio,) = [i for i in (await serving.stats())["ann"]["indexes"] if i["kind"] == "audio"]
        assert audio["version"] == "v2" and audio["vectors"] == N
    finally:
        await worker.close()
        await serving.close()



def test_ann_build_command_saves_the_indexes(tmp_path: Path, data: dict[int, np.ndarray],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from moodtape.bot.cli import main

    path = tmp_path / "cli.db"

    async def fill() -> None:
        store = await filled(path, data, min_tracks=10**9)
        await store.close()

    asyncio.run(fill())
    assert not (tmp_path / "cli.db.ann").exists()
    assert main(["--db", str(path), "ann-build", "--kind", "audio", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    (audio,) = [i for i in stats["indexes"] if i["kind"] == "audio"]
    assert audio["vectors"] == N and audio["state"] == "ready" and audio["bytes_disk"] > 0
    (file,) = (tmp_path / "cli.db.ann").glob("audio-*.usearch")
    saved_at = file.stat().st_mtime_ns

    async def served() -> None:  # a later process restores the saved index instead of building
        store = await open_store(path)
        try:
            await ready(store)
            assert (await store.knn("audio", data[9], 1))[0].track_id == 9
        finally:
            await store.close()

    asyncio.run(served())
    assert file.stat().st_mtime_ns == saved_at  # restored and current: neither rebuilt nor saved again

    assert main(["--db", str(path), "stats", "--json"]) == 0  # `moodtape stats` carries the index section
    ann = json.loads(capsys.readouterr().out)["ann"]
    assert ann["params"]["expansion_search"] > 0 and {i["kind"] for i in ann["indexes"]} == {"audio", "cf", "mood"}


async def test_the_log_stays_bounded_and_an_index_behind_it_rebuilds(
        tmp_path: Path, data: dict[int, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    from moodtape.db import ann_log

    monkeypatch.setattr(ann_log, "KEEP", 50)
    monkeypatch.setattr(ann_log, "_PRUNE_EVERY", 10)
    serving = await filled(tmp_path / "a.db", data)
    worker = await open_store(tmp_path / "a.db", min_tracks=10**9)
    try:
        await ready(serving)
        for i in range(1, 121):  # one transaction each, like a worker embedding tracks
            await worker.put_vector("audio", i, -data[i], "v1")
        kept = (await worker._fetchone("SELECT count(*) FROM vector_changes"))[0]
        assert kept <= 60
        await serving.knn("audio", data[1], 1)  # the index is 120 changes behind; the log keeps 50
        assert await serving.ann.wait("audio") == "ready"
        hit = (await serving.knn("audio", -data[5], 1))[0]  # its log row was pruned: only a rebuild knows
        assert hit.track_id == 5 and hit.distance == pytest.approx(0.0, abs=1e-5)
    finally:
        await worker.close()
        await serving.close()


async def test_a_failed_build_leaves_the_exact_search_answering(
        tmp_path: Path, data: dict[int, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    from moodtape.db.ann import AnnParams

    def broken(self: AnnParams, kind: str) -> None:
        raise MemoryError("no room for the index")

    monkeypatch.setattr(AnnParams, "new_index", broken)
    store = await filled(tmp_path / "a.db", data)
    try:
        q = data[11]
        await store.knn("audio", q, 10)
        assert await store.ann.wait("audio") == "failed"
        assert [h.track_id for h in await store.knn("audio", q, 10)] == exact_ids(data, q, 10)
        (audio,) = [i for i in (await store.stats())["ann"]["indexes"] if i["kind"] == "audio"]
        assert audio["state"] == "failed" and "no room" in audio["error"]
    finally:
        await store.close()


async def test_other_processes_writes_show_up_within_the_poll_interval(
        tmp_path: Path, data: dict[int, np.ndarray]) -> None:
    serving = await filled(tmp_path / "a.db", data)
    worker = await open_store(tmp_path / "a.db", min_tracks=10**9)
    try:
        await ready(serving)
        serving.ann.poll_s = 0.05  # searches look at the log in the background, at most this often
        await serving.knn("audio", data[1], 1)
        await worker.put_vector("audio", 4, -data[4], "v1")
        for _ in range(100):  # a few polls at most: each search after the interval starts one
            await asyncio.sleep(0.06)
            hit = (await serving.knn("audio", -data[4], 1))[0]
            if hit.track_id == 4:
                break
        assert hit.track_id == 4 and hit.distance == pytest.approx(0.0, abs=1e-5)
    finally:
        await worker.close()
        await serving.close()
