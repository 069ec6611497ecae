"""Field values of imported rows, checked one by one: text, ids, durations, and the track they make.

Files come from anywhere, so every value is checked for its type and range; a bad one raises `BadEntry`
with the reason shown in the report (never the value itself: it may be huge or hostile).  Both readers
(MPD and CSV) build `ImportItem`s through these helpers, so the same value is judged the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from moodtape.core.text import clean_text, match_key

#: Titles, artists, albums and names are cut here; URLs and ids longer than MAX_ID_CHARS are refused.
MAX_TEXT_CHARS = 1000
MAX_ID_CHARS = 4096
#: A track length above a week is not a track length.
MAX_DURATION_S = 7 * 24 * 3600.0


class BadEntry(Exception):
    """One row, playlist or track is unusable; the message is the reason shown in the report."""


@dataclass(frozen=True)
class ImportItem:
    """One track as a file describes it; `identity` is what the catalogue knows it by."""

    title: str
    artist: str | None
    album: str | None = None
    duration_s: float | None = None
    url: str | None = None
    external_id: str | None = None
    licence: str | None = None

    @cached_property
    def key(self) -> str:
        """The normalised artist + title (computed once: it is the costly part of a track)."""
        return match_key(self.artist, self.title)

    @property
    def identity(self) -> str:
        return self.external_id or f"catalogue:{self.key}"


_KINDS = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}


def kind(value: Any) -> str:
    """What a JSON value is, in words, for a skip reason."""
    return _KINDS.get(type(value), "null")


def show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def text(fields: dict[str, Any], key: str) -> str | None:
    """A text field, cleaned (controls and lone surrogates gone, cut to MAX_TEXT_CHARS); blank -> None."""
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEntry(f"{key} is {kind(value)}, not text")
    if value.isascii() and value.isprintable():  # nothing to clean: the common case, at a fraction of the cost
        # (printable ASCII has no controls and no surrogates, so clean_text would return it unchanged)
        return value[:MAX_TEXT_CHARS].strip() or None
    return clean_text(value, MAX_TEXT_CHARS).strip() or None


def ident(fields: dict[str, Any], key: str) -> str | None:
    """A URL or external id: cutting one would make it a different id, so a too long one is refused."""
    value = fields.get(key)
    if isinstance(value, str) and len(value) > MAX_ID_CHARS:
        raise BadEntry(f"{key} is longer than {MAX_ID_CHARS} characters")
    return text(fields, key)


def duration(fields: dict[str, Any], key: str, per_second: float) -> float | None:
    """A track length in seconds from a number or numeric text in `per_second` units; absent -> None."""
    value = fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if type(value) not in (str, int, float):
        raise BadEntry(f"{key} is {kind(value)}, not a number")
    try:
        seconds = float(value) / per_second
    except ValueError:
        raise BadEntry(f"{key} {show(value)} is not a number") from None
    except OverflowError:  # an int beyond float range
        seconds = math.inf
    if not 0 <= seconds <= MAX_DURATION_S:  # also false for NaN
        shown = f" {show(value)}" if isinstance(value, str) else ""
        raise BadEntry(f"{key}{shown} is not a track length (0 to {MAX_DURATION_S / 86400:.0f} days)")
    return seconds
