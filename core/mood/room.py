"""A room's mood: a rolling window of mood readings per group chat or channel, combined into one reading.

The bots already read the mood of every message meant for them (mentions, replies, /mood); in a group or
channel they also note that reading here, so `/room` can answer with songs for the whole room.  What is kept
is the reading only -- who (an opaque person key), when, valence, arousal and the label probabilities --
never the text.  Everything lives in memory: a restart forgets it, and each process has its own window.

Combining (`combine`)
---------------------
* Recency: a message's weight halves every `HALF_LIFE_S` (30 min): what was said just now counts most.
* Per person: each person's weights are summed and the sum capped at `PERSON_CAP` (1.0, one fresh message);
  a person over the cap has all their messages scaled down alike, so twenty messages from one loud member
  weigh as much as one fresh message from a quiet one, and the loud member's own latest mood still leads
  within their share.
* The model's confidence is deliberately not a weight: it would hand the room back to whoever the model
  happens to read confidently.  Readings with confidence 0 (nothing to read) are not kept at all.
* The room's valence/arousal is the weighted mean of the messages' points; its label probabilities the
  weighted mean of theirs (under the shared label names, so English and Korean readings mix).

Bounds (`RoomMoods`)
--------------------
At most `MAX_READINGS` readings per room (older ones drop out), `MAX_AGE_S` (4 h, 2**-8 of a fresh weight)
of age, and `MAX_ROOMS` rooms, the least recently used room forgotten first.  All methods are meant to be
called from one event loop (the bots'), as every front end here does.
"""

from __future__ import annotations

import math
import sys
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moodtape.core.mood.reader import MoodReading
from moodtape.core.mood.space import canonical_label
from moodtape.core.results import ChatResult

__all__ = [
    "HALF_LIFE_S", "MAX_AGE_S", "MAX_LABELS", "MAX_READINGS", "MAX_ROOMS", "PERSON_CAP", "RoomMood", "RoomMoods",
    "RoomNote", "RoomResult", "combine", "note_of", "recency",
]

#: Seconds after which a message counts half as much as one written now.
HALF_LIFE_S = 30 * 60.0
#: Readings older than this are dropped (their weight would be under 2**-8 of a fresh one's).
MAX_AGE_S = 4 * 3600.0
#: Readings kept per room; the oldest drops out first.
MAX_READINGS = 100
#: Rooms kept; the one used least recently (noted or asked) is forgotten first.
MAX_ROOMS = 2000
#: A person's summed weight is capped here: one message written just now has weight 1.
PERSON_CAP = 1.0
#: Label probabilities kept per reading (the most likely ones): bounds memory for 28-label checkpoints.
MAX_LABELS = 7


@dataclass(frozen=True, slots=True)
class RoomNote:
    """What the window keeps of one message: whose, when, and the reading's numbers -- not the text.

    Compact, since a full window holds `MAX_ROOMS * MAX_READINGS` of them: the label names are one shared
    tuple per label set, the probabilities float32 in the same order.
    """

    person: str
    at: float
    valence: float
    arousal: float
    labels: tuple[str, ...]
    probs: array[float]
    language: str
    model: str

    def label_probs(self) -> Iterator[tuple[str, float]]:
        return zip(self.labels, self.probs)


#: Label tuples shared by the notes (a few per model); bounded in case checkpoints keep changing.
_LABEL_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_LABEL_SETS = 256


def _shared(labels: tuple[str, ...]) -> tuple[str, ...]:
    known = _LABEL_SETS.get(labels)
    if known is not None:
        return known
    if len(_LABEL_SETS) < _MAX_LABEL_SETS:
        _LABEL_SETS[labels] = labels
    return labels


def note_of(person: str, reading: MoodReading, at: float) -> RoomNote:
    """The part of `reading` a room keeps (labels under their shared names, the top `MAX_LABELS` of them)."""
    merged: dict[str, float] = {}
    for name, p in reading.probs.items():
        key = canonical_label(name) or name
        merged[key] = merged.get(key, 0.0) + float(p)
    top = sorted(sorted(merged.items(), key=lambda item: -item[1])[:MAX_LABELS])  # kept in name order
    return RoomNote(person=sys.intern(person), at=float(at), valence=_unit(reading.valence),
                    arousal=_unit(reading.arousal), labels=_shared(tuple(name for name, _ in top)),
                    probs=array("f", (p for _, p in top)), language=reading.language, model=reading.model)


def _unit(value: float) -> float:
    """Clipped to [-1, 1] (a NaN is 0): one bad number must not poison the whole room."""
    value = float(value)
    return 0.0 if math.isnan(value) else max(-1.0, min(1.0, value))


@dataclass(frozen=True)
class RoomMood:
    """The room's combined reading and what it was read from."""

    reading: MoodReading
    people: int
    messages: int
    #: Each person's share of the combined weight (sums to 1), largest first.
    shares: dict[str, float]
    #: Seconds between the oldest reading that counted and `now`.
    span_s: float

    def to_json(self) -> dict[str, Any]:
        return {"people": self.people, "messages": self.messages, "span_s": round(self.span_s, 1),
                "shares": {person: round(share, 4) for person, share in self.shares.items()}}


@dataclass(frozen=True)
class RoomResult:
    """`Engine.room_songs`: songs for a room's mood (`chat.mood` is the room's reading) and who it read."""

    chat: ChatResult
    room: RoomMood

    def to_json(self) -> dict[str, Any]:
        return {"room": self.room.to_json(), **self.chat.to_json()}


def recency(age_s: float, half_life_s: float = HALF_LIFE_S) -> float:
    """The weight of a message `age_s` old: 1 now, 1/2 after one half-life (a future time counts as now)."""
    return 0.5 ** (max(0.0, age_s) / half_life_s)


def combine(notes: Iterable[RoomNote], now: float, *, half_life_s: float = HALF_LIFE_S,
            person_cap: float = PERSON_CAP, max_age_s: float = MAX_AGE_S) -> RoomMood | None:
    """One reading for the room from its notes (None when none is young enough to count).

    Pure: the same notes and `now` give the same room, in whatever order the notes come.
    """
    kept = [note for note in notes if now - note.at <= max_age_s]
    if not kept:
        return None
    raw = [recency(now - note.at, half_life_s) for note in kept]
    per_person: dict[str, float] = {}
    for note, weight in zip(kept, raw):
        per_person[note.person] = per_person.get(note.person, 0.0) + weight
    scale = {person: min(1.0, person_cap / total) if total > 0 else 0.0 for person, total in per_person.items()}
    weights = [weight * scale[note.person] for note, weight in zip(kept, raw)]
    total = math.fsum(weights)
    if total <= 0:  # every weight underflowed: count the notes alike rather than divide by zero
        weights, total = [1.0] * len(kept), float(len(kept))
    valence = math.fsum(w * n.valence for w, n in zip(weights, kept)) / total
    arousal = math.fsum(w * n.arousal for w, n in zip(weights, kept)) / total
    probs: dict[str, float] = {}
    languages: dict[str, float] = {}
    shares: dict[str, float] = {}
    for weight, note in zip(weights, kept):
        share = weight / total
        for name, p in note.label_probs():
            probs[name] = probs.get(name, 0.0) + share * p
        languages[note.language] = languages.get(note.language, 0.0) + share
        shares[note.person] = shares.get(note.person, 0.0) + share
    mass = math.fsum(probs.values())
    ordered = {name: p / mass for name, p in sorted(probs.items(), key=lambda item: -item[1])} if mass > 0 \
        else {"neutral": 1.0}
    label = next(iter(ordered))
    models = sorted({note.model for note in kept})
    reading = MoodReading(
        text="", probs=ordered, label=label, valence=_unit(valence), arousal=_unit(arousal),
        confidence=min(1.0, max(0.0, ordered[label])), language=max(languages, key=languages.__getitem__),
        model="+".join(models),
    )
    return RoomMood(reading=reading, people=len(per_person), messages=len(kept),
                    shares=dict(sorted(shares.items(), key=lambda item: -item[1])),
                    span_s=max(0.0, now - min(note.at for note in kept)))


@dataclass
class RoomMoods:
    """The rolling windows of every room the bots hear from, bounded in readings, age and rooms."""

    max_rooms: int = MAX_ROOMS
    max_readings: int = MAX_READINGS
    max_age_s: float = MAX_AGE_S
    half_life_s: float = HALF_LIFE_S
    person_cap: float = PERSON_CAP
    clock: Callable[[], float] = time.monotonic
    _rooms: OrderedDict[str, deque[RoomNote]] = field(default_factory=OrderedDict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_rooms < 1 or self.max_readings < 1:
            raise ValueError("a room window needs room for at least one room and one reading")
        if not (self.max_age_s > 0 and self.half_life_s > 0 and self.person_cap > 0):
            raise ValueError("max_age_s, half_life_s and person_cap must be positive")

    def __len__(self) -> int:
        return len(self._rooms)

    def __contains__(self, room: object) -> bool:
        return room in self._rooms

    def note(self, room: str, person: str, reading: MoodReading, at: float | None = None) -> bool:
        """Keep the reading of one message in `room`; False when there was nothing to keep (confidence 0)."""
        if reading.confidence <= 0:
            return False
        now = self.clock() if at is None else at
        notes = self._rooms.get(room)
        if notes is None:
            notes = self._rooms[room] = deque(maxlen=self.max_readings)
        self._rooms.move_to_end(room)
        notes.append(note_of(person, reading, now))
        self._prune(room, now)
        while len(self._rooms) > self.max_rooms:
            self._rooms.popitem(last=False)
        return True

    def mood(self, room: str, now: float | None = None) -> RoomMood | None:
        """The room's combined reading now, or None when nobody there has been read within `max_age_s`."""
        now = self.clock() if now is None else now
        if room not in self._rooms:
            return None
        self._rooms.move_to_end(room)
        self._prune(room, now)
        notes = self._rooms.get(room)
        if not notes:
            return None
        return combine(notes, now, half_life_s=self.half_life_s, person_cap=self.person_cap,
                       max_age_s=self.max_age_s)

    def notes(self, room: str) -> tuple[RoomNote, ...]:
        """What is kept for `room`, oldest first (for tests and inspection)."""
        return tuple(self._rooms.get(room, ()))

    def forget(self, room: str) -> None:
        self._rooms.pop(room, None)

    def _prune(self, room: str, now: float) -> None:
        """Drop readings older than `max_age_s` (times given by a caller need not arrive in order)."""
        notes = self._rooms[room]
        if any(now - note.at > self.max_age_s for note in notes):
            young = [note for note in notes if now - note.at <= self.max_age_s]
            notes.clear()
            notes.extend(young)
        if not notes:
            del self._rooms[room]
