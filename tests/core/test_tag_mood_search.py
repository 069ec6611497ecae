"""Sound words steer the mood search: "chill with piano" brings the piano song forward, "without vocals" keeps
sung songs out, and a catalogue analysed before musicnn (no tags) answers exactly as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from moodtape.core.engine import Engine
from moodtape.core.mood.space import STRATEGIES
from moodtape.core.mood.tag_words import parse_tags
from moodtape.core.recommend.mood_match import songs_for_mood
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

from tests.conftest import make_settings

#: mean probability of each tag over a reference corpus, as `load_tag_priors()` gives them
PRIORS = {"piano": 0.1, "guitar": 0.3, "female vocals": 0.15, "male vocals": 0.15, "vocals": 0.3,
          "instrumental": 0.2, "mellow": 0.2, "sad": 0.15, "chill": 0.2, "rock": 0.2, "drums": 0.3,
          "strings": 0.1, "pop": 0.25}
PIANO = {"piano": 0.72, "mellow": 0.5, "female vocals": 0.4, "pop": 0.3}
GUITAR = {"guitar": 0.7, "mellow": 0.5, "male vocals": 0.45, "pop": 0.3}
SUNG = {"female vocals": 0.8, "vocals": 0.7, "sad": 0.4, "pop": 0.5}
WORDLESS = {"instrumental": 0.75, "strings": 0.6, "sad": 0.45, "piano": 0.3}


async def _add(store: Store, title: str, mood: tuple[float, float], tags: dict[str, float] | None) -> int:
    track_id, _ = await store.add_track(NewTrack(title=title, source_kind="file", source=f"/m/{title}.flac",
                                                 content_hash=title))
    details: dict[str, object] = {"description": "x"}
    if tags is not None:
        details["tags"] = tags
    await store.mark_ready(track_id, {"mood": (np.array(mood, dtype=np.float32), "m1")},
                           details={"mood": details})
    return track_id


async def test_asking_for_piano_brings_the_piano_song_ahead_of_an_equally_close_one(store: Store) -> None:
    guitar = await _add(store, "guitar", (-0.28, -0.5), GUITAR)  # a shade closer to the reading ...
    piano = await _add(store, "piano", (-0.34, -0.5), PIANO)  # ... than the piano song
    far_piano = await _add(store, "far piano", (0.9, 0.9), PIANO)
    for i in range(6):
        await _add(store, f"filler{i}", (-0.3 + 0.15 * i, -0.2 + 0.05 * i), GUITAR)

    plain = await songs_for_mood(store, -0.3, -0.5, "match", 3, priors=PRIORS)
    assert plain[0].id == guitar
    asked = await songs_for_mood(store, -0.3, -0.5, "match", 3, tags=parse_tags("something chill with piano"),
                                 priors=PRIORS)
    assert asked[0].id == piano and asked[1].id == guitar
    assert far_piano not in {t.id for t in asked}  # the sound words steer among close songs, not across the map
    assert asked[0].reason == ("piano, female vocals, mellow — very calm, slightly sad — close to how you feel; "
                               "has the piano you asked for")
    assert "asked for" not in asked[1].reason
    korean = await songs_for_mood(store, -0.3, -0.5, "match", 1, tags=parse_tags("피아노로 잔잔한 곡"), priors=PRIORS)
    assert korean[0].id == piano


async def test_without_vocals_keeps_sung_songs_out(store: Store) -> None:
    sung = [await _add(store, f"sung{i}", (-0.6 + 0.02 * i, -0.3), SUNG) for i in range(5)]  # the closest ...
    wordless = [await _add(store, f"wordless{i}", (-0.6 + 0.1 * i, -0.45), WORDLESS) for i in range(3)]

    asked = await songs_for_mood(store, -0.6, -0.3, "match", 3, tags=parse_tags("sad songs without vocals"),
                                 priors=PRIORS)
    assert [t.id for t in asked] == wordless
    assert all("vocals" not in t.reason.split(" — ")[0] for t in asked)
    assert all("instrumental, as you asked" in t.reason for t in asked)
    # more songs wanted than there are without vocals: the sung ones follow instead of an empty answer
    more = await songs_for_mood(store, -0.6, -0.3, "match", 5, tags=parse_tags("노래 가사 없는 걸로"), priors=PRIORS)
    assert [t.id for t in more][:3] == wordless and {t.id for t in more[3:]} <= set(sung)


async def test_a_catalogue_without_tags_answers_as_before(store: Store) -> None:
    rng = np.random.default_rng(7)
    for i, (v, a) in enumerate(rng.uniform(-1, 1, (80, 2))):
        await _add(store, f"s{i}", (float(v), float(a)), None)
    query = parse_tags("sad piano without vocals")
    for strategy in STRATEGIES:
        for k in (1, 6):
            before = await songs_for_mood(store, -0.4, 0.2, strategy, k)
            after = await songs_for_mood(store, -0.4, 0.2, strategy, k, tags=query, priors=PRIORS)
            assert [(t.id, t.score, t.reason) for t in after] == [(t.id, t.score, t.reason) for t in before]
            assert all("asked" not in t.reason and t.reason.count(" — ") == 1 for t in after)


async def test_songs_that_all_sound_alike_walk_every_path_by_mood_alone(store: Store) -> None:
    rng = np.random.default_rng(11)
    for i, (v, a) in enumerate(rng.uniform(-1, 1, (60, 2))):
        await _add(store, f"s{i}", (float(v), float(a)), PIANO)
    query = parse_tags("piano please, no drums")
    for strategy in STRATEGIES:
        before = await songs_for_mood(store, -0.5, -0.5, strategy, 6, priors=PRIORS)
        after = await songs_for_mood(store, -0.5, -0.5, strategy, 6, tags=query, priors=PRIORS)
        assert [t.id for t in after] == [t.id for t in before], strategy
        assert all(t.reason.endswith("has the piano you asked for") for t in after)


async def test_tagged_songs_say_what_they_sound_like_even_unasked(store: Store) -> None:
    await _add(store, "piano", (0.0, 0.0), PIANO)
    await _add(store, "old", (0.3, 0.3), None)
    got = await songs_for_mood(store, 0.0, 0.0, "match", 2, priors=PRIORS)
    assert got[0].reason == "piano, female vocals, mellow — steady, neutral — close to how you feel"
    assert got[1].reason == "lively, warm — close to how you feel"


async def test_chat_hears_the_sound_words_of_the_message(tmp_path: Path) -> None:
    async with await Engine.open(make_settings(tmp_path)) as engine:
        reading = await engine.read_mood("something chill with piano")
        point = (reading.valence, reading.arousal)
        others = [await _add(engine.store, f"guitar{i}", point, GUITAR) for i in range(4)]
        piano = await _add(engine.store, "piano", point, PIANO)
        answer = await engine.chat("something chill with piano", 1)
        assert answer.catalogue == "database" and [t.id for t in answer.tracks] == [piano]
        assert "has the piano you asked for" in answer.tracks[0].reason
        korean = await engine.chat("피아노 말고 기타로", 2)
        assert {t.id for t in korean.tracks} <= set(others)


async def test_a_playlist_title_naming_a_sound_gets_it_without_imported_playlists(tmp_path: Path) -> None:
    async with await Engine.open(make_settings(tmp_path)) as engine:
        reading = await engine.read_mood("rainy day piano")
        point = (reading.valence, reading.arousal)
        for i in range(4):
            await _add(engine.store, f"guitar{i}", point, GUITAR)
        piano = await _add(engine.store, "piano", point, PIANO)
        answer = await engine.continue_from_title("rainy day piano", 2)
        assert answer.tracks[0].id == piano and "has the piano you asked for" in answer.tracks[0].reason


async def test_an_asked_for_sound_filters_within_reach_of_the_mood(store: Store) -> None:
    """"sad but with piano": the saddest piano song, though sad songs without piano lie closer, but never a
    piano song from across the plane."""
    for i in range(5):
        await _add(store, f"sad guitar {i}", (-0.7 + 0.02 * i, -0.36), GUITAR)
    near_piano = await _add(store, "slightly sad piano", (-0.25, -0.25), PIANO)
    far_piano = await _add(store, "bright piano", (0.9, 0.6), PIANO)

    asked = await songs_for_mood(store, -0.7, -0.36, "match", 2, tags=parse_tags("something sad but with piano"),
                                 priors=PRIORS)
    assert asked[0].id == near_piano and asked[0].reason.endswith("has the piano you asked for")
    assert asked[1].title.startswith("sad guitar") and far_piano not in {t.id for t in asked}
