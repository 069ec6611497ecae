"""Reading an import file as a stream of text, trusting nothing about it.

A file to import comes from anywhere: it may be a FIFO (which would block), a gzip bomb, a gzip stream cut
off halfway, a plain file named `.gz`, or text in another encoding.  `open_document` turns a path into a
`Document` or one `ImportFormatError` that names the file and, for bad text, the line and byte to look at.

Nothing holds the whole file: `Document.texts()` yields the text in chunks of about a megabyte (gzip is
recognised by content and inflated as it is read), so an import's memory does not grow with the file.
`open_document` first reads the file once through the same pipeline, keeping nothing: the bytes are cheap
to check (a few hundred ms for a 50 MB slice), and a file that is not gzip, not UTF-8 or too big is then
refused before the importer writes anything.  It also learns whether a gzip stream was cut off (`cut`).
"""

from __future__ import annotations

import codecs
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from moodtape.core.errors import UserError
from moodtape.core.text import byte_size

__all__ = ["MAX_DOCUMENT_BYTES", "Document", "ImportFormatError", "open_document"]

#: Largest document (after gunzip) we read: an MPD slice is ~50 MB; this stops gzip bombs and /dev/zero.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
#: Bytes read from the file, and at most inflated from it, per step: the unit of memory a stream holds.
BLOCK_BYTES = 1024 * 1024
#: Characters kept from the start of a document to tell its format.
HEAD_CHARS = 4096

_GZIP_MAGIC = b"\x1f\x8b"


class ImportFormatError(UserError):
    """The file is not a format we import; the message says what we expected."""


def _too_big(name: str) -> ImportFormatError:
    return ImportFormatError(f"{name}: larger than {byte_size(MAX_DOCUMENT_BYTES)}; split it into smaller files")


def _file_size(path: Path) -> int:
    """The size of a regular file we may read; the rest (missing, a FIFO, too big) refused before opening.

    (The audio side's `check_file` says the same for audio paths, but lives in `core.audio`, whose package
    imports torch: far too heavy for an import or an evaluation that reads a JSON file.)
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise ImportFormatError(f"{path}: no such file") from exc
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ImportFormatError(f"{path.name}: cannot be read ({reason})") from exc
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block, a device never end
        raise ImportFormatError(f"{path.name}: not a regular file")
    if info.st_size > MAX_DOCUMENT_BYTES:
        raise _too_big(path.name)
    return info.st_size


class _Reading:
    """One pass over the file: bytes -> (gunzip) -> UTF-8 text, with the position for errors and progress."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.name = path.name
        self.handle = handle
        self.cut = False  # known once the pass has ended
        self._decoded = 0  # document bytes decoded so far (after gunzip; the BOM included)
        self._lines = 0  # newlines in them

    @property
    def file_position(self) -> int:
        """Bytes of the file (compressed, if it is gzip) read so far: progress through the file."""
        return self.handle.tell()

    def _blocks(self) -> Iterator[bytes]:
        while block := self.handle.read(BLOCK_BYTES):
            yield block

    def _document_bytes(self) -> Iterator[bytes]:
        blocks = self._blocks()
        first = next(blocks, b"")
        rest = first
        while len(rest) < 2 and (more := next(blocks, b"")):
            rest += more
        if rest[:2] == _GZIP_MAGIC:  # by content, not by name: a plain file called .gz is read as plain text
            yield from self._gunzip(rest, blocks)
            return
        total = len(rest)
        yield rest
        for block in blocks:
            total += len(block)
            if total > MAX_DOCUMENT_BYTES:  # the file grew after the stat
                raise _too_big(self.name)
            yield block

    def _gunzip(self, data: bytes, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """Every gzip member; a stream cut off (or corrupt) after some output sets `cut` and ends early."""
        produced = 0
        inflater = zlib.decompressobj(wbits=31)
        while True:
            try:
                while True:  # until this input is used up and nothing is left inside zlib either
                    out = inflater.decompress(data, BLOCK_BYTES)
                    data = inflater.unconsumed_tail
                    produced += len(out)
                    if produced > MAX_DOCUMENT_BYTES:
                        raise _too_big(self.name)
                    if out:
                        yield out
                    if inflater.eof or (not data and len(out) < BLOCK_BYTES):
                        break
            except zlib.error as exc:
                if not produced:
                    raise ImportFormatError(f"{self.name}: not a valid gzip file ({exc})") from exc
                self.cut = True
                return
            if inflater.eof:  # another member may follow; anything else after a member is ignored
                data = inflater.unused_data
                while len(data) < 2 and (more := next(blocks, b"")):
                    data += more
                if data[:2] != _GZIP_MAGIC:
                    return
                inflater = zlib.decompressobj(wbits=31)
                continue
            data = next(blocks, b"")
            if not data:
                if not produced:
                    raise ImportFormatError(f"{self.name}: the gzip file is truncated before its first row")
                self.cut = True
                return

    def texts(self) -> Iterator[str]:
        """UTF-8 text in chunks (a BOM dropped); anything else refused naming the line and byte to look at."""
        pending = b""
        started = False
        for block in self._document_bytes():
            pending += block
            if not started:
                if len(pending) < len(codecs.BOM_UTF8) and codecs.BOM_UTF8.startswith(pending):
                    continue  # too short yet to tell whether it starts with a BOM
                pending, started = self._without_bom(pending), True
            text, consumed = self._decode(pending, final=False)
            pending = pending[consumed:]  # at most the first bytes of one character
            if text:
                yield text
        if not started:
            pending = self._without_bom(pending)
        if self.cut:  # the cut fell inside a character: its first bytes are dropped
            pending = b""
        text, _ = self._decode(pending, final=True)
        if text:
            yield text

    def _without_bom(self, data: bytes) -> bytes:
        if data.startswith(codecs.BOM_UTF8):
            self._decoded = len(codecs.BOM_UTF8)
            return data[len(codecs.BOM_UTF8):]
        return data

    def _decode(self, data: bytes, *, final: bool) -> tuple[str, int]:
        try:
            text, consumed = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as exc:
            offset = self._decoded + exc.start
            line = self._lines + data.count(b"\n", 0, exc.start) + 1
            raise ImportFormatError(
                f"{self.name}: not UTF-8 text (line {line}, byte {offset}); save it as UTF-8 and import it again"
            ) from exc
        self._decoded += consumed
        self._lines += data.count(b"\n", 0, consumed)
        return text, consumed


@dataclass(frozen=True)
class Document:
    """A checked import file: its first characters, whether its gzip stream was cut off, and its text.

    `texts()` reads the file again from the start each time it is called; `progress` (when given) is told
    how many bytes of the file have been read, out of `size`.
    """

    path: Path
    name: str
    size: int
    head: str
    cut: bool = False

    def texts(self, progress: Callable[[int], None] | None = None) -> Iterator[str]:
        with open(self.path, "rb") as handle:
            reading = _Reading(self.path, handle)
            for text in reading.texts():
                yield text
                if progress is not None:
                    progress(reading.file_position)


def open_document(path: Path) -> Document:
    """Check `path` end to end (regular file, size, gzip, UTF-8) without keeping its text; see the module."""
    size = _file_size(path)
    head: list[str] = []
    kept = 0
    try:
        with open(path, "rb") as handle:
            reading = _Reading(path, handle)
            for text in reading.texts():
                if kept < HEAD_CHARS:
                    head.append(text[:HEAD_CHARS - kept])
                    kept += len(head[-1])
    except OSError as exc:
        raise ImportFormatError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    return Document(path, path.name, size, "".join(head), reading.cut)
