"""Plain records that cross the storage boundary (no behaviour, no imports from core)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence, TypeVar

__all__ = [
    "TRACK_COLUMNS", "VECTOR_DIMS", "Job", "Neighbor", "NewTrack", "SourceKind", "StoredVector", "Track",
    "TrackStatus", "filled",
]

R = TypeVar("R")


def filled(cls: type[R], fields: Mapping[str, Any]) -> R:
    """An instance of the frozen dataclass `cls` holding `fields` (every field, of the right types), made
    without its `__init__`.

    The records a reply builds right after a search (tracks, results) are made when the CPU caches are
    cold, where a frozen dataclass's `__init__`, one `object.__setattr__` per field, costs two to three times
    filling the instance's dict at once (41 against 14 us for five tracks).  Equality, hashing and `repr`
    read the fields as usual; only callers that already hold checked values (a row the schema typed) use it.
    """
    record = object.__new__(cls)
    record.__dict__.update(fields)
    return record

TrackStatus = Literal["pending", "ready", "failed", "metadata_only"]
SourceKind = Literal["file", "url", "catalogue"]

#: Dimensions fixed by the schema (see migrations); a model that changes one needs a migration.
VECTOR_DIMS: dict[str, int] = {"audio": 128, "cf": 64, "mood": 2}

TRACK_COLUMNS = (
    "id, title, artist, album, duration_s, source_kind, source, external_id, content_hash, match_key, "
    "licence, added_by, added_at, updated_at, status, error, attempts, next_attempt_at"
)


@dataclass(frozen=True)
class NewTrack:
    title: str
    source_kind: SourceKind
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None
    source: str | None = None
    external_id: str | None = None
    content_hash: str | None = None
    match_key: str | None = None
    licence: str | None = None
    added_by: str | None = None
    status: TrackStatus = "pending"
    error: str | None = None
    id: int | None = None  # explicit id (the demo catalogue's ids live in their own range)


@dataclass(frozen=True)
class Track:
    id: int
    title: str
    artist: str | None
    album: str | None
    duration_s: float | None
    source_kind: str
    source: str | None
    external_id: str | None
    content_hash: str | None
    match_key: str | None
    licence: str | None
    added_by: str | None
    added_at: str
    updated_at: str
    status: str
    error: str | None
    attempts: int
    next_attempt_at: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Track":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @classmethod
    def from_columns(cls, row: Sequence[Any]) -> "Track":
        """A row that starts with `TRACK_COLUMNS`, in that order (extra columns after them are ignored).

        `filled` rather than `__init__`: every reply reads these rows right after a search."""
        if len(row) < len(_TRACK_NAMES):
            raise ValueError(f"a track row has {len(_TRACK_NAMES)} columns, not {len(row)}")
        return filled(cls, dict(zip(_TRACK_NAMES, row)))

    @property
    def label(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title


_TRACK_NAMES = tuple(Track.__dataclass_fields__)


@dataclass(frozen=True)
class Neighbor:
    """A search hit; `model_version`: the version of the vector that matched (every store fills it in, at
    no cost: callers then know whether the hits are all of the version they want without reading them)."""

    track_id: int
    distance: float
    model_version: str | None = None


@dataclass(frozen=True)
class StoredVector:
    track_id: int
    vector: list[float]
    model_version: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: str
    status: str
    attempts: int
    last_error: str | None
    run_after: str
    locked_by: str | None
    locked_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Job":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})
