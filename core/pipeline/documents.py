"""Reading an import file as text, trusting nothing about it.

A file to import comes from anywhere: it may be a FIFO (which would block), a gzip bomb, a gzip stream cut
off halfway, a plain file named `.gz`, or text in another encoding.  This module turns a path into one
`Document` (UTF-8 text, a BOM dropped, gzip recognised by content) or one `ImportFormatError` that names the
file and, for bad text, the line and byte to look at; the importer then reads rows out of the text.
"""

from __future__ import annotations

import codecs
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from moodtape.core.errors import UserError
from moodtape.core.text import byte_size

__all__ = ["MAX_DOCUMENT_BYTES", "Document", "ImportFormatError", "load_document"]

#: Largest document (after gunzip) we read: an MPD slice is ~33 MB; this stops gzip bombs and /dev/zero.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


class ImportFormatError(UserError):
    """The file is not a format we import; the message says what we expected."""


@dataclass(frozen=True)
class Document:
    """A file's text; `cut` when its gzip stream ended early (the text stops where the file does)."""

    name: str
    text: str
    cut: bool = False


def _too_big(name: str) -> ImportFormatError:
    return ImportFormatError(f"{name}: larger than {byte_size(MAX_DOCUMENT_BYTES)}; split it into smaller files")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file (a FIFO would block) or too big, before reading."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ImportFormatError(f"{path.name}: not a regular file")
        if info.st_size > MAX_DOCUMENT_BYTES:
            raise _too_big(path.name)
        with open(path, "rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError as exc:
        raise ImportFormatError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ImportFormatError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc


def _gunzip(raw: bytes, name: str) -> tuple[bytes, bool]:
    """Every gzip member of `raw`, and whether the stream was cut off (what came before the cut is kept)."""
    out = bytearray()
    rest = raw
    while rest[:2] == _GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, MAX_DOCUMENT_BYTES + 1 - len(out))
        except zlib.error as exc:
            if not out:
                raise ImportFormatError(f"{name}: not a valid gzip file ({exc})") from exc
            return bytes(out), True
        if len(out) > MAX_DOCUMENT_BYTES:
            raise _too_big(name)
        if not inflater.eof:
            if not out:
                raise ImportFormatError(f"{name}: the gzip file is truncated before its first row")
            return bytes(out), True
        rest = inflater.unused_data
    return bytes(out), False


def _decode(raw: bytes, name: str, cut: bool) -> str:
    """UTF-8 text (a BOM is dropped); anything else is refused naming the line and byte to look at."""
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.reason == "unexpected end of data":  # the gzip cut fell inside a character
            return raw[skip:skip + exc.start].decode("utf-8")
        offset = skip + exc.start
        line = raw.count(b"\n", 0, offset) + 1
        raise ImportFormatError(
            f"{name}: not UTF-8 text (line {line}, byte {offset}); save it as UTF-8 and import it again"
        ) from exc


def load_document(path: Path) -> Document:
    raw = _read_bytes(path)
    cut = False
    if raw[:2] == _GZIP_MAGIC:  # by content, not by name: a plain file called .gz is read as plain text
        raw, cut = _gunzip(raw, path.name)
    elif len(raw) > MAX_DOCUMENT_BYTES:
        raise _too_big(path.name)
    return Document(path.name, _decode(raw, path.name, cut), cut)
