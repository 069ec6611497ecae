"""Audio people send to a bot: is it audio, what is it called, and reading it into memory within the cap.

Each chat library downloads its own way (`telegram.File.download_as_bytearray`, `discord.Attachment.read`);
`read_audio` wraps that call with the size checks, so a file too big is refused with the same sentence,
before downloading when the chat says how big it is, and after when it did not say or said wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import PurePath

from moodtape.core.audio.tags import AUDIO_EXTENSIONS
from moodtape.core.errors import UserError
from moodtape.core.text import byte_size

__all__ = ["AUDIO_EXTENSIONS", "guess_name", "looks_like_audio", "read_audio", "too_big"]

#: File name suffixes for MIME types chats send, for files that come without a name (voice notes).
_SUFFIXES = {
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/flac": ".flac",
    "audio/x-flac": ".flac", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a", "audio/aac": ".aac", "audio/opus": ".opus",
}


def guess_name(stem: str, mime_type: str | None) -> str:
    """A file name for audio that came without one: `stem` plus the suffix its MIME type implies."""
    return stem + _SUFFIXES.get((mime_type or "").lower(), "")


def looks_like_audio(name: str | None, mime_type: str | None) -> bool:
    """An audio MIME type, or a name with an audio suffix (clients often send audio as octet-stream)."""
    by_type = (mime_type or "").lower().startswith("audio/")
    return by_type or PurePath(name or "").suffix.lower() in AUDIO_EXTENSIONS


def too_big(name: str, size: int | None, limit: int, why: str | None = None) -> UserError:
    """The refusal of a file over `limit` bytes; `why` replaces the limit when a chat imposes its own."""
    how_big = f" ({byte_size(size)})" if size else ""
    return UserError(f"{name} is too big{how_big}: {why}" if why
                     else f"{name} is too big{how_big}; I take files up to {byte_size(limit)}.")


async def read_audio(
    name: str, size: int | None, limit: int, read: Callable[[], Awaitable[bytes | bytearray]], *,
    why: str | None = None,
) -> bytes | bytearray:
    """`read()`'s bytes, refusing more than `limit`: before reading when `size` (as the chat says) is over."""
    if size is not None and size > limit:
        raise too_big(name, size, limit, why)
    data = await read()
    if len(data) > limit:
        raise too_big(name, len(data), limit, why)
    return data  # no copy: the engine writes it to a temporary file as it is
