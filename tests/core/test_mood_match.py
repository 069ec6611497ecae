"""The mood search and the sound search answer as they did before they were batched, and the engine's fast
ways to its catalogue (chat, similar by id) pick the catalogue `catalogue()` would pick."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from moodtape.core.engine import Engine
from moodtape.core.errors import QueryError
from moodtape.core.mood.space import STRATEGIES, strategy_targets
from moodtape.core.recommend.mood_match import songs_for_mood
from moodtape.core.recommend.similar import audio_neighbours
from moodtape.db.models import NewTrack
from moodtape.db.store import Store
from tests.conftest import make_settings


async def _add(store: Store, title: str, mood: tuple[float, float] | None = None,
               audio: np.ndarray | None = None, audio_version: str = "a1", status: str = "ready") -> int:
    track_id, _ = await store.add_track(NewTrack(title=title, source_kind="file", source=f"/m/{title}.flac",
                                                 content_hash=title, status=status))  # type: ignore[arg-type]
    if mood is not None:
        await store.put_vector("mood", track_id, list(mood), "m1", {"description": "x"})
    if audio is not None:
        await store.put_vector("audio", track_id, audio, audio_version)
    return track_id


async def _reference(store: Store, valence: float, arousal: float, strategy: str, k: int) -> list[int]:
    """The walk as it was written first: one search per step, excluding the songs already chosen."""
    used: list[int] = []
    for tv, ta in strategy_targets(valence, arousal, strategy, k):
        hits = await store.knn("mood", [tv, ta], 1, exclude=used)
        if not hits:
            break
        used.append(hits[0].track_id)
    return used


async def test_every_strategy_picks_the_songs_of_the_step_by_step_walk(store: Store) -> None:
    rng = np.random.default_rng(3)
    for i, (v, a) in enumerate(rng.uniform(-1, 1, (150, 2))):
        await _add(store, f"s{i}", (float(v), float(a)))
    for strategy in STRATEGIES:
        for valence, arousal in [(-0.7, -0.4), (0.2, 0.6), (0.9, -0.9)]:
            for k in (1, 5, 12):
                got = await songs_for_mood(store, valence, arousal, strategy, k)
                expected = await _reference(store, valence, arousal, strategy, k)
                assert [t.id for t in got] == expected, (strategy, valence, arousal, k)
                assert len({t.id for t in got}) == len(got) == k
                assert all(t.valence is not None and t.reason for t in got)


async def test_a_catalogue_smaller_than_k_gives_each_song_once(store: Store) -> None:
    ids = [await _add(store, f"s{i}", (0.1 * i, -0.1 * i)) for i in range(3)]
    await _add(store, "no mood yet", None, status="pending")
    for strategy in STRATEGIES:
        got = await songs_for_mood(store, 0.0, 0.0, strategy, 8)
        assert sorted(t.id for t in got) == sorted(ids)
    match = await songs_for_mood(store, 0.0, 0.0, "match", 8)
    assert [t.id for t in match] == ids  # nearest first
    assert match[0].score == 1.0 and match[1].score == pytest.approx(1 - math.hypot(0.1, 0.1) / math.sqrt(8), abs=1e-3)


async def test_sound_search_keeps_to_the_query_version(store: Store) -> None:
    rng = np.random.default_rng(5)
    base = rng.standard_normal(128).astype(np.float32)
    near = [base + 0.05 * rng.standard_normal(128).astype(np.float32) for _ in range(6)]
    far = [rng.standard_normal(128).astype(np.float32) for _ in range(10)]
    old = [await _add(store, f"old{i}", audio=v, audio_version="a0") for i, v in enumerate(near[:3])]
    current = [await _add(store, f"cur{i}", audio=v, mood=(0.2, 0.1)) for i, v in enumerate(near[3:] + far)]
    got = await audio_neighbours(store, base, "a1", 4)
    expected = await store.knn("audio", base, 4, model_version="a1")
    assert [t.id for t in got] == [h.track_id for h in expected]
    assert not set(old) & {t.id for t in got} and set(current[:3]) <= {t.id for t in got}
    assert all(t.valence == 0.2 for t in got)
    # all neighbours current: the unfiltered search is the answer, excluded ids stay out
    got = await audio_neighbours(store, base, "a1", 3, exclude={current[0]})
    assert current[0] not in {t.id for t in got} and len(got) == 3


async def test_chat_and_similar_by_id_answer_from_the_catalogue_that_has_the_music(tmp_path: Path) -> None:
    async with await Engine.open(make_settings(tmp_path)) as engine:
        reading = await engine.read_mood("what a wonderful morning")
        pending = await _add(engine.store, "not embedded yet", status="pending")
        assert (await engine.songs_for_reading(reading, 3)).catalogue == "demo"  # no song with a mood yet
        demo_store, catalogue = await engine.catalogue()
        assert catalogue == "demo"  # a pending track is no music to compare yet: the demo is searched ...
        demo_id = (await demo_store.list_tracks(status="ready", limit=1))[0].id
        assert (await engine.similar(str(demo_id), 3)).query.catalogue == "demo"
        with pytest.raises(QueryError, match=f"no track #{pending}"):  # ... and the pending one is not there
            await engine.similar(str(pending), 3)
        rng = np.random.default_rng(0)
        ids = [await _add(engine.store, f"own{i}", (0.5, 0.3), rng.standard_normal(128).astype(np.float32))
               for i in range(4)]
        answer = await engine.songs_for_reading(reading, 3, "lift")
        assert answer.catalogue == "database" and {t.id for t in answer.tracks} <= set(ids)
        chat = await engine.chat("what a wonderful morning", 2)
        assert chat.catalogue == "database" and chat.mood.label == reading.label and len(chat.tracks) == 2
        by_id = await engine.similar(f"#{ids[0]}", 2)
        assert by_id.query.catalogue == "database" and by_id.query.track.id == ids[0]
        assert len(by_id.tracks) == 2 and ids[0] not in {t.id for t in by_id.tracks}
