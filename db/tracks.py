"""Track rows: adding with dedupe, lookups by id / hash / external id / match key, search, status changes.

A track is added once however often it is seen: the content hash (files) or the external id (links,
catalogues) finds the existing row, so re-adding never makes a duplicate.  Filters run in SQL (statuses,
ids, due dates) so callers never load every track to pick a few.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import aiosqlite

from moodtape.db.connection import Database
from moodtape.db.models import TRACK_COLUMNS, NewTrack, Track, TrackStatus
from moodtape.db.sql import NOW, chunks, escape_like, marks
from moodtape.db.vectors import delete_vectors

__all__ = ["Tracks"]

_INSERT_COLUMNS = (
    "title, artist, album, duration_s, source_kind, source, external_id, content_hash, match_key, licence, "
    "added_by, status, error"
)
_INSERT_MARKS = marks(_INSERT_COLUMNS.count(",") + 1)


def _values(track: NewTrack) -> tuple[Any, ...]:
    """`track`'s values in the order of `_INSERT_COLUMNS`."""
    return (
        track.title, track.artist, track.album, track.duration_s, track.source_kind, track.source,
        track.external_id, track.content_hash, track.match_key, track.licence, track.added_by, track.status,
        track.error,
    )


class Tracks(Database):
    """Queries over the `tracks` table."""

    async def add_track(self, track: NewTrack) -> tuple[int, bool]:
        """Insert a track; if its content hash or external id is known, return the existing id instead.

        Returns (id, created).
        """
        async with self.transaction() as conn:
            existing = await self._existing_id(conn, track)
            if existing is not None:
                return existing, False
            cursor = await conn.execute(
                f"INSERT INTO tracks (id, {_INSERT_COLUMNS}) VALUES (?, {_INSERT_MARKS})",
                (track.id, *_values(track)),
            )
            return int(cursor.lastrowid), True

    @staticmethod
    async def _existing_id(conn: aiosqlite.Connection, track: NewTrack) -> int | None:
        for column, value in (("content_hash", track.content_hash), ("external_id", track.external_id)):
            if value is None:
                continue
            async with conn.execute(f"SELECT id FROM tracks WHERE {column} = ?", (value,)) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                return int(row[0])
        return None

    async def add_tracks_bulk(self, tracks: Sequence[NewTrack]) -> list[int]:
        """Insert many metadata rows at once (catalogue imports); known external ids are reused.

        Returns the id of every input track, in order.
        """
        if not tracks:
            return []
        keys = [t.external_id for t in tracks]
        if any(key is None for key in keys):
            raise ValueError("bulk inserts need an external_id on every track")
        async with self.transaction() as conn:
            await conn.executemany(
                f"INSERT INTO tracks ({_INSERT_COLUMNS}) VALUES ({_INSERT_MARKS}) ON CONFLICT DO NOTHING",
                [_values(t) for t in tracks],
            )
            found: dict[str, int] = {}
            for chunk in chunks(keys):
                async with conn.execute(
                    f"SELECT external_id, id FROM tracks WHERE external_id IN ({marks(len(chunk))})", chunk
                ) as cursor:
                    found.update((row[0], int(row[1])) for row in await cursor.fetchall())
            return [found[key] for key in keys]  # type: ignore[index]

    async def get_track(self, track_id: int) -> Track | None:
        return await self._track_where("id", track_id)

    async def get_tracks(self, ids: Iterable[int]) -> dict[int, Track]:
        found: dict[int, Track] = {}
        for chunk in chunks(int(i) for i in ids):
            sql = f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id IN ({marks(len(chunk))})"
            for row in await self._fetch_keyed(sql, chunk):
                found[row[0]] = Track.from_columns(row)
        return found

    async def find_by_hash(self, content_hash: str) -> Track | None:
        return await self._track_where("content_hash", content_hash)

    async def find_by_external_id(self, external_id: str) -> Track | None:
        return await self._track_where("external_id", external_id)

    async def _track_where(self, column: str, value: Any) -> Track | None:
        """The track whose unique `column` (a trusted name, never user text) equals `value`."""
        rows = await self._fetch_keyed(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE {column} = ?", (value,))
        return Track.from_columns(rows[0]) if rows else None

    async def find_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in chunks(external_ids):
            for row in await self._fetchall(
                f"SELECT external_id, id FROM tracks WHERE external_id IN ({marks(len(chunk))})", chunk
            ):
                found[row[0]] = int(row[1])
        return found

    async def find_by_match_key(self, match_keys: Sequence[str]) -> dict[str, int]:
        """match_key -> id of the best track with that key (ready tracks first, then the oldest)."""
        found: dict[str, int] = {}
        for chunk in chunks(match_keys):
            rows = await self._fetchall(
                f"SELECT match_key, id FROM tracks WHERE match_key IN ({marks(len(chunk))}) "
                "ORDER BY (status = 'ready') ASC, id DESC",
                chunk,
            )
            for row in rows:  # later rows win: ready first, then lowest id
                found[row[0]] = int(row[1])
        return found

    async def search_tracks(self, text: str, *, limit: int = 10, statuses: Sequence[str] | None = None) -> list[Track]:
        """Tracks whose "artist - title", title or album contains `text` (case-insensitive), best first.

        Exact title or "artist - title" matches rank above substring matches, then shorter titles.
        """
        needle = text.strip().lower()
        if not needle:
            return []
        like = "%" + escape_like(needle) + "%"
        status_sql = ""
        params: list[Any] = [needle, needle, like, like, like]
        if statuses:
            status_sql = f" AND status IN ({marks(len(statuses))})"
            params.extend(statuses)
        params.append(limit)
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS}, "
            "(lower(title) = ? OR lower(coalesce(artist, '') || ' - ' || title) = ?) AS exact "
            "FROM tracks WHERE (lower(coalesce(artist, '') || ' - ' || title) LIKE ? ESCAPE '\\' "
            "OR lower(title) LIKE ? ESCAPE '\\' OR lower(coalesce(album, '')) LIKE ? ESCAPE '\\')"
            f"{status_sql} ORDER BY exact DESC, (status = 'ready') DESC, length(title), id LIMIT ?",
            params,
        )
        return [Track.from_row(row) for row in rows]

    async def list_tracks(
        self,
        *,
        status: TrackStatus | None = None,
        limit: int | None = None,
        due_only: bool = False,
        ids: Collection[int] | None = None,
    ) -> list[Track]:
        """Tracks in id order, filtered in SQL: by status, by retry date (`due_only`) and to `ids` if given."""
        where: list[str] = []
        params: list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        if due_only:
            where.append(f"(next_attempt_at IS NULL OR next_attempt_at <= {NOW})")
        if ids is None:
            return await self._list_where(where, params, limit)
        # Ascending chunks of ascending ids concatenate into one id-ordered list; stop once `limit` is met.
        found: list[Track] = []
        for chunk in chunks(sorted(int(i) for i in ids)):
            left = None if limit is None else limit - len(found)
            if left is not None and left <= 0:
                break
            found += await self._list_where([*where, f"id IN ({marks(len(chunk))})"], [*params, *chunk], left)
        return found

    async def _list_where(self, where: list[str], params: list[Any], limit: int | None) -> list[Track]:
        sql = f"SELECT {TRACK_COLUMNS} FROM tracks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, limit]
        return [Track.from_row(row) for row in await self._fetchall(sql, params)]

    async def set_status(
        self,
        track_id: int,
        status: TrackStatus,
        error: str | None = None,
        *,
        next_attempt_at: str | None = None,
        count_attempt: bool = False,
    ) -> None:
        """Change a track's status; a track that stops being ready loses its audio and mood vectors in the same
        transaction (its CF vector comes from playlists, not from the audio, so it stays)."""
        async with self.transaction() as conn:
            await conn.execute(
                f"UPDATE tracks SET status = ?, error = ?, next_attempt_at = ?, "
                f"attempts = attempts + ?, updated_at = {NOW} WHERE id = ?",
                (status, error, next_attempt_at, 1 if count_attempt else 0, track_id),
            )
            if status != "ready":
                await delete_vectors(conn, ("audio", "mood"), track_id)

    async def backlog(self) -> tuple[int, int, int]:
        """(pending, of those due now, failed), counted in SQL: `moodtape jobs` on a large catalogue reads
        three numbers, not every waiting row."""
        row = await self._fetchone(
            "SELECT coalesce(sum(status = 'pending'), 0), "
            f"coalesce(sum(status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= {NOW})), 0), "
            "coalesce(sum(status = 'failed'), 0) FROM tracks"
        )
        return int(row[0]), int(row[1]), int(row[2])

    async def waiting_tracks(self, limit: int) -> list[Track]:
        """Pending tracks whose retry is not due yet (at most `limit`, in id order)."""
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE status = 'pending' AND next_attempt_at > {NOW} "
            "ORDER BY id LIMIT ?", (limit,))
        return [Track.from_row(row) for row in rows]

    async def latest_failed(self, limit: int) -> list[Track]:
        """The `limit` failed tracks with the highest ids, in id order."""
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE status = 'failed' ORDER BY id DESC LIMIT ?", (limit,))
        return [Track.from_row(row) for row in reversed(rows)]

    async def count_tracks(self, status: TrackStatus | None = None) -> int:
        if status is None:
            return (await self._fetchone("SELECT count(*) FROM tracks"))[0]
        return (await self._fetchone("SELECT count(*) FROM tracks WHERE status = ?", (status,)))[0]
