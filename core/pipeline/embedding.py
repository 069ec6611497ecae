"""Audio -> every vector a track needs (content, mood), and pending tracks -> ready ones.

Decoding is the expensive part, so one decode feeds all models.  The CPU-heavy work runs in worker threads
(torch and the ffmpeg subprocess release the GIL), never on the event loop; results are written with
`Store.mark_ready`, one transaction per track, so a crash mid-batch leaves finished tracks ready and the rest
pending, and a re-run completes the batch exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from moodtape.core.audio.decode import AudioError, decode
from moodtape.core.audio.embedders import AudioEmbedder, load_audio_embedder
from moodtape.core.audio.musicnn_tags import stored_tags, top_tags
from moodtape.core.audio.sources import open_file_source
from moodtape.core.config import Settings
from moodtape.core.errors import MoodtapeError
from moodtape.core.mood.song_mood import SongMoodModel, load_song_mood_model
from moodtape.core.progress import Progress
from moodtape.db.models import Track
from moodtape.db.store import Store

if TYPE_CHECKING:
    from moodtape.core.audio.musicnn_embedder import MusicnnAnalyser

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrackVectors:
    audio: np.ndarray
    audio_version: str
    mood: np.ndarray
    mood_version: str
    mood_details: dict[str, Any]
    duration_s: float

    def as_store_vectors(self) -> dict[str, tuple[np.ndarray, str]]:
        return {"audio": (self.audio, self.audio_version), "mood": (self.mood, self.mood_version)}


class TrackEmbedder:
    """Holds the loaded models; `embed_file` is synchronous and thread-safe (inference only).

    Each model names the feature blocks it reads (the musicnn embedder and the song-mood model), so one
    analysis per track computes exactly the union: the handcrafted statistics only when something reads them,
    musicnn always, because its tags are what a person reads about a song.
    """

    def __init__(
        self,
        settings: Settings,
        device: str = "cpu",
        audio: AudioEmbedder | None = None,
        mood: SongMoodModel | None = None,
    ) -> None:
        # torch and the model code: imported once models load, not when the engine starts
        from moodtape.core.audio.descriptor import HandcraftedEmbedder
        from moodtape.core.audio.musicnn_embedder import (
            MusicnnEmbedder,
            analysis_patches,
            shared_analyser,
        )
        from moodtape.core.audio.musicnn_tags import load_tag_priors

        self.settings = settings
        self.device = device
        self.audio = audio or load_audio_embedder(device)
        self.mood = mood or load_song_mood_model()
        needed = set(self.mood.inputs) | set(getattr(self.audio, "blocks", ()))
        if isinstance(self.audio, HandcraftedEmbedder):
            self.descriptor: HandcraftedEmbedder | None = self.audio
        elif any(name.startswith("handcrafted") for name in needed):
            self.descriptor = HandcraftedEmbedder(device=device)
        else:
            self.descriptor = None
        # musicnn always runs: besides any model that reads its blocks, its tags are what people read
        self.musicnn: MusicnnAnalyser = (self.audio.analyser if isinstance(self.audio, MusicnnEmbedder)
                                         else shared_analyser(device, analysis_patches()))
        self.tag_priors = load_tag_priors()

    @property
    def versions(self) -> dict[str, str]:
        return {"audio": self.audio.version, "mood": self.mood.version}

    def embed_samples(self, samples: np.ndarray, duration_s: float) -> TrackVectors:
        blocks: dict[str, np.ndarray] = {}
        if self.descriptor is not None:
            raw = self.descriptor.raw(samples)
            blocks["handcrafted.raw"] = raw
            blocks["handcrafted"] = self.descriptor.finish(raw)
        heard = self.musicnn.analyse(samples)
        blocks.update(heard.blocks)
        tags = stored_tags(heard.tags, self.tag_priors)
        if self.audio is self.descriptor:
            audio = blocks["handcrafted"]
        elif hasattr(self.audio, "from_blocks"):
            audio = self.audio.from_blocks(blocks)
        else:
            audio = self.audio.embed(samples)
        reading = self.mood.predict_blocks(blocks)
        details = reading.details()
        if tags:
            details["tags"] = tags
            details["top_tags"] = top_tags(tags, self.tag_priors)
        return TrackVectors(
            audio=np.asarray(audio, dtype=np.float32),
            audio_version=self.audio.version,
            mood=np.asarray([reading.valence, reading.arousal], dtype=np.float32),
            mood_version=self.mood.version,
            mood_details=details,
            duration_s=duration_s,
        )

    def embed_file(self, path: Path) -> TrackVectors:
        decoded = decode(
            path,
            max_duration_s=self.settings.max_duration_s,
            max_file_bytes=self.settings.max_file_bytes,
            window_s=self.settings.analysis_s,
            ffmpeg=self.settings.ffmpeg,
        )
        return self.embed_samples(decoded.samples, decoded.duration_s)


#: Opens a track's audio as a local file for the time of the `async with` (files in place, links downloaded).
AudioSourceOpener = Callable[[Track], AbstractAsyncContextManager[Path]]


@dataclass
class EmbedReport:
    ready: list[int] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, file path or label, reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": len(self.ready),
            "failed": [{"id": tid, "track": label, "reason": reason} for tid, label, reason in self.failed],
        }


async def due_tracks(store: Store, limit: int | None = None) -> list[Track]:
    """Pending tracks whose (next) attempt is due and that have audio to fetch: what embedding takes next."""
    tracks = await store.list_tracks(status="pending", due_only=True,
                                     limit=None if limit is None else limit * 2 + 10)
    return [t for t in tracks if t.source_kind in ("file", "url")][:limit]


async def embed_tracks(
    store: Store,
    embedder: TrackEmbedder,
    tracks: list[Track],
    *,
    open_source: AudioSourceOpener = open_file_source,
    concurrency: int = 2,
    progress: Progress | None = None,
    on_transient: Callable[[Track, str], Awaitable[None]] | None = None,
) -> EmbedReport:
    """Embed `tracks` and flip each to ready (or failed, with the reason) as soon as it is done."""
    report = EmbedReport()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def one(track: Track) -> None:
        nonlocal done
        name = track.source if track.source_kind == "file" and track.source else track.label
        async with semaphore:
            try:
                async with open_source(track) as path:
                    vectors = await asyncio.to_thread(embedder.embed_file, path)
                await store.mark_ready(
                    track.id, vectors.as_store_vectors(), duration_s=vectors.duration_s,
                    details={"mood": vectors.mood_details},
                )
                report.ready.append(track.id)
            except AudioError as exc:
                await store.set_status(track.id, "failed", exc.reason, count_attempt=True)
                report.failed.append((track.id, name, exc.reason))
            except MoodtapeError as exc:  # a refused or unreachable link: retried later when transient
                if exc.transient and on_transient is not None:
                    await on_transient(track, str(exc))
                else:
                    await store.set_status(track.id, "failed", str(exc), count_attempt=True)
                report.failed.append((track.id, name, str(exc)))
            except Exception as exc:  # keep the batch going; the reason is kept on the row
                log.exception("embedding track %s failed", track.id)
                reason = f"internal error: {type(exc).__name__}: {exc}"[:300]
                await store.set_status(track.id, "failed", reason, count_attempt=True)
                report.failed.append((track.id, name, reason))
            finally:
                done += 1
                if progress is not None:
                    progress(done, len(tracks), track.label)

    await asyncio.gather(*(one(track) for track in tracks))
    return report
