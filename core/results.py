"""What the engine answers with: plain records with a stable JSON form (documented in the README)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from db.models import Track


@dataclass(frozen=True)
class RecommendedTrack:
    id: int
    title: str
    artist: str | None
    album: str | None
    source: str | None
    score: float
    reason: str
    valence: float | None = None
    arousal: float | None = None

    @classmethod
    def from_track(cls, track: Track, score: float, reason: str, mood: tuple[float, float] | None = None
                   ) -> "RecommendedTrack":
        return cls(
            id=track.id, title=track.title, artist=track.artist, album=track.album, source=track.source,
            score=round(float(score), 4), reason=reason,
            valence=None if mood is None else round(float(mood[0]), 3),
            arousal=None if mood is None else round(float(mood[1]), 3),
        )

    @property
    def label(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "title": self.title, "artist": self.artist, "album": self.album,
            "source": self.source, "score": self.score, "reason": self.reason,
        }
        if self.valence is not None:
            data["valence"] = self.valence
            data["arousal"] = self.arousal
        return data


@dataclass(frozen=True)
class SimilarResult:
    query: dict[str, Any]
    tracks: list[RecommendedTrack] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "tracks": [t.to_json() for t in self.tracks]}


def track_json(track: Track) -> dict[str, Any]:
    return {
        "id": track.id, "title": track.title, "artist": track.artist, "album": track.album,
        "source": track.source, "status": track.status,
    }


def print_json(data: Any) -> None:
    """The one JSON form every `--json` output uses (CLI and training commands alike): UTF-8, indented."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
