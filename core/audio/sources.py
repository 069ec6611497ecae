"""Where a catalogue track's audio comes from when it is a file on this machine, and reading such files safely.

Link tracks are fetched by `core.links` (downloaded into a temporary folder, deleted after use); file tracks
are read in place.  Both fit the same `open_source(track)` context-manager shape that embedding takes, so
the embedding step never needs to know which kind of track it has.

A file track's `source` is its absolute path.  A path whose name is not valid UTF-8 (bytes from another
system's file names) cannot be SQLite text, so it is stored as a `file://` URI with the bytes percent-encoded:
printable, and turned back into the very same path by `source_path` when the audio is read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

from moodtape.core.audio.decode import AudioError, check_file, path_error, stat_reason
from moodtape.db.models import Track

__all__ = ["file_digest", "file_hash", "open_file_source", "path_to_source", "source_path"]

_URI = "file://"


def path_to_source(path: Path) -> str:
    """What a file track stores as its `source`: the path itself, or a `file://` URI when it is not UTF-8."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _URI + quote_from_bytes(os.fsencode(text), safe="/")
    return text


def source_path(source: str) -> Path:
    """The path a file track's `source` names (the inverse of `path_to_source`)."""
    if source.startswith(_URI):
        return Path(os.fsdecode(unquote_to_bytes(source[len(_URI):])))
    return Path(source)


def file_digest(path: Path, max_file_bytes: int | None = None, chunk: int = 1 << 20) -> tuple[str, int]:
    """(sha256, size) of a regular file, checked before a byte is read; `AudioError` with the reason if not.

    The file is opened non-blocking and checked again on the open descriptor, so a file swapped for a FIFO
    or a device between the check and the open can neither block nor feed us forever; reading also stops
    at the size cap, for a file that grows while it is hashed.
    """
    check_file(path, max_file_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError) as exc:
        raise AudioError(path_error(exc), path) from exc
    digest = hashlib.sha256()
    size = 0
    try:
        reason = stat_reason(os.fstat(fd), max_file_bytes)
        if reason is not None:
            raise AudioError(reason, path)
        while block := os.read(fd, chunk):
            size += len(block)
            if max_file_bytes is not None and size > max_file_bytes:
                raise AudioError("file is too big (it grew while it was read)", path)
            digest.update(block)
    except OSError as exc:
        raise AudioError(path_error(exc), path) from exc
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def file_hash(path: Path, max_file_bytes: int | None = None) -> str:
    """The content hash tracks are de-duplicated by (see `file_digest` for the checks)."""
    return file_digest(path, max_file_bytes)[0]


@asynccontextmanager
async def open_file_source(track: Track) -> AsyncIterator[Path]:
    """The file of a file track; a track with no file (metadata only) has no audio to embed."""
    if track.source_kind != "file" or not track.source:
        raise AudioError("no audio to embed (metadata-only track)")
    yield source_path(track.source)
