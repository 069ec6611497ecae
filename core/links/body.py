"""What a guarded GET gives back, and the capped reader every body goes through.

Content-Length is only a hint: the body is read as a stream and cut off at the byte cap, and a compressed
body is inflated under the same cap, so neither a lying header nor a gzip bomb can fill the disk or memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from moodtape.core.links.errors import TooBig, UnexpectedContent, host_of
from moodtape.core.text import byte_size

__all__ = ["Download", "Probe", "CappedBody", "content_length", "disposition_filename"]


@dataclass(frozen=True)
class Download:
    """An audio file written by `GuardedClient.download_audio`, sniffed and hashed while it streamed."""

    path: Path
    container: str
    size: int
    sha256: str
    url: str  # after redirects
    content_type: str | None


@dataclass(frozen=True)
class Probe:
    """The start of a link's body (`GuardedClient.probe_audio`): what it is, before any download."""

    head: bytes  # the first bytes of the body (up to the probe size)
    container: str | None
    url: str  # after redirects
    content_type: str | None
    content_length: int | None
    filename: str | None = None


@dataclass
class CappedBody:
    """Streaming reader with a byte cap that also applies after inflating a compressed body."""

    response: httpx.Response
    limit: int
    received: int = 0
    _inflater: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        encoding = (self.response.headers.get("content-encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("identity", ""):
            raise UnexpectedContent(f"{host_of(self.response.url)} sent {encoding}-compressed data we do not read")

    def _too_big(self) -> TooBig:
        return TooBig(f"the download is over the limit of {byte_size(self.limit)}")

    async def chunks(self) -> AsyncIterator[bytes]:
        async for raw in self.response.aiter_raw():
            if self._inflater is None:
                data = raw
            else:
                room = self.limit - self.received + 1
                data = self._inflater.decompress(raw, room)
                if self._inflater.unconsumed_tail:
                    raise self._too_big()
            self.received += len(data)
            if self.received > self.limit:
                raise self._too_big()
            if data:
                yield data


def content_length(response: httpx.Response) -> int | None:
    """The announced body size; None when absent, malformed, or of a compressed body (then it means nothing)."""
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return None


def disposition_filename(header: str | None) -> str | None:
    """The file name a Content-Disposition header suggests, made safe to use as a path component."""
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip().strip('"').replace("/", "_").replace("\\", "_")[:200] or None
    return None
