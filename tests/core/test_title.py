"""A playlist from a title (`core.recommend.title`): name matching, aggregation, mood blend, cache, engine.

The playlists are invented: each name family ("chill", "workout", "드라이브", "rainy") owns its songs, so the
right answer to a title is known.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from moodtape.core.engine import Engine
from moodtape.core.mood.reader import MoodReading
from moodtape.core.recommend.title import (
    TitleIndex,
    TitleIndexCache,
    normalise_title,
    recommend_for_title,
    title_features,
)
from moodtape.core.results import RecommendedTrack
from moodtape.db.models import NewTrack

from tests.conftest import AnyStore, any_store, make_settings
from tests.tiny_models import build_tiny_roberta

store = any_store  # every test in this module runs on a SQLite file and on PostgreSQL

PLAYLISTS: list[tuple[str, list[str]]] = [
    ("Chill", ["c1", "c2", "c3", "c4"]),
    ("chill vibes", ["c2", "c1", "c5"]),
    ("Chill  Vibes!", ["c1", "c3", "c6"]),
    ("Gym workout", ["w1", "w2", "w3"]),
    ("WORKOUT 💪", ["w2", "w3", "w4"]),
    ("💪💪", ["w4", "w2"]),
    ("드라이브", ["k1", "k2", "k3"]),
    ("드라이브 음악", ["k1", "k4"]),
    ("Rainy day", ["r1", "r2", "c1"]),
    ("rain songs", ["r2", "r3"]),
    ("party", ["p1", "c1", "w2"]),
]


def index() -> TitleIndex:
    return TitleIndex.build([n for n, _ in PLAYLISTS], [t for _, t in PLAYLISTS])


def reading(label: str, valence: float, arousal: float, confidence: float) -> MoodReading:
    return MoodReading(text="t", probs={label: confidence}, label=label, valence=valence, arousal=arousal,
                       confidence=confidence, language="en", model="test")


# ---------------------------------------------------------------------------------------------- text
def test_names_are_compared_folded() -> None:
    assert normalise_title("  CHILL  Vibés ") == "chill vibes"
    assert normalise_title("ＣＨＩＬＬ") == "chill"  # full width
    assert normalise_title("드라이브") == "드라이브"  # Hangul is not decomposed into jamo
    words, grams = title_features("Chill  Vibes! 💪")
    assert words == ["chill", "vibes", "💪"]  # punctuation dropped, emoji kept as a token
    assert " ch" in grams and "ill " in grams


# ---------------------------------------------------------------------------------------------- index
def test_the_same_name_written_differently_is_one_name() -> None:
    built = index()
    assert len(built.names) == len(PLAYLISTS) - 1  # "chill vibes" and "Chill  Vibes!" are one name
    assert built.playlist_count == len(PLAYLISTS)
    assert built.popularity[built.track_keys.index("c1")] == 5


def test_a_title_gets_the_songs_of_playlists_named_like_it() -> None:
    built = index()
    assert set(built.rank("chill", 4)) <= {"c1", "c2", "c3", "c4", "c5", "c6"}
    assert built.rank("chill", 1) == ["c1"]  # in all three chill playlists, first in two
    assert set(built.rank("gym", 3)) == {"w1", "w2", "w3"}
    assert set(built.rank("rain", 3)) <= {"r1", "r2", "r3", "c1"}


def test_character_grams_join_chillout_to_chill_where_words_cannot() -> None:
    built = index()
    words_only = TitleIndex.build([n for n, _ in PLAYLISTS], [t for _, t in PLAYLISTS], word_weight=1.0)
    assert words_only.matches("chillout") == []  # no shared word
    assert words_only.rank("chillout", 2) == words_only.popular(2)  # so popularity answers
    assert built.matches("chillout")[0].name.lower().startswith("chill")
    assert set(built.rank("chillout", 3)) <= {"c1", "c2", "c3", "c4", "c5", "c6"}


def test_hangul_and_emoji_titles_match_by_characters() -> None:
    built = index()
    assert built.rank("드라이브 갈 때", 2) == ["k1", "k2"]  # words no name has lower the match, not the songs
    assert 0.3 < built.matches("드라이브 갈 때")[0].similarity < built.matches("드라이브")[0].similarity
    assert built.rank("드라이브", 1) == ["k1"]  # in both drive playlists
    assert set(built.rank("💪", 2)) == {"w2", "w4"}  # the emoji-only playlist and the workout one


def test_positions_count_when_asked_and_ties_are_deterministic() -> None:
    lists = [["z", "a"] + [f"x{i}" for i in range(100)], [f"y{i}" for i in range(100)] + ["a", "z"]]
    weighted = TitleIndex.build(["focus", "focus"], lists, position_scale=50)
    assert weighted.rank("focus", 2) == ["z", "a"]  # z opens one playlist: weighted above a
    flat = TitleIndex.build(["focus", "focus"], lists)  # the default: positions do not count
    assert flat.rank("focus", 2) == ["z", "a"]  # equal scores: ties go to the first key seen
    flat_other = TitleIndex.build(["focus", "focus"], [lists[1], lists[0]])
    assert flat_other.rank("focus", 2) == ["a", "z"]
    assert TitleIndex.build(["focus", "focus"], [lists[1], lists[0]], position_scale=50).rank("focus", 1) == ["z"]


def test_no_similar_name_falls_back_to_popularity() -> None:
    built = index()
    assert built.matches("zzzz qqqq") == []
    assert built.rank("zzzz qqqq", 3) == built.popular(3)
    assert built.popular(1) == ["c1"]
    assert built.rank("", 2) == built.popular(2)


def test_answers_are_deterministic() -> None:
    assert index().rank("chill rain", 8) == index().rank("chill rain", 8)


def test_an_index_of_nothing_is_empty() -> None:
    empty = TitleIndex.build([], [])
    assert empty.empty and empty.rank("chill", 5) == [] and empty.matches("chill") == []


# ---------------------------------------------------------------------------------------------- store
async def fill(store: AnyStore, playlists: list[tuple[str, list[str]]], start: int = 0) -> dict[str, int]:
    keys = sorted({k for _, tracks in playlists for k in tracks})
    ids = {}
    for key in keys:
        ids[key] = (await store.add_track(NewTrack(title=f"Song {key}", source_kind="catalogue",
                                                   external_id=f"test:{key}", status="metadata_only")))[0]
    await store.add_playlists_bulk([(name, "test", str(start + i), None, [ids[k] for k in tracks])
                                    for i, (name, tracks) in enumerate(playlists)])
    return ids


async def test_store_names_and_stamp(store: AnyStore) -> None:
    assert await store.playlist_names() == [] and await store.playlist_stamp() == (0, 0)
    await fill(store, PLAYLISTS[:2])
    names = await store.playlist_names()
    assert [n for _, n in names] == ["Chill", "chill vibes"]
    count, largest = await store.playlist_stamp()
    assert count == 2 and largest == max(i for i, _ in names)


async def test_the_cache_rebuilds_when_playlists_change(store: AnyStore) -> None:
    cache = TitleIndexCache()
    await fill(store, PLAYLISTS[:3])
    first = await cache.get(store)
    assert await cache.get(store) is first  # nothing changed: the same index
    assert first.matches("gym") == []
    ids = await fill(store, PLAYLISTS[3:5], start=3)
    second = await cache.get(store)
    assert second is not first and second.playlist_count == 5
    assert set(second.rank("gym", 3)) == {ids["w1"], ids["w2"], ids["w3"]}


async def test_recommend_reasons_and_the_mood_blend(store: AnyStore) -> None:
    ids = await fill(store, PLAYLISTS)
    built = await TitleIndexCache().get(store)
    plain = await recommend_for_title(store, built, "chill", 3)
    assert plain.basis == "playlists" and plain.matches[0].name == "Chill"
    assert plain.tracks[0].id == ids["c1"]
    assert all("in playlists named" in t.reason for t in plain.tracks)
    assert not plain.mood_used and "Chill" in plain.note

    # c4 and c5 sound calm and sad; the others sound happy and intense.  A confident sad reading of the
    # title pulls the calm ones up; a neutral one changes nothing.
    for key in ("c1", "c2", "c3", "c6"):
        await store.put_vector("mood", ids[key], [0.8, 0.8], "test")
    for key in ("c4", "c5"):
        await store.put_vector("mood", ids[key], [-0.6, -0.5], "test")
    sad = await recommend_for_title(store, built, "chill", 3, reading("sadness", -0.6, -0.5, 0.95))
    assert sad.mood_used and "nudged by the mood" in sad.note
    assert {ids["c4"], ids["c5"]} & {t.id for t in sad.tracks}
    assert all(t.valence is not None and "sounds" in t.reason for t in sad.tracks)
    neutral = await recommend_for_title(store, built, "chill", 3, reading("neutral", 0.0, 0.0, 0.9))
    assert [t.id for t in neutral.tracks] == [t.id for t in plain.tracks] and not neutral.mood_used

    # a song in no playlist, found by the mood search, joins the candidates when the reading steers
    lone = (await store.add_track(NewTrack(title="Lone sad song", source_kind="catalogue", external_id="test:lone",
                                           status="metadata_only")))[0]
    await store.put_vector("mood", lone, [-0.6, -0.5], "test")
    found = [RecommendedTrack(id=lone, title="Lone sad song", artist=None, album=None, source=None, score=1.0,
                              reason="mood")]
    joined = await recommend_for_title(store, built, "chill", 8, reading("sadness", -0.6, -0.5, 0.95), found)
    extra = [t for t in joined.tracks if t.id == lone]
    assert extra and extra[0].reason.startswith("its mood fits the words")
    unsteered = await recommend_for_title(store, built, "chill", 8, reading("neutral", 0.0, 0.0, 0.9), found)
    assert lone not in [t.id for t in unsteered.tracks]

    nothing = await recommend_for_title(store, built, "zzzz qqqq", 2)
    assert nothing.basis == "popularity" and nothing.tracks[0].id == ids["c1"]
    assert "of the 11 playlists" in nothing.tracks[0].reason and "no playlist name" in nothing.note


# ---------------------------------------------------------------------------------------------- engine
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "model")


async def test_engine_answers_a_title_without_playlists_by_mood_and_says_so(tmp_path: Path, tiny_model: Path
                                                                            ) -> None:
    settings = make_settings(tmp_path, emotion_model=str(tiny_model), korean_emotion_model=str(tiny_model))
    async with await Engine.open(settings) as engine:
        result = await engine.continue_from_title("rainy day chill", 4)
        assert result.basis == "mood" and result.catalogue == "demo" and len(result.tracks) == 4
        assert "no playlists are imported yet" in result.note
        assert result.to_json()["mood"]["language"] == "en"

        await fill(engine.store, PLAYLISTS)
        titled = await engine.continue_from_title("Rainy Day", 2)
        assert titled.basis == "playlists" and titled.catalogue == "database"
        assert {t.title for t in titled.tracks} <= {"Song r1", "Song r2", "Song c1"}
        with pytest.raises(Exception, match="playlist title"):
            await engine.continue_from_title("   ", 2)
