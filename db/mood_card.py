"""What a reply shows of a track's mood, kept on the track's own row: its point, the model's version and
the words chosen for it at ingestion (`top_tags`).

A `similar` reply reads its five songs right after the search, when the CPU caches are cold.  Their mood
through sqlite-vec took two reads besides the tracks' own (the details from vec0's shadow table joined in,
the point from the mood index) and a JSON parse per song: 291 us for five songs on the 1M-track bench file,
against 136 us for the same songs' `tracks` rows with these four columns (one B-tree lookup each, the tags
split on a separator).  `vec_mood` stays the source of truth (searches, whole details, versions): every
write of a mood row sets the card in the same transaction (`db.vectors`: `_put_vector`, `put_vectors`,
`delete_vectors`) and migration 0004 filled it for the rows written before.  vec0 tables take no triggers,
so those three functions are the only way a mood row may be written (`db.copy` goes through them too).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiosqlite
import numpy as np

from moodtape.db.models import TRACK_COLUMNS, StoredVector
from moodtape.db.sql import marks

__all__ = ["CARD_COLUMNS", "TAG_SEPARATOR", "card_values", "clear_cards", "mood_of", "set_cards",
           "tracks_with_cards"]

#: The four columns of `tracks` that hold the card (NULL: the track has no mood row).
CARD_COLUMNS = "mood_valence, mood_arousal, mood_version, mood_tags"

#: Between two tags in `mood_tags` (ASCII's unit separator; a tag holding one has it replaced by a space).
TAG_SEPARATOR = "\x1f"

Card = tuple[float, float, str, str | None]

#: Where the card starts in a row of `tracks_with_cards` (after `TRACK_COLUMNS`).
_CARD_AT = len(TRACK_COLUMNS.split(","))


def card_values(point: np.ndarray, version: str, details: Mapping[str, Any] | None) -> Card:
    """The card of a mood row: `point` as stored (float32 valence, arousal), its version, its top tags."""
    words = (details or {}).get("top_tags")
    tags = None
    if isinstance(words, list) and words:
        tags = TAG_SEPARATOR.join(str(w).replace(TAG_SEPARATOR, " ") for w in words)
    return float(point[0]), float(point[1]), version, tags


async def set_cards(conn: aiosqlite.Connection, cards: Iterable[tuple[int, Card]]) -> None:
    """Write the cards of (track id, card) inside the caller's transaction (a missing track: nothing)."""
    await conn.executemany(
        "UPDATE tracks SET mood_valence = ?, mood_arousal = ?, mood_version = ?, mood_tags = ? WHERE id = ?",
        [(*card, int(track_id)) for track_id, card in cards],
    )


async def clear_cards(conn: aiosqlite.Connection, track_ids: Iterable[int]) -> None:
    """The tracks' mood rows were deleted (inside the caller's transaction): so are their cards."""
    await conn.executemany(
        "UPDATE tracks SET mood_valence = NULL, mood_arousal = NULL, mood_version = NULL, mood_tags = NULL "
        "WHERE id = ?", [(int(t),) for t in track_ids],
    )


@functools.lru_cache(maxsize=64)
def tracks_with_cards(count: int) -> str:
    """The statement reading `count` tracks by id (`TRACK_COLUMNS`, then `CARD_COLUMNS`), made once a size."""
    return f"SELECT {TRACK_COLUMNS}, {CARD_COLUMNS} FROM tracks WHERE id IN ({marks(count)})"


def mood_of(row: Sequence[Any]) -> StoredVector | None:
    """The mood row the card of a `tracks_with_cards` row stands for, with `top_tags` as its only detail;
    None when the track has no mood row."""
    valence, arousal, version, tags = row[_CARD_AT:]
    if version is None:
        return None
    details = {"top_tags": tags.split(TAG_SEPARATOR)} if tags else {}
    return StoredVector(row[0], [valence, arousal], version, details)
