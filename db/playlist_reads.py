"""Reads of playlists and votes whose SQL is the same on SQLite and PostgreSQL (no parameters, no dialect).

Both stores inherit them (`Playlists` for SQLite, `PgStore`), so a query written here is written once; the
queries that take parameters stay in each store, which spell placeholders their own way (`?` / `%s`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["PlaylistReads"]


class PlaylistReads:
    """Mixed into a store that provides `_fetchall` and `_fetchone` (declared here, defined by the store)."""

    _fetchall: Callable[[str, Sequence[Any]], Awaitable[list[Any]]]
    _fetchone: Callable[[str, Sequence[Any]], Awaitable[Any]]

    async def playlist_pairs(self) -> list[tuple[int, int]]:
        """All (playlist id, track id) memberships: the input of collaborative models."""
        rows = await self._fetchall(
            "SELECT playlist_id, track_id FROM playlist_tracks ORDER BY playlist_id, position", ())
        return [(int(r[0]), int(r[1])) for r in rows]

    async def playlist_names(self) -> list[tuple[int, str]]:
        """Every playlist as (id, name), by id: what a title is matched against (`core.recommend.title`)."""
        rows = await self._fetchall("SELECT id, name FROM playlists ORDER BY id", ())
        return [(int(r[0]), str(r[1])) for r in rows]

    async def playlist_stamp(self) -> tuple[int, int]:
        """(count, largest id) of the playlists: changes whenever playlists are added or deleted, so a cache
        built from them (the title index) knows when to rebuild, at the cost of one indexed query."""
        row = await self._fetchone("SELECT count(*), coalesce(max(id), 0) FROM playlists", ())
        return int(row[0]), int(row[1])

    async def feedback(self) -> list[tuple[int, str, int]]:
        """Every vote as (track id, user ref, +1/-1), oldest first."""
        rows = await self._fetchall("SELECT track_id, user_ref, value FROM feedback ORDER BY id", ())
        return [(int(r[0]), r[1], int(r[2])) for r in rows]
