"""Small SQL-text helpers shared by the store's concern modules.

They exist so every module writes timestamps, `IN (...)` lists and `LIKE` patterns the same way: one UTC
timestamp format that sorts as text, lists cut below SQLite's bound-variable limit, and wildcards escaped so
user text never acts as a pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["NOW", "chunks", "escape_like", "marks"]

T = TypeVar("T")

#: The current UTC time in the format every timestamp column uses (ISO 8601, sorts as text).
NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

#: Keys per `IN (...)` list: far below SQLite's bound-variable limit on every build (999 on old ones).
CHUNK = 500


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`values` without duplicates (first occurrence kept, order kept), cut into lists of at most `size`."""
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


def marks(count: int) -> str:
    """`count` placeholders, `?,?,...`, for a VALUES row or an `IN (...)` list."""
    return ",".join("?" * count)


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards escaped, for patterns written with `ESCAPE '\\'`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
