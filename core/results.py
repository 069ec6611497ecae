"""What the engine answers with: plain records with a stable JSON form (documented in the README).

Front ends read the attributes; `to_json()` is the one place each record's `--json` form is spelled.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from moodtape.core.mood.reader import MoodReading
from moodtape.db.models import StoredVector, Track, filled

#: Which store answered: the user's own database, or the bundled demo while the database cannot answer yet.
Catalogue = Literal["database", "demo"]


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
    tags: tuple[str, ...] = ()  # what the song sounds like in words (musicnn's most telling tags)
    # what a saved playlist needs (`core.playlist_files`); not part of the `--json` form
    duration_s: float | None = None
    source_kind: str | None = None
    external_id: str | None = None

    @classmethod
    def from_track(cls, track: Track, score: float, reason: str,
                   mood: tuple[float, float] | StoredVector | None = None,
                   tags: tuple[str, ...] | None = None) -> RecommendedTrack:
        """`mood`: the track's stored mood row (its point and its tags), or just a (valence, arousal) point;
        `tags`: its `top_tags_of` when the caller has them already (a reason line said them)."""
        if tags is None:
            tags = top_tags_of(mood) if isinstance(mood, StoredVector) else ()
        point = (mood.vector[0], mood.vector[1]) if isinstance(mood, StoredVector) else mood
        return filled(cls, {  # every field, typed here: a `similar` reply makes five right after its search
            "id": track.id, "title": track.title, "artist": track.artist, "album": track.album,
            "source": track.source, "score": round(float(score), 4), "reason": reason,
            "valence": None if point is None else round(float(point[0]), 3),
            "arousal": None if point is None else round(float(point[1]), 3), "tags": tags,
            "duration_s": track.duration_s, "source_kind": track.source_kind,
            "external_id": track.external_id,
        })

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
        if self.tags:
            data["tags"] = list(self.tags)
        return data


def top_tags_of(mood: StoredVector | None) -> tuple[str, ...]:
    """The words stored with a track's mood at ingestion (`top_tags`), () for tracks analysed before tags."""
    words = (mood.details or {}).get("top_tags") if mood is not None else None
    return tuple(map(str, words)) if isinstance(words, list) else ()


@dataclass(frozen=True)
class QueryMood:
    """The mood heard in a query's audio (a file or a link embedded on the fly)."""

    valence: float
    arousal: float
    description: str | None

    def to_json(self) -> dict[str, Any]:
        return {"valence": self.valence, "arousal": self.arousal, "description": self.description}


@dataclass(frozen=True)
class SimilarQuery:
    """What a `similar` query was understood as: a catalogue track, an audio file or a link."""

    kind: Literal["track", "file", "link"]
    text: str  # the query as given (a file's label, the link)
    catalogue: Catalogue
    track: Track | None = None  # the catalogue track the query is (None: audio compared on the fly)
    mood: QueryMood | None = None  # audio compared on the fly: what it sounds like
    service: str | None = None  # links: who serves it

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text, "catalogue": self.catalogue,
                                "track": None if self.track is None else track_json(self.track)}
        if self.mood is not None:
            data["mood"] = self.mood.to_json()
        if self.service is not None:
            data["service"] = self.service
        return data


@dataclass(frozen=True)
class SimilarResult:
    query: SimilarQuery
    tracks: list[RecommendedTrack] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query.to_json(), "tracks": [t.to_json() for t in self.tracks]}


@dataclass(frozen=True)
class ChatResult:
    """The reply to a mood message: what we read, which strategy, which songs."""

    mood: MoodReading
    strategy: str
    tracks: list[RecommendedTrack]
    catalogue: Catalogue

    def to_json(self) -> dict[str, Any]:
        return {"mood": self.mood.to_json(), "strategy": self.strategy, "tracks": [t.to_json() for t in self.tracks]}

    @property
    def path(self) -> list[tuple[float, float]]:
        """The target points the strategy walked for these songs, in playing order (`match`: one point).

        Derived rather than stored (the same `strategy_targets` the search used, one per song), so every
        way of building a result carries it; the picture of the mood draws it.
        """
        from moodtape.core.mood.space import strategy_targets

        if self.strategy == "match" or not self.tracks:
            return [(self.mood.valence, self.mood.arousal)]
        return strategy_targets(self.mood.valence, self.mood.arousal, self.strategy, len(self.tracks))


@dataclass(frozen=True)
class TrackCounts:
    total: int
    ready: int
    pending: int
    failed: int
    metadata_only: int


@dataclass(frozen=True)
class CatalogueStats:
    """`moodtape stats`: what the database holds, and which catalogue the queries and the chat use."""

    database: str
    schema_version: int
    tracks: TrackCounts
    sources: dict[str, int]  # source kind -> tracks
    vectors: dict[str, dict[str, int]]  # vector kind -> model version -> vectors
    playlists: int
    playlist_entries: int
    feedback: int
    jobs: dict[str, int]  # job status -> jobs
    queries_use: Catalogue
    chat_uses: Catalogue
    demo_tracks: int | None = None  # set when either uses the demo
    ann: dict[str, Any] | None = None  # the approximate-search indexes: threshold, parameters, size of each

    @classmethod
    def from_store(cls, data: dict[str, Any], *, database: str, queries_use: Catalogue, chat_uses: Catalogue,
                   demo_tracks: int | None = None) -> CatalogueStats:
        """From `Store.stats()` plus what only the engine knows."""
        return cls(
            database=database, schema_version=data["schema_version"], tracks=TrackCounts(**data["tracks"]),
            sources=data["sources"], vectors=data["vectors"], playlists=data["playlists"]["count"],
            playlist_entries=data["playlists"]["entries"], feedback=data["feedback"], jobs=data["jobs"],
            queries_use=queries_use, chat_uses=chat_uses, demo_tracks=demo_tracks, ann=data.get("ann"),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tracks": asdict(self.tracks),
            "sources": self.sources,
            "vectors": self.vectors,
            "playlists": {"count": self.playlists, "entries": self.playlist_entries},
            "feedback": self.feedback,
            "jobs": self.jobs,
            "schema_version": self.schema_version,
            "database": self.database,
            "queries_use": self.queries_use,
            "chat_uses": self.chat_uses,
        }
        if self.ann is not None:
            data["ann"] = self.ann
        if self.demo_tracks is not None:
            data["demo_tracks"] = self.demo_tracks
        return data


def track_json(track: Track) -> dict[str, Any]:
    """A catalogue track as results show it (the query's track, a continuation's seeds)."""
    return {
        "id": track.id, "title": track.title, "artist": track.artist, "album": track.album,
        "source": track.source, "status": track.status,
    }


def print_json(data: Any) -> None:
    """The one JSON form every `--json` output uses (CLI and training commands alike): UTF-8, indented."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
