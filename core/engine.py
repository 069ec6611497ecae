"""The one object every front end talks to.

Front ends parse input, call an `Engine` method and render what comes back; everything that decides what
to recommend lives behind this facade.  Models load lazily (first use, in a worker thread) so a bot starts in
a second and commands that need no model never pay for one.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import demo
from core.audio.decode import AudioError
from core.config import Settings
from core.device import resolve_device
from core.embedding import EmbedReport, Progress, TrackEmbedder, embed_tracks
from core.errors import QueryError, UserError
from core.importer import ImportReport, import_file
from core.ingest import AddReport, add_files, file_hash
from core.mood_match import songs_for_mood
from core.moods import STRATEGIES
from core.results import RecommendedTrack, SimilarResult, track_json
from core.similar import audio_neighbours, find_track
from db.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatResult:
    """The reply to a mood message: what we read, which strategy, which songs."""

    mood: Any  # core.emotion.MoodReading
    strategy: str
    tracks: list[RecommendedTrack]
    catalogue: str

    def to_json(self) -> dict[str, Any]:
        return {"mood": self.mood.to_json(), "strategy": self.strategy, "tracks": [t.to_json() for t in self.tracks]}


class Engine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.device = resolve_device(settings.device)
        self._embedder: TrackEmbedder | None = None
        self._mood_reader: Any = None
        self._demo: Store | None = None
        self._load_lock = asyncio.Lock()

    @classmethod
    async def open(cls, settings: Settings) -> "Engine":
        store = await Store.open(settings.db_path)
        return cls(settings, store)

    async def close(self) -> None:
        if self._demo is not None:
            await self._demo.close()
            self._demo = None
        await self.store.close()

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ components
    async def embedder(self) -> TrackEmbedder:
        async with self._load_lock:
            if self._embedder is None:
                self._embedder = await asyncio.to_thread(TrackEmbedder, self.settings, self.device)
            return self._embedder

    async def mood_reader(self) -> Any:
        async with self._load_lock:
            if self._mood_reader is None:
                from core.emotion import MoodReader

                self._mood_reader = await asyncio.to_thread(MoodReader, self.settings, self.device)
            return self._mood_reader

    async def catalogue(self) -> tuple[Store, str]:
        """The store queries run against: the user's database, or the bundled demo while it has no music."""
        mode = self.settings.demo
        if mode == "never" or (mode == "auto" and await self.store.count_tracks("ready") > 0):
            return self.store, "database"
        if self._demo is None:
            self._demo = await demo.open_demo(self.settings.db_path)
        return self._demo, "demo"

    # ------------------------------------------------------------------ catalogue changes
    async def add_files(
        self,
        paths: list[Path],
        *,
        added_by: str | None = None,
        licence: str | None = None,
        embed: bool = True,
        progress: Progress | None = None,
        embed_progress: Progress | None = None,
    ) -> tuple[AddReport, EmbedReport | None]:
        report = await add_files(
            self.store, paths, added_by=added_by, licence=licence,
            max_file_bytes=self.settings.max_file_bytes, progress=progress,
        )
        if not embed:
            return report, None
        ids = {track_id for track_id, _ in report.added}
        pending = [t for t in await self.store.list_tracks(status="pending") if t.id in ids]
        return report, await self.embed(pending, progress=embed_progress)

    async def embed_pending(self, limit: int | None = None, progress: Progress | None = None) -> EmbedReport:
        tracks = await self.store.list_tracks(status="pending", due_only=True, limit=limit)
        tracks = [t for t in tracks if t.source_kind == "file"]
        return await self.embed(tracks, progress=progress)

    async def embed(self, tracks: list[Any], progress: Progress | None = None) -> EmbedReport:
        if not tracks:
            return EmbedReport()
        embedder = await self.embedder()
        return await embed_tracks(self.store, embedder, tracks, progress=progress)

    async def import_file(self, path: Path, progress: Progress | None = None) -> ImportReport:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        return await import_file(self.store, path, progress=progress)

    async def feedback(self, track_id: int, user_ref: str, value: int, context: dict[str, Any] | None = None) -> None:
        """Store a 👍/👎 in whichever catalogue the recommendation came from."""
        store, _ = await self.catalogue()
        if await store.get_track(track_id) is None:
            raise QueryError(f"there is no track #{track_id} any more")
        await store.add_feedback(track_id, user_ref, value, context)

    # ------------------------------------------------------------------ queries
    async def similar(self, query: str, k: int | None = None) -> SimilarResult:
        """Songs like a catalogue track (id, "artist - title", title words) or an audio file path."""
        k = k or self.settings.default_k
        text = query.strip()
        candidate = Path(text).expanduser()
        if text and candidate.is_file():
            return await self.similar_to_file(candidate, k)
        store, catalogue = await self.catalogue()
        track = await find_track(store, text)
        stored = await store.get_vector("audio", track.id)
        if stored is None:
            state = {"pending": "is waiting to be embedded", "failed": f"could not be embedded ({track.error})",
                     "metadata_only": "has no audio (metadata only)"}.get(track.status, "has no audio vector")
            raise QueryError(f"\"{track.label}\" {state}, so I cannot compare how it sounds yet")
        vector = np.asarray(stored.vector, dtype=np.float32)
        tracks = await audio_neighbours(store, vector, stored.model_version, k, exclude={track.id}, query_track=track)
        query_info = {"kind": "track", "text": text, "catalogue": catalogue, "track": track_json(track)}
        return SimilarResult(query=query_info, tracks=tracks)

    async def similar_to_file(self, path: Path, k: int | None = None, *, label: str | None = None) -> SimilarResult:
        """Songs like an audio file that need not be in the catalogue (a shared clip, a voice note)."""
        k = k or self.settings.default_k
        store, catalogue = await self.catalogue()
        query_info: dict[str, Any] = {"kind": "file", "text": label or str(path), "catalogue": catalogue, "track": None}
        try:
            digest = await asyncio.to_thread(file_hash, path)
        except OSError as exc:
            raise UserError(f"cannot read {label or path.name}: {exc.strerror or exc}") from exc
        known = await store.find_by_hash(digest)
        if known is not None and known.status == "ready":
            query_info["track"] = track_json(known)
            return await self._similar_to_track(store, known, k, query_info)
        embedder = await self.embedder()
        try:
            vectors = await asyncio.to_thread(embedder.embed_file, path)
        except AudioError as exc:
            raise UserError(f"{label or path.name}: {exc.reason}") from exc
        tracks = await audio_neighbours(store, vectors.audio, vectors.audio_version, k)
        query_info["mood"] = {"valence": round(float(vectors.mood[0]), 3), "arousal": round(float(vectors.mood[1]), 3),
                              "description": vectors.mood_details.get("description")}
        return SimilarResult(query=query_info, tracks=tracks)

    async def similar_to_bytes(self, data: bytes, k: int | None = None, *, label: str = "clip") -> SimilarResult:
        """Like `similar_to_file` for audio a bot received in memory; the bytes are deleted right after."""
        suffix = Path(label).suffix or ".bin"
        with tempfile.TemporaryDirectory(prefix="moodtape-clip-") as folder:
            path = Path(folder) / f"clip{suffix}"
            await asyncio.to_thread(path.write_bytes, data)
            return await self.similar_to_file(path, k, label=label)

    async def _similar_to_track(self, store: Store, track: Any, k: int, query_info: dict[str, Any]) -> SimilarResult:
        stored = await store.get_vector("audio", track.id)
        if stored is None:
            raise QueryError(f"\"{track.label}\" has no audio vector yet")
        tracks = await audio_neighbours(
            store, np.asarray(stored.vector, dtype=np.float32), stored.model_version, k,
            exclude={track.id}, query_track=track,
        )
        return SimilarResult(query=query_info, tracks=tracks)

    async def read_mood(self, text: str) -> Any:
        reader = await self.mood_reader()
        return (await reader.aread([text]))[0]

    async def chat(self, text: str, k: int | None = None, strategy: str = "match") -> ChatResult:
        """Read the mood of `text` and pick songs for it with `strategy` (match, lift, calm, energize)."""
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy \"{strategy}\"; choose one of {', '.join(STRATEGIES)}")
        k = k or self.settings.default_k
        reading = await self.read_mood(text)
        store, catalogue = await self.catalogue()
        tracks = await songs_for_mood(store, reading.valence, reading.arousal, strategy, k)
        return ChatResult(mood=reading, strategy=strategy, tracks=tracks, catalogue=catalogue)

    async def strategy_for(self, user_ref: str) -> str:
        """The strategy a chat user chose with /strategy (default `match`); kept in the database."""
        chosen = await self.store.get_pref(user_ref, "strategy")
        return chosen if chosen in STRATEGIES else "match"

    async def set_strategy(self, user_ref: str, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy \"{strategy}\"; choose one of {', '.join(STRATEGIES)}")
        await self.store.set_pref(user_ref, "strategy", strategy)

    async def stats(self) -> dict[str, Any]:
        data = await self.store.stats()
        data["database"] = str(self.settings.db_path)
        store, catalogue = await self.catalogue()
        data["queries_use"] = catalogue
        if catalogue == "demo":
            data["demo_tracks"] = await store.count_tracks("ready")
        return data
