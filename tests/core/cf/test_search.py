"""Neighbours restricted to current model versions: same answer as sqlite-vec's filtered search."""

from __future__ import annotations

import numpy as np

from moodtape.core.cf.search import knn_in_versions
from moodtape.db.models import NewTrack
from moodtape.db.store import Store


async def _tracks(store: Store, n: int) -> list[int]:
    return [(await store.add_track(NewTrack(title=f"t{i}", source_kind="catalogue", external_id=f"x{i}")))[0]
            for i in range(n)]


async def test_stale_rows_are_skipped_whether_few_or_many(store: Store) -> None:
    rng = np.random.default_rng(0)
    ids = await _tracks(store, 60)
    vectors = rng.normal(size=(60, 64)).astype(np.float32)
    query = vectors[0]
    # rows 1-40 are stale (an older model), 41-59 current
    await store.put_vectors("cf", [(ids[i], vectors[i]) for i in range(1, 41)], "old")
    await store.put_vectors("cf", [(ids[i], vectors[i]) for i in range(41, 60)], "new")
    await store.put_vectors("cf", [(ids[0], vectors[0])], "new")
    for k in (1, 5, 15):
        found = await knn_in_versions(store, "cf", query, k, {"new"}, exclude={ids[0]})
        exact = await store.knn("cf", query, k, model_version="new", exclude={ids[0]})
        assert [h.track_id for h, _ in found] == [h.track_id for h in exact]
        assert all(v.model_version == "new" for _, v in found)
    both = await knn_in_versions(store, "cf", query, 70, {"new", "old"})
    assert len(both) == 60 and both[0][0].track_id == ids[0]


async def test_vectors_of_a_few_tracks_come_back_only_where_they_exist(store: Store) -> None:
    ids = await _tracks(store, 3)
    await store.put_vectors("cf", [(ids[0], np.ones(64)), (ids[2], -np.ones(64))], "v")
    found = await store.get_vectors("cf", [ids[2], ids[1], ids[0], ids[2]])
    assert list(found) == [ids[2], ids[0]] and found[ids[2]].vector[0] == -1.0
