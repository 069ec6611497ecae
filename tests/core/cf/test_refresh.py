"""`refresh_cf`: what the scheduler runs. Versioned vectors, and 👍/👎 folded in by the next refresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.cf.refresh import refresh_cf
from moodtape.core.cf.state import load_state
from moodtape.core.recommend.continuation import continue_playlist
from moodtape.core.errors import UserError
from moodtape.db.store import Store
from tests.core.cf.store_data import import_genres


async def _cosine(store: Store, a: int, b: int) -> float:
    vectors = await store.get_vectors("cf", [a, b])
    return float(np.dot(vectors[a].vector, vectors[b].vector))


async def test_vectors_are_unit_length_and_versioned_by_method_and_data(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    report = await refresh_cf(store, method="als")
    assert report["version"] == "als-f64-l30-a40-i15-r60-t20-n300"
    vectors = await store.get_vectors("cf")
    assert set(vectors) == set(ids.values())
    assert all(abs(np.linalg.norm(v.vector) - 1) < 1e-5 and v.model_version == report["version"]
               for v in vectors.values())
    state = await load_state(store)
    assert state is not None and state.version == report["version"] and state.predicted_version is None


async def test_likes_fold_in_and_pull_songs_together(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    await refresh_cf(store)
    before = await _cosine(store, ids["Song A0"], ids["Song B0"])
    assert ids["Song B0"] not in [t.id for t in await continue_playlist(store, [ids["Song A0"]], 5)]
    for user in range(15):  # fifteen people liked these two songs together
        await store.add_feedback(ids["Song A0"], f"tg:{user}", 1, {"query": "x"})
        await store.add_feedback(ids["Song B0"], f"tg:{user}", 1, {"query": "x"})
    report = await refresh_cf(store)
    assert report["feedback"] == 30 and report["rows"] == 75 and "-r75-" in report["version"]
    after = await _cosine(store, ids["Song A0"], ids["Song B0"])
    assert after > before + 0.3
    assert ids["Song B0"] in [t.id for t in await continue_playlist(store, [ids["Song A0"]], 5)]


async def test_dislikes_push_a_song_away_from_what_the_voter_liked(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    await refresh_cf(store)
    liked = [ids[f"Song A{i}"] for i in range(1, 5)]
    before = [t.id for t in await continue_playlist(store, liked, 5)]
    assert ids["Song A5"] in before
    for user in range(15):
        for track in liked:
            await store.add_feedback(track, f"dc:{user}", 1)
        await store.add_feedback(ids["Song A5"], f"dc:{user}", -1)
    await refresh_cf(store)
    after = [t.id for t in await continue_playlist(store, liked, 5)]
    assert ids["Song A5"] not in after


async def test_nothing_to_learn_and_bad_requests(store: Store) -> None:
    report = await refresh_cf(store)
    assert report["status"] == "skipped" and report["version"] is None
    with pytest.raises(UserError, match="64-d"):
        await refresh_cf(store, dims=32)
    with pytest.raises(UserError, match="unknown collaborative method"):
        await refresh_cf(store, method="svd++")
