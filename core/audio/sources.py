"""Where a catalogue track's audio comes from when it is a file on this machine.

Link tracks are fetched by `core.links` (downloaded into a temporary folder, deleted after use); file tracks
are read in place.  Both fit the same `open_source(track)` context-manager shape that embedding takes, so
the embedding step never needs to know which kind of track it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from moodtape.core.audio.decode import AudioError
from moodtape.db.models import Track

__all__ = ["open_file_source"]


@asynccontextmanager
async def open_file_source(track: Track) -> AsyncIterator[Path]:
    """The file of a file track; a track with no file (metadata only) has no audio to embed."""
    if track.source_kind != "file" or not track.source:
        raise AudioError("no audio to embed (metadata-only track)")
    yield Path(track.source)
