"""The room window (`core.mood.room`): what it keeps, how it weighs people and time, and its bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moodtape.core.mood.reader import MoodReading, reading_from_probs
from moodtape.core.mood.room import (
    HALF_LIFE_S,
    MAX_AGE_S,
    PERSON_CAP,
    RoomMoods,
    combine,
    note_of,
)


def reading(valence: float, arousal: float = 0.0, *, label: str = "joy", confidence: float = 0.9,
            text: str = "a secret sentence", language: str = "en") -> MoodReading:
    """A reading at an exact point (the point is what the room combines), with the label's probability."""
    rest = (1 - confidence) / 2
    return MoodReading(text=text, probs={label: confidence, "neutral": rest, "surprise": rest}, label=label,
                       valence=valence, arousal=arousal, confidence=confidence, language=language, model="m")


HAPPY = reading(0.7, 0.3, label="joy")
SAD = reading(-0.7, -0.3, label="sadness")


def test_the_window_keeps_the_reading_but_never_the_text() -> None:
    rooms = RoomMoods(clock=lambda: 100.0)
    assert rooms.note("g", "ana", reading(0.5, text="my password is hunter2"))
    [note] = rooms.notes("g")
    assert note.person == "ana" and note.at == 100.0 and note.valence == 0.5
    assert "hunter2" not in repr(note) and not hasattr(note, "text")
    mood = rooms.mood("g")
    assert mood is not None and mood.reading.text == "" and mood.people == 1 and mood.messages == 1


def test_an_empty_room_and_an_unreadable_message_give_no_mood() -> None:
    rooms = RoomMoods()
    assert rooms.mood("nobody-here") is None
    nothing = reading(0.0, confidence=0.0)  # what the reader says of an empty message
    assert rooms.note("g", "ana", nothing) is False
    assert rooms.mood("g") is None and "g" not in rooms


def test_one_loud_member_does_not_decide_the_room() -> None:
    rooms = RoomMoods(clock=lambda: 1000.0)
    for _ in range(20):
        rooms.note("g", "loud", SAD)
    rooms.note("g", "ana", HAPPY)
    rooms.note("g", "ben", HAPPY)
    mood = rooms.mood("g")
    assert mood is not None
    assert (mood.people, mood.messages) == (3, 22)
    # Capped at one fresh message each: the room is 2/3 happy, 1/3 sad, so it leans happy.
    assert mood.reading.valence == pytest.approx((0.7 + 0.7 - 0.7) / 3, abs=1e-9)
    assert mood.reading.label == "joy"
    assert mood.shares == pytest.approx({"ana": 1 / 3, "ben": 1 / 3, "loud": 1 / 3})
    # Without the cap the twenty messages would have outvoted the two others.
    uncapped = combine(rooms.notes("g"), 1000.0, person_cap=1e9)
    assert uncapped is not None and uncapped.reading.valence < -0.5


def test_recent_messages_count_more_with_a_half_life() -> None:
    rooms = RoomMoods()
    rooms.note("g", "ana", SAD, at=0.0)
    rooms.note("g", "ben", HAPPY, at=HALF_LIFE_S)
    mood = rooms.mood("g", now=HALF_LIFE_S)
    assert mood is not None
    # ana's message is one half-life old: weight 1/2 against ben's 1.
    assert mood.reading.valence == pytest.approx((0.5 * -0.7 + 1.0 * 0.7) / 1.5)
    assert mood.shares["ben"] == pytest.approx(2 / 3)
    assert mood.span_s == pytest.approx(HALF_LIFE_S)


def test_a_person_s_latest_mood_leads_within_their_capped_share() -> None:
    rooms = RoomMoods()
    rooms.note("g", "ana", SAD, at=0.0)
    rooms.note("g", "ana", HAPPY, at=HALF_LIFE_S)  # ana cheered up
    mood = rooms.mood("g", now=HALF_LIFE_S)
    assert mood is not None and mood.people == 1 and mood.reading.valence > 0


def test_old_readings_drop_out_and_rooms_are_bounded() -> None:
    rooms = RoomMoods(max_readings=3, max_rooms=2)
    for i in range(5):
        rooms.note("g", f"p{i}", HAPPY, at=float(i))
    assert [n.person for n in rooms.notes("g")] == ["p2", "p3", "p4"]  # only the last three
    assert rooms.mood("g", now=10.0).messages == 3  # type: ignore[union-attr]

    rooms.note("h", "ana", SAD, at=10.0)
    rooms.mood("g", now=10.0)  # asking counts as use: g is now the most recent
    rooms.note("i", "ben", SAD, at=10.0)
    assert "h" not in rooms and "g" in rooms and "i" in rooms and len(rooms) == 2

    assert rooms.mood("g", now=4.0 + MAX_AGE_S + 1) is None  # everything there is too old
    assert "g" not in rooms  # and the room itself is forgotten


def test_english_and_korean_readings_mix_under_the_shared_label_names() -> None:
    english = reading_from_probs("x", {"joy": 0.8, "neutral": 0.2}, 0.8, "en", "en-model")
    korean = reading_from_probs("y", {"기쁨": 0.6, "슬픔": 0.4}, 0.6, "ko", "ko-model")
    rooms = RoomMoods()
    rooms.note("g", "ana", english, at=0.0)
    rooms.note("g", "min", korean, at=0.0)
    mood = rooms.mood("g", now=0.0)
    assert mood is not None
    assert mood.reading.probs == pytest.approx({"joy": 0.7, "sadness": 0.2, "neutral": 0.1})
    assert mood.reading.model == "en-model+ko-model"
    assert mood.reading.valence == pytest.approx((english.valence + korean.valence) / 2)


def test_notes_keep_a_bounded_number_of_labels() -> None:
    many = {f"label{i}": 1 / 30 for i in range(30)}
    note = note_of("ana", reading_from_probs("x", many, 1 / 30, "en", "m"), 0.0)
    assert len(note.probs) == len(note.labels) == 7


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RoomMoods(max_readings=0)
    with pytest.raises(ValueError):
        RoomMoods(half_life_s=0)


# ---------------------------------------------------------------------------------------------- properties
points = st.floats(-1, 1, allow_nan=False)
notes_strategy = st.lists(
    st.tuples(st.sampled_from(["ana", "ben", "cy", "dee"]), points, points, st.floats(0, 3 * 3600)),
    min_size=1, max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(notes_strategy, st.randoms(use_true_random=False))
def test_room_mood_properties(raw: list[tuple[str, float, float, float]], rng: object) -> None:
    now = 3 * 3600.0
    notes = [note_of(person, reading(v, a), at) for person, v, a, at in raw]
    mood = combine(notes, now)
    assert mood is not None
    # The room's point lies within the messages' points, and counts everyone once.
    assert min(n.valence for n in notes) - 1e-9 <= mood.reading.valence <= max(n.valence for n in notes) + 1e-9
    assert min(n.arousal for n in notes) - 1e-9 <= mood.reading.arousal <= max(n.arousal for n in notes) + 1e-9
    assert mood.people == len({n.person for n in notes}) and mood.messages == len(notes)
    assert math.isclose(sum(mood.shares.values()), 1.0, abs_tol=1e-9)
    assert math.isclose(sum(mood.reading.probs.values()), 1.0, abs_tol=1e-9)
    # No person's weight is over the cap: each share is at most cap / (sum of everyone's capped weight).
    per_person: dict[str, float] = {}
    for n in notes:
        per_person[n.person] = per_person.get(n.person, 0.0) + 0.5 ** ((now - n.at) / HALF_LIFE_S)
    capped = {p: min(PERSON_CAP, w) for p, w in per_person.items()}
    for person, share in mood.shares.items():
        assert share == pytest.approx(capped[person] / sum(capped.values()), abs=1e-9)
    # The order the notes arrive in does not matter.
    shuffled = list(notes)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    again = combine(shuffled, now)
    assert again is not None
    assert again.reading.valence == pytest.approx(mood.reading.valence, abs=1e-12)
    assert again.reading.arousal == pytest.approx(mood.reading.arousal, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), points)
def test_more_messages_from_one_person_never_outweigh_a_fresh_other(count: int, loud_valence: float) -> None:
    now = 0.0
    notes = [note_of("loud", reading(loud_valence), now) for _ in range(count)]
    notes.append(note_of("quiet", reading(0.5), now))
    mood = combine(notes, now)
    assert mood is not None and mood.shares["quiet"] == pytest.approx(0.5)
    assert mood.reading.valence == pytest.approx((loud_valence + 0.5) / 2)


def test_a_full_window_stays_small() -> None:
    """Memory per kept reading, measured on 50 full rooms and scaled to `MAX_ROOMS` (printed with -s)."""
    import tracemalloc

    from moodtape.core.mood.room import MAX_READINGS, MAX_ROOMS

    labels = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    samples = [reading_from_probs("x", {name: (i + j) % 7 / 21 + 0.01 for j, name in enumerate(labels)}, 0.3,
                                  "en", "m") for i in range(7)]
    rooms = RoomMoods(clock=lambda: 0.0)
    tracemalloc.start()
    try:
        for r in range(50):
            for m in range(MAX_READINGS):
                rooms.note(f"tg-chat:{-1000000000000 - r}", f"tg:{m % 12}", samples[m % 7], at=float(m))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_note = used / (50 * MAX_READINGS)
    full_mib = per_note * MAX_ROOMS * MAX_READINGS / 2**20
    print(f"\n{per_note:.0f} bytes per reading; a full window ({MAX_ROOMS} rooms x {MAX_READINGS}) ~{full_mib:.0f} MiB")
    assert full_mib < 64
