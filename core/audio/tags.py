"""Title/artist/album/duration from a file's tags (mutagen), with the file name as a fallback.

Every text comes back printable and storable (`printable`): a file name that is not UTF-8 or a tag with a
lone surrogate must not reach SQLite or a terminal as a str they refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mutagen

from moodtape.core.audio.decode import printable
from moodtape.core.text import split_artist_title

AUDIO_EXTENSIONS = frozenset(
    {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".wave", ".m4a", ".aac", ".mp4", ".wma", ".aif",
     ".aiff", ".webm", ".mka", ".alac", ".ape", ".wv"}
)


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str | None
    album: str | None
    duration_s: float | None


def _first(tags: object, *keys: str) -> str | None:
    if not tags:
        return None
    for key in keys:
        try:
            value = tags.get(key)  # type: ignore[attr-defined]
        except (KeyError, ValueError, TypeError):
            continue
        if value:
            text = printable(str(value[0] if isinstance(value, list) else value)).strip()
            if text:
                return text
    return None


def read_tags(path: Path) -> Tags:
    """Best-effort tags; never raises for unreadable tags (the decoder decides whether the audio is usable)."""
    title = artist = album = None
    duration = None
    try:
        meta = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on odd files; tags are optional
        meta = None
    if meta is not None:
        title = _first(meta.tags, "title")
        artist = _first(meta.tags, "artist", "albumartist", "composer")
        album = _first(meta.tags, "album")
        info = getattr(meta, "info", None)
        length = getattr(info, "length", None)
        if isinstance(length, (int, float)) and length > 0:
            duration = float(length)
    if not title:
        stem = printable(path.stem)
        guessed_artist, guessed_title = split_artist_title(stem.replace("_", " "))
        title = guessed_title or stem
        artist = artist or guessed_artist
    return Tags(title=title, artist=artist, album=album, duration_s=duration)
