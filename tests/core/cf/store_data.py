"""A store holding the synthetic genre playlists (through the real importer), plus optional audio vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodtape.core.pipeline.importer import import_file
from moodtape.core.text import match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store
from tests.core.cf.synthetic import genre_playlists, write_mpd

AUDIO_VERSION = "test-audio-v1"


async def import_genres(store: Store, folder: Path, **kwargs: int) -> dict[str, int]:
    """Import the genre playlists; returns title -> track id."""
    await import_file(store, write_mpd(folder / "genres.json", genre_playlists(**kwargs)))
    return {t.title: t.id for t in await store.list_tracks()}


def genre_audio(genre: str, rng: np.random.Generator, spread: float = 0.3) -> np.ndarray:
    """A 128-d "audio" vector: a genre centre plus noise, so sound predicts the genre."""
    centre = np.zeros(128, dtype=np.float32)
    centre[:64] = 1.0 if genre == "A" else -1.0
    centre[64:] = 0.5
    vector = centre + rng.normal(0, spread, 128).astype(np.float32)
    return vector / np.linalg.norm(vector)


async def add_audio(store: Store, track_id: int, vector: np.ndarray) -> None:
    await store.mark_ready(track_id, {"audio": (vector, AUDIO_VERSION)})


async def add_audio_track(store: Store, title: str, artist: str, vector: np.ndarray) -> int:
    """A ready track with audio and no playlists (a fresh file nobody has playlisted yet)."""
    track_id, _ = await store.add_track(NewTrack(
        title=title, artist=artist, source_kind="file", source=f"/music/{title}.flac", content_hash=title,
        match_key=match_key(artist, title), status="pending",
    ))
    await add_audio(store, track_id, vector)
    return track_id
