"""Hybrid "songs like this": audio + playlists blended and explained; cold and metadata-only tracks handled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.cf.refresh import refresh_cf
from moodtape.core.cf.state import load_state
from moodtape.core.recommend.continuation import continue_playlist
from moodtape.core.engine import Engine
from moodtape.core.errors import QueryError
from moodtape.core.recommend.hybrid import similar_to_audio, similar_tracks
from moodtape.core.recommend.similar import audio_neighbours
from moodtape.db.store import Store
from tests.conftest import make_settings
from tests.core.cf.store_data import AUDIO_VERSION, add_audio, add_audio_track, genre_audio, import_genres


async def test_metadata_only_tracks_become_queryable_through_playlists(tmp_path: Path) -> None:
    async with await Engine.open(make_settings(tmp_path)) as engine:  # demo "auto", as a user has it
        ids = await import_genres(engine.store, tmp_path)
        assert (await engine.catalogue())[1] == "demo"  # imported playlists alone: nothing to compare yet
        await refresh_cf(engine.store)
        result = await engine.similar("Artist A2 - Song A2", 5)
        assert result.query.catalogue == "database" and result.query.track.id == ids["Song A2"]
        assert all(t.title.startswith("Song A") for t in result.tracks)
        assert all("often in the same playlists" in t.reason and "sound" not in t.reason for t in result.tracks)
        tracks = (await engine.continue_playlist(["Song B1", "Artist B2 - Song B2"], 5)).tracks
        assert all(t.title.startswith("Song B") for t in tracks)
        # No song of its own has a mood yet, so the mood chat still answers from the demo, and a 👍 on
        # such an answer lands in the demo (ids say which catalogue), not on an imported track.
        assert (await engine.catalogue("mood"))[1] == "demo"
        stats = await engine.stats()
        assert stats.queries_use == "database" and stats.chat_uses == "demo"
        demo_store, _ = await engine.catalogue("mood")
        demo_track = (await demo_store.list_tracks(status="ready", limit=1))[0]
        await engine.feedback(demo_track.id, "tg:5", 1)
        assert await demo_store.feedback() == [(demo_track.id, "tg:5", 1)]
        assert await engine.store.feedback() == []


async def test_without_collaborative_vectors_the_answer_is_the_audio_answer(store: Store) -> None:
    rng = np.random.default_rng(1)
    ids = [await add_audio_track(store, f"t{i}", "x", genre_audio("AB"[i % 2], rng)) for i in range(8)]
    track = await store.get_track(ids[0])
    assert track is not None
    blended = await similar_tracks(store, track, 4, weight_audio=0.6, weight_cf=0.4)
    stored = await store.get_vector("audio", ids[0])
    assert stored is not None
    plain = await audio_neighbours(store, np.asarray(stored.vector, dtype=np.float32), AUDIO_VERSION, 4,
                                   exclude={ids[0]}, query_track=track)
    assert blended == plain


async def _store_with_overlap(store: Store, tmp_path: Path) -> dict[str, int]:
    """Genre playlists where every playlisted song also has audio that sounds like its genre."""
    ids = await import_genres(store, tmp_path, songs=12)
    rng = np.random.default_rng(0)
    for title, track_id in ids.items():
        await add_audio(store, track_id, genre_audio(title[5], rng))
    return ids


async def test_a_track_with_audio_but_no_playlists_gets_a_predicted_collaborative_vector(
        store: Store, tmp_path: Path) -> None:
    ids = await _store_with_overlap(store, tmp_path)
    rng = np.random.default_rng(7)
    cold = await add_audio_track(store, "Brand New", "Newcomer", genre_audio("B", rng))
    report = await refresh_cf(store)
    assert report["bridge"]["status"] == "ok" and report["bridge"]["overlap"] == 24
    assert report["bridge"]["predicted"] == 1 and report["bridge"]["cv_cosine"] > 0.5
    state = await load_state(store)
    assert state is not None and state.predicted_version is not None
    stored = await store.get_vector("cf", cold)
    assert stored is not None and stored.model_version == state.predicted_version
    # it can now be found from the playlist side ...
    tracks = await continue_playlist(store, [ids["Song B0"], ids["Song B1"]], 24)
    assert cold in [t.id for t in tracks]
    assert "predicted from its sound" in next(t for t in tracks if t.id == cold).reason
    # ... and its own neighbours mix sound and (predicted) playlists, all from its genre
    track = await store.get_track(cold)
    assert track is not None
    similar = await similar_tracks(store, track, 5, weight_audio=0.5, weight_cf=0.5)
    assert all(t.title.startswith("Song B") for t in similar)
    assert all("sound" in t.reason and "playlists" in t.reason for t in similar)


async def test_weights_decide_which_signal_ranks(store: Store, tmp_path: Path) -> None:
    ids = await _store_with_overlap(store, tmp_path)
    await refresh_cf(store)
    track = await store.get_track(ids["Song A3"])
    assert track is not None
    by_cf = await similar_tracks(store, track, 6, weight_audio=0.0, weight_cf=1.0)
    by_audio = await similar_tracks(store, track, 6, weight_audio=1.0, weight_cf=0.0)
    both = await similar_tracks(store, track, 6, weight_audio=0.6, weight_cf=0.4)
    assert all(t.reason.startswith("often in the same playlists") for t in by_cf)
    assert all(t.reason.startswith("sounds alike") for t in by_audio)
    assert any("sounds alike" in t.reason and "often in the same playlists" in t.reason for t in both)
    assert all(t.title.startswith("Song A") for t in both)


async def test_a_track_with_neither_vector_is_explained(tmp_path: Path) -> None:
    async with await Engine.open(make_settings(tmp_path, demo="never")) as engine:
        await import_genres(engine.store, tmp_path)
        with pytest.raises(QueryError, match="no audio .* no playlist history"):
            await engine.similar("Song A1")


async def test_an_outside_clip_is_placed_by_sound_and_predicted_playlists(store: Store, tmp_path: Path) -> None:
    await _store_with_overlap(store, tmp_path)
    await refresh_cf(store)
    clip = genre_audio("B", np.random.default_rng(99))
    tracks = await similar_to_audio(store, clip, AUDIO_VERSION, 5, weight_audio=0.6, weight_cf=0.4)
    assert all(t.title.startswith("Song B") for t in tracks)
    assert any("would suit the same playlists (predicted from its sound)" in t.reason for t in tracks)
    other_version = await similar_to_audio(store, clip, "another-encoder", 5, weight_audio=0.6, weight_cf=0.4)
    assert other_version == []  # no bridge for that encoder, and no audio vectors of it to compare with
