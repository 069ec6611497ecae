"""JSON read one value at a time from a stream of text: the whole document is never in memory.

An MPD slice is one big object whose `playlists` list holds thousands of small objects.  `JsonStream` keeps
a window of the text and walks the outer structure itself (`{`, keys, `[`, commas); each inner value is
parsed by the standard library's C decoder (`raw_decode`) straight from the window, so values mean exactly
what `json.loads` makes of them (NaN, 1e400, lone surrogates, integers of any length through `parse_int`)
and deep nesting is still caught as a `RecursionError`.  When a value runs past the end of the window, more
text is read (the read size doubling each time, so a large value costs linear time) and the value is parsed
again; text before the current value is dropped, so memory is one value plus a chunk.

Errors are `ImportFormatError`s in the words `json.loads` would use, with the line and column in the whole
document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from moodtape.core.pipeline.documents import ImportFormatError
from moodtape.core.text import byte_size

__all__ = ["MAX_VALUE_CHARS", "JsonStream"]

#: The largest single value (one playlist, the `info` header) read into memory at once.
MAX_VALUE_CHARS = 64 * 1024 * 1024
#: A value that fails (or ends) this close to the end of the window may just be cut there (`-Infinit`,
#: `\u00e`, `1.` of `1.5`): more text is read and it is parsed again.
_TAIL = 16
_WHITESPACE = " \t\n\r"


def json_int(digits: str) -> int | float:
    """JSON integers; one too long for Python's int parsing (10**5000) becomes ±inf, refused where used."""
    try:
        return int(digits)
    except ValueError:
        return -math.inf if digits.startswith("-") else math.inf


_DECODER = json.JSONDecoder(parse_int=json_int)


class JsonStream:
    """A cursor over JSON text arriving in chunks; see the module docstring."""

    def __init__(self, name: str, texts: Iterator[str]) -> None:
        self.name = name
        self._texts = texts
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._lines_before = 0  # newlines in the text dropped from the window
        self._column_before = 0  # characters after the last of them, up to the window

    # ------------------------------------------------------------------------------------------ the window
    def _more(self, wanted: int) -> bool:
        """Read at least `wanted` more characters (or up to the end); False (the window untouched) at the end."""
        parts: list[str] = []
        got = 0
        while got < wanted and not self._eof:
            text = next(self._texts, None)
            if text is None:
                self._eof = True
            else:
                parts.append(text)
                got += len(text)
        if not parts:
            return False
        dropped = self._buf[:self._pos]
        newlines = dropped.count("\n")
        if newlines:
            self._lines_before += newlines
            self._column_before = len(dropped) - dropped.rfind("\n") - 1
        else:
            self._column_before += len(dropped)
        self._buf, self._pos = "".join([self._buf[self._pos:], *parts]), 0
        return True

    def _skip_space(self) -> str:
        """The next character that is not whitespace ("" at the end of the text), not consumed."""
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more(1):
                return ""

    # ------------------------------------------------------------------------------------------- errors
    def error(self, message: str, pos: int | None = None) -> ImportFormatError:
        """`message` at `pos` of the window (default: the cursor), as json.loads would say it."""
        pos = self._pos if pos is None else pos
        newline = self._buf.rfind("\n", 0, pos)
        line = self._lines_before + self._buf.count("\n", 0, pos) + 1
        column = pos - newline if newline >= 0 else self._column_before + pos + 1
        return ImportFormatError(f"{self.name}: not valid JSON at line {line}, column {column}: {message}")

    def _expect(self, char: str, message: str) -> None:
        if self._skip_space() != char:
            raise self.error(message)
        self._pos += 1

    # ------------------------------------------------------------------------------------------- values
    def value(self) -> Any:
        """The next JSON value, parsed whole (refused when it is larger than MAX_VALUE_CHARS)."""
        self._skip_space()
        while True:
            buf, pos = self._buf, self._pos
            try:
                value, end = _DECODER.raw_decode(buf, pos)
            except RecursionError as exc:
                raise ImportFormatError(
                    f"{self.name}: not valid JSON: nested too deeply for an MPD slice") from exc
            except json.JSONDecodeError as exc:
                maybe_cut = exc.pos >= len(buf) - _TAIL or exc.msg.startswith("Unterminated string")
                if maybe_cut and self._grow():
                    continue
                raise self.error(exc.msg, exc.pos) from exc
            if end > len(buf) - _TAIL and self._grow():  # a number may go on in the next chunk ("1" of "1.5")
                continue
            self._pos = end
            return value

    def _grow(self) -> bool:
        """More text for the value at the cursor; False at the end of the text."""
        size = len(self._buf) - self._pos
        if size > MAX_VALUE_CHARS:
            raise ImportFormatError(
                f"{self.name}: a value is larger than {byte_size(MAX_VALUE_CHARS)}; split the file")
        return self._more(max(size, 1))

    def at(self, char: str) -> bool:
        """Whether the next non-blank character is `char` (consumed when it is)."""
        if self._skip_space() == char:
            self._pos += 1
            return True
        return False

    def object_keys(self) -> Iterator[str]:
        """The keys of the object at the cursor, one by one; the caller reads (or skips) each value."""
        self._expect("{", "Expecting value")
        if self.at("}"):
            return
        while True:
            if self._skip_space() != '"':
                raise self.error("Expecting property name enclosed in double quotes")
            key = self.value()
            self._expect(":", "Expecting ':' delimiter")
            yield key
            if self.at("}"):
                return
            self._expect(",", "Expecting ',' delimiter")

    def array_items(self) -> Iterator[Any]:
        """The values of the array at the cursor, one by one."""
        self._expect("[", "Expecting value")
        if self.at("]"):
            return
        while True:
            yield self.value()
            if self.at("]"):
                return
            self._expect(",", "Expecting ',' delimiter")

    def peek(self) -> str:
        return self._skip_space()

    def end(self) -> None:
        """Refuse anything but whitespace after the document's one value."""
        if self._skip_space():
            raise self.error("Extra data")
