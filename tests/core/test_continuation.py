"""Playlist continuation from the store's collaborative vectors, with the fallback to sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.cf.refresh import refresh_cf
from moodtape.core.recommend.continuation import continue_playlist
from moodtape.core.errors import QueryError
from moodtape.db.store import Store
from tests.core.cf.store_data import add_audio_track, genre_audio, import_genres


async def test_continuation_stays_in_the_seeds_genre_and_names_a_seed(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    await refresh_cf(store, method="als")
    seeds = [ids["Song A0"], ids["Song A1"]]
    tracks = await continue_playlist(store, seeds, 8)
    assert len(tracks) == 8
    assert {t.title[5] for t in tracks} == {"A"}
    assert not set(seeds) & {t.id for t in tracks}
    assert all(t.reason.startswith("often in playlists with \"Artist A") for t in tracks)
    assert [t.score for t in tracks] == sorted((t.score for t in tracks), reverse=True)


@pytest.mark.parametrize("method", ["itemknn", "dae"])
async def test_every_method_writes_usable_vectors(store: Store, tmp_path: Path, method: str) -> None:
    ids = await import_genres(store, tmp_path)
    report = await refresh_cf(store, method=method)
    assert report["status"] == "ok" and report["vectors"] == 20 and report["version"].startswith(method)
    tracks = await continue_playlist(store, [ids["Song B3"]], 5)
    assert sum(t.title.startswith("Song B") for t in tracks) >= 4


async def test_seeds_without_playlists_fall_back_to_sound(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    await refresh_cf(store, method="als")
    rng = np.random.default_rng(0)
    fresh_a = await add_audio_track(store, "Fresh A", "New Band", genre_audio("A", rng))
    near_a = await add_audio_track(store, "Another A", "Other Band", genre_audio("A", rng))
    await add_audio_track(store, "Some B", "B Band", genre_audio("B", rng))
    tracks = await continue_playlist(store, [fresh_a], 2)
    assert tracks[0].id == near_a
    assert tracks[0].reason.startswith("like \"New Band - Fresh A\": sounds alike")
    assert "no playlist history" in tracks[0].reason
    assert ids  # the playlists are there, the seed just is not in any


async def test_clear_errors(store: Store, tmp_path: Path) -> None:
    ids = await import_genres(store, tmp_path)
    with pytest.raises(QueryError, match="no playlist history and no audio"):
        await continue_playlist(store, [ids["Song A0"]], 5)  # before any refresh, and no audio
    with pytest.raises(QueryError, match="no track #9999"):
        await continue_playlist(store, [9999], 5)
    with pytest.raises(QueryError, match="between 1 and 500"):
        await continue_playlist(store, [ids["Song A0"]], 0)
