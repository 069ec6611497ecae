"""Taste from 👍/👎: decay, the profile one read builds, the bounded re-ranking, and the engine's answers.

The catalogue is synthetic: two sound clusters ("loud" and "soft", audio vectors around two directions) whose
songs sit interleaved in the mood plane, so a mood answer holds both and only taste can tell them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from moodtape.core.engine import Engine
from moodtape.core.mood.reader import MoodReading
from moodtape.core.recommend import taste
from moodtape.core.results import RecommendedTrack
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

from tests.conftest import make_settings

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def stamp(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sound(direction: int, seed: int) -> np.ndarray:
    """A unit 128-d audio vector near axis `direction` (same-cluster cosines ~0.9, across ~0)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.03, 128).astype(np.float32)
    v[direction] += 1.0
    return v / np.linalg.norm(v)


async def fill(store: Store) -> dict[str, list[int]]:
    """10 loud songs (by "Loud Band" and others) and 10 soft ones, alternating along one mood line."""
    ids: dict[str, list[int]] = {"loud": [], "soft": []}
    for i in range(20):
        cluster = "loud" if i % 2 == 0 else "soft"
        artist = "Loud Band" if cluster == "loud" and i < 8 else f"Artist {i}"
        tid, _ = await store.add_track(NewTrack(title=f"{cluster} {i}", artist=artist, source_kind="file",
                                                content_hash=f"h{i}", status="pending"))
        mood = np.asarray([0.3 + 0.02 * i, 0.3 + 0.02 * i], dtype=np.float32)
        await store.mark_ready(tid, {"audio": (sound(0 if cluster == "loud" else 1, i), "a1"), "mood": (mood, "m1")})
        ids[cluster].append(tid)
    return ids


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[tuple[Store, dict[str, list[int]]]]:
    store = await Store.open(tmp_path / "taste.db")
    try:
        yield store, await fill(store)
    finally:
        await store.close()


async def vote(store: Store, track_id: int, user: str, value: int, days_ago: float = 0.0) -> None:
    await store.add_feedback(track_id, user, value, {"t": "test"})
    async with store.transaction() as conn:
        await conn.execute("UPDATE feedback SET created_at = ? WHERE track_id = ? AND user_ref = ?",
                           (stamp(days_ago), track_id, user))


def rec(track_id: int, score: float, artist: str | None = None) -> RecommendedTrack:
    return RecommendedTrack(id=track_id, title=f"#{track_id}", artist=artist, album=None, source=None,
                            score=score, reason="close to how you feel")


# ---------------------------------------------------------------------------------------------- decay


def test_a_vote_counts_half_after_one_half_life_and_fully_when_fresh_or_unreadable() -> None:
    assert taste.decay_weight(stamp(0), NOW, 30) == pytest.approx(1.0)
    assert taste.decay_weight(stamp(30), NOW, 30) == pytest.approx(0.5)
    assert taste.decay_weight(stamp(90), NOW, 30) == pytest.approx(0.125)
    assert taste.decay_weight(stamp(7), NOW, 7) == pytest.approx(0.5)  # the half-life is the setting's
    assert taste.decay_weight(stamp(-2), NOW, 30) == 1.0  # clock skew: not more than fresh
    assert taste.decay_weight("yesterday-ish", NOW, 30) == 1.0


def test_the_half_life_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_settings(tmp_path).taste_half_life_days == 30
    monkeypatch.setenv("MOODTAPE_TASTE_HALF_LIFE_DAYS", "7")
    assert make_settings(tmp_path).taste_half_life_days == 7


# ---------------------------------------------------------------------------------------------- profile


async def test_profile_keeps_the_latest_vote_per_song_weighted_and_drops_faded_ones(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    await vote(store, loud[0], "tg:1", -1, days_ago=30)
    await vote(store, soft[0], "tg:1", 1, days_ago=0)
    await vote(store, soft[1], "tg:1", -1, days_ago=400)  # faded far below MIN_WEIGHT
    await vote(store, loud[1], "tg:2", -1)  # another person's
    profile = await taste.load_profile(store, "tg:1", half_life_days=30, now=NOW)
    weights = {v.track_id: (v.value, round(v.weight, 3)) for v in profile.votes}
    assert weights == {loud[0]: (-1, 0.5), soft[0]: (1, 1.0)}
    assert set(profile.audio) == {loud[0], soft[0]} and profile.audio[loud[0]][1] == "a1"
    assert profile.disliked_artists == {"loud band": 0.5}
    assert profile.liked_artists == {"artist 1": 1.0}
    assert not await taste.load_profile(store, "nobody", half_life_days=30, now=NOW)


# ---------------------------------------------------------------------------------------------- rerank


async def test_a_dislike_pushes_the_song_and_its_sound_alikes_out_but_keeps_the_rest_in_order(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    pool = [rec(t, 1.0 - 0.01 * i) for i, t in enumerate([loud[0], soft[0], loud[1], soft[1], loud[2], soft[2],
                                                            soft[3], soft[4], loud[3], soft[5]])]
    await vote(store, loud[0], "tg:1", -1)
    profile = await taste.load_profile(store, "tg:1", half_life_days=30, now=NOW)
    out = await taste.rerank(store, profile, pool, 5)
    assert [t.id for t in out] == [soft[0], soft[1], soft[2], soft[3], soft[4]]  # relevance order among the rest
    # the push is bounded by the pool: with only loud songs to choose from, an answer still comes
    only_loud = [rec(t, 1.0 - 0.01 * i) for i, t in enumerate(loud[:6])]
    assert len(await taste.rerank(store, profile, only_loud, 3)) == 3


async def test_a_faded_dislike_moves_songs_less_than_a_fresh_one(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    pool = [rec(t, 1.0 - 0.01 * i) for i, t in enumerate([loud[1], loud[2], soft[0], soft[1], soft[2], soft[3]])]
    await vote(store, loud[0], "tg:old", -1, days_ago=60)  # weight 0.25
    await vote(store, loud[0], "tg:new", -1, days_ago=0)
    old = await taste.rerank(store, await taste.load_profile(store, "tg:old", half_life_days=30, now=NOW), pool, 3)
    new = await taste.rerank(store, await taste.load_profile(store, "tg:new", half_life_days=30, now=NOW), pool, 3)
    assert [t.id for t in new] == [soft[0], soft[1], soft[2]]
    assert loud[1] in [t.id for t in old]  # a two-month-old 👎 no longer outweighs the top relevance


async def test_the_disliked_artist_is_pushed_even_when_the_sound_differs(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    await vote(store, loud[0], "tg:1", -1)  # by Loud Band
    profile = await taste.load_profile(store, "tg:1", half_life_days=30, now=NOW)
    profile.audio.clear()  # sound unknown (e.g. a metadata-only song): only the artist is left to go on
    pool = [rec(soft[1], 1.0, "Loud Band"), rec(soft[2], 0.99, "Artist 5"), rec(soft[3], 0.98, "Artist 7"),
            rec(soft[4], 0.97, "Artist 9"), rec(soft[5], 0.96, "Artist 11")]
    out = await taste.rerank(store, profile, pool, 2)
    assert [t.id for t in out] == [soft[2], soft[3]]
    assert soft[1] in [t.id for t in await taste.rerank(store, profile, pool, 4)]  # down, not banned


async def test_a_like_pulls_sound_alikes_up_a_little_and_says_so(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    await vote(store, soft[0], "tg:1", 1)
    profile = await taste.load_profile(store, "tg:1", half_life_days=30, now=NOW)
    pool = [rec(t, 1.0 - 0.01 * i) for i, t in enumerate([loud[1], loud[2], soft[1], loud[3], loud[4], loud[5],
                                                            loud[6], loud[7], loud[8], soft[2]])]
    out = await taste.rerank(store, profile, pool, 3)
    assert [t.id for t in out][:2] == [loud[1], soft[1]]  # pulled past loud[2], not past the most relevant
    assert soft[2] not in [t.id for t in out]  # the pool's last stays out: a like is no trump card
    assert out[1].reason.endswith("like songs you liked") and "liked" not in out[0].reason


async def test_a_path_keeps_its_playing_order(catalogue) -> None:
    store, ids = catalogue
    loud, soft = ids["loud"], ids["soft"]
    await vote(store, loud[0], "tg:1", -1)
    profile = await taste.load_profile(store, "tg:1", half_life_days=30, now=NOW)
    path = [rec(loud[1], 0.9), rec(soft[1], 0.95), rec(soft[2], 0.8), rec(loud[2], 0.99), rec(soft[3], 0.85)]
    out = await taste.rerank(store, profile, path, 3, keep_order=True)
    assert [t.id for t in out] == [soft[1], soft[2], soft[3]]


async def test_personalised_asks_for_k_without_a_person_or_votes_and_for_a_pool_with_them(catalogue) -> None:
    store, ids = catalogue
    asked: list[int] = []

    async def fetch(n: int) -> list[RecommendedTrack]:
        asked.append(n)
        return [rec(t, 1.0 - 0.01 * i) for i, t in enumerate((ids["loud"] + ids["soft"])[:n])]

    assert len(await taste.personalised(store, None, 4, fetch, half_life_days=30)) == 4
    assert len(await taste.personalised(store, "tg:quiet", 4, fetch, half_life_days=30)) == 4
    await vote(store, ids["soft"][0], "tg:1", -1)
    assert len(await taste.personalised(store, "tg:1", 4, fetch, half_life_days=30, now=NOW)) == 4
    assert len(await taste.personalised(store, "tg:1", 4, fetch, half_life_days=30, limit=6, now=NOW)) == 4
    assert asked == [4, 4, 14, 6]
    assert taste.pool_size(5) == 15 and taste.pool_size(20) == 40 and taste.pool_size(400, limit=500) == 500
    assert taste.pool_size(600, limit=500) == 600  # the fetch refuses it, as it would without taste


# ---------------------------------------------------------------------------------------------- engine


def reading(valence: float, arousal: float) -> MoodReading:
    return MoodReading(text="", probs={"joy": 1.0}, label="joy", valence=valence, arousal=arousal, confidence=1.0,
                       language="en", model="test")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, dict[str, list[int]]]]:
    opened = await Engine.open(make_settings(tmp_path, demo="never"))
    try:
        yield opened, await fill(opened.store)
    finally:
        await opened.close()


async def test_a_dislike_changes_that_persons_answers_only_and_forget_restores_them(engine) -> None:
    eng, ids = engine
    loud = set(ids["loud"])
    mood = reading(0.5, 0.5)
    before = [t.id for t in (await eng.songs_for_reading(mood, 6)).tracks]
    assert loud & set(before)
    assert [t.id for t in (await eng.songs_for_reading(mood, 6, user_ref="tg:1")).tracks] == before  # no votes
    disliked = next(t for t in before if t in loud)
    await eng.feedback(disliked, "tg:1", -1, {"via": "test"})

    mine = [t.id for t in (await eng.songs_for_reading(mood, 6, user_ref="tg:1")).tracks]
    assert len(mine) == 6 and not loud & set(mine)
    assert [t.id for t in (await eng.songs_for_reading(mood, 6, user_ref="tg:2")).tracks] == before
    assert [t.id for t in (await eng.songs_for_reading(mood, 6)).tracks] == before
    similar = [t.id for t in (await eng.similar(str(ids["soft"][0]), 4, user_ref="tg:1")).tracks]
    assert not loud & set(similar)
    lifted = (await eng.songs_for_reading(reading(-0.5, -0.5), 5, "lift", user_ref="tg:1")).tracks
    assert not loud & {t.id for t in lifted}

    assert await eng.forget("tg:1") == (0, 1)
    assert [t.id for t in (await eng.songs_for_reading(mood, 6, user_ref="tg:1")).tracks] == before
    assert await eng.forget("tg:1") == (0, 0)


async def test_the_simulation_sees_the_disliked_cluster_leave_and_reports_the_baseline(engine) -> None:
    """`moodtape eval taste`'s loop on the synthetic catalogue: "loud" is the disliked genre."""
    from moodtape.training.eval_taste import _simulate

    eng, ids = engine
    moods = await eng.store.get_vectors("mood", ids["loud"] + ids["soft"])
    songs = {t: (genre, np.asarray(moods[t].vector, dtype=np.float32)) for genre in ids for t in ids[genre]}
    report = await _simulate(eng, songs, disliked="loud", rounds=4, listeners=2, k=4, like_rate=0.5,
                             days_per_round=1.0, fit=0.5, seed=1)
    assert set(report) == {"baseline_no_feedback", "best_without_genre", "similar", "rounds", "votes"}
    assert report["similar"]["best_without_genre"]["disliked_share"] == 0
    assert report["rounds"][-1]["similar_after_votes"]["disliked_share"] <= (
        report["similar"]["baseline_no_feedback"]["disliked_share"])
    assert report["baseline_no_feedback"]["disliked_share"] > 0.3  # interleaved: half the answers are loud
    assert report["best_without_genre"]["disliked_share"] == 0
    last = report["rounds"][-1]["after_votes"]
    assert last["disliked_share"] < report["baseline_no_feedback"]["disliked_share"] / 2
    assert report["votes"]["down"] > 0 and len(report["rounds"]) == 4
    assert await eng.store.feedback() == []  # the listeners are forgotten afterwards
