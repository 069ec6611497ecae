"""Track rows on PostgreSQL: the same queries as `db/tracks.py`, in PostgreSQL's dialect.

Differences that matter: id lists are one array parameter (`= ANY(%s)`) instead of chunked `IN (...)`
lists; an explicit id (the demo catalogue's range) moves the id sequence past it, as SQLite's rowid
allocation does, so later inserts never collide with it; booleans are counted with `FILTER`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection

from moodtape.db.models import TRACK_COLUMNS, NewTrack, Track, TrackStatus
from moodtape.db.pg.connection import NOW, PgDatabase
from moodtape.db.pg.vectors import delete_vectors
from moodtape.db.sql import escape_like

__all__ = ["PgTracks", "bump_sequence"]

_INSERT_COLUMNS = (
    "title, artist, album, duration_s, source_kind, source, external_id, content_hash, match_key, licence, "
    "added_by, status, error"
)
_INSERT_MARKS = ", ".join(["%s"] * (_INSERT_COLUMNS.count(",") + 1))


def _values(track: NewTrack) -> tuple[Any, ...]:
    return (
        track.title, track.artist, track.album, track.duration_s, track.source_kind, track.source,
        track.external_id, track.content_hash, track.match_key, track.licence, track.added_by, track.status,
        track.error,
    )


async def bump_sequence(conn: AsyncConnection, table: str) -> None:
    """Move `table`'s id sequence past its largest id (after rows were inserted with explicit ids)."""
    await conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"GREATEST((SELECT max(id) FROM {table}), 1), (SELECT max(id) FROM {table}) IS NOT NULL)"
    )


class PgTracks(PgDatabase):
    """Queries over the `tracks` table."""

    async def add_track(self, track: NewTrack) -> tuple[int, bool]:
        """Insert a track; if its content hash or external id is known, return the existing id instead.

        A concurrent insert of the same hash/id in another process is caught by the unique constraints
        (`ON CONFLICT DO NOTHING`) and answered with the winner's id.  Returns (id, created).
        """
        async with self.transaction() as conn:
            existing = await self._existing_id(conn, track)
            if existing is not None:
                return existing, False
            if track.id is not None:
                cur = await conn.execute(
                    f"INSERT INTO tracks (id, {_INSERT_COLUMNS}) VALUES (%s, {_INSERT_MARKS}) "
                    "ON CONFLICT DO NOTHING RETURNING id", (track.id, *_values(track)))
            else:
                cur = await conn.execute(
                    f"INSERT INTO tracks ({_INSERT_COLUMNS}) VALUES ({_INSERT_MARKS}) "
                    "ON CONFLICT DO NOTHING RETURNING id", _values(track))
            row = await cur.fetchone()
            if row is None:  # lost a race with another process: its row is the track
                existing = await self._existing_id(conn, track)
                if existing is None:
                    raise ValueError(f"track id {track.id} is taken")
                return existing, False
            if track.id is not None:
                await bump_sequence(conn, "tracks")
            return int(row[0]), True

    @staticmethod
    async def _existing_id(conn: AsyncConnection, track: NewTrack) -> int | None:
        for column, value in (("content_hash", track.content_hash), ("external_id", track.external_id)):
            if value is None:
                continue
            cur = await conn.execute(f"SELECT id FROM tracks WHERE {column} = %s", (value,))
            row = await cur.fetchone()
            if row is not None:
                return int(row[0])
        return None

    async def add_tracks_bulk(self, tracks: Sequence[NewTrack]) -> list[int]:
        """Insert many metadata rows at once (catalogue imports); known external ids are reused."""
        if not tracks:
            return []
        keys = [t.external_id for t in tracks]
        if any(key is None for key in keys):
            raise ValueError("bulk inserts need an external_id on every track")
        async with self.transaction() as conn:
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO tracks ({_INSERT_COLUMNS}) VALUES ({_INSERT_MARKS}) ON CONFLICT DO NOTHING",
                    [_values(t) for t in tracks],
                )
            cur = await conn.execute(
                "SELECT external_id, id FROM tracks WHERE external_id = ANY(%s)", (list(dict.fromkeys(keys)),))
            found = {row[0]: int(row[1]) for row in await cur.fetchall()}
            return [found[key] for key in keys]  # type: ignore[index]

    async def get_track(self, track_id: int) -> Track | None:
        return await self._track_where("id", int(track_id))

    async def get_tracks(self, ids: Iterable[int]) -> dict[int, Track]:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            return {}
        rows = await self._fetchall(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id = ANY(%s)", (wanted,))
        return {int(row["id"]): Track.from_row(row) for row in rows}

    async def find_by_hash(self, content_hash: str) -> Track | None:
        return await self._track_where("content_hash", content_hash)

    async def find_by_external_id(self, external_id: str) -> Track | None:
        return await self._track_where("external_id", external_id)

    async def _track_where(self, column: str, value: Any) -> Track | None:
        row = await self._fetchone(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE {column} = %s", (value,))
        return Track.from_row(row) if row else None

    async def find_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, int]:
        if not external_ids:
            return {}
        rows = await self._fetchall("SELECT external_id, id FROM tracks WHERE external_id = ANY(%s)",
                                    (list(dict.fromkeys(external_ids)),))
        return {row[0]: int(row[1]) for row in rows}

    async def find_by_match_key(self, match_keys: Sequence[str]) -> dict[str, int]:
        """match_key -> id of the best track with that key (ready tracks first, then the oldest)."""
        if not match_keys:
            return {}
        rows = await self._fetchall(
            "SELECT DISTINCT ON (match_key) match_key, id FROM tracks WHERE match_key = ANY(%s) "
            "ORDER BY match_key, (status = 'ready') DESC, id", (list(dict.fromkeys(match_keys)),))
        return {row[0]: int(row[1]) for row in rows}

    async def search_tracks(self, text: str, *, limit: int = 10, statuses: Sequence[str] | None = None) -> list[Track]:
        """Tracks whose "artist - title", title or album contains `text` (case-insensitive), best first."""
        needle = text.strip().lower()
        if not needle:
            return []
        like = "%" + escape_like(needle) + "%"
        status_sql = ""
        params: list[Any] = [needle, needle, like, like, like]
        if statuses:
            status_sql = " AND status = ANY(%s)"
            params.append(list(statuses))
        params.append(limit)
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS}, "
            "(lower(title) = %s OR lower(coalesce(artist, '') || ' - ' || title) = %s) AS exact "
            "FROM tracks WHERE (lower(coalesce(artist, '') || ' - ' || title) LIKE %s ESCAPE '\\' "
            "OR lower(title) LIKE %s ESCAPE '\\' OR lower(coalesce(album, '')) LIKE %s ESCAPE '\\')"
            f"{status_sql} ORDER BY exact DESC, (status = 'ready') DESC, length(title), id LIMIT %s",
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
            where.append("status = %s")
            params.append(status)
        if due_only:
            where.append(f"(next_attempt_at IS NULL OR next_attempt_at <= {NOW})")
        if ids is not None:
            where.append("id = ANY(%s)")
            params.append(sorted({int(i) for i in ids}))
        sql = f"SELECT {TRACK_COLUMNS} FROM tracks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
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
                f"UPDATE tracks SET status = %s, error = %s, next_attempt_at = %s, "
                f"attempts = attempts + %s, updated_at = {NOW} WHERE id = %s",
                (status, error, next_attempt_at, 1 if count_attempt else 0, track_id),
            )
            if status != "ready":
                await delete_vectors(conn, ("audio", "mood"), track_id)

    async def backlog(self) -> tuple[int, int, int]:
        """(pending, of those due now, failed), counted in SQL."""
        row = await self._fetchone(
            "SELECT count(*) FILTER (WHERE status = 'pending'), "
            f"count(*) FILTER (WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= {NOW})), "
            "count(*) FILTER (WHERE status = 'failed') FROM tracks"
        )
        return int(row[0]), int(row[1]), int(row[2])

    async def waiting_tracks(self, limit: int) -> list[Track]:
        """Pending tracks whose retry is not due yet (at most `limit`, in id order)."""
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE status = 'pending' AND next_attempt_at > {NOW} "
            "ORDER BY id LIMIT %s", (limit,))
        return [Track.from_row(row) for row in rows]

    async def latest_failed(self, limit: int) -> list[Track]:
        """The `limit` failed tracks with the highest ids, in id order."""
        rows = await self._fetchall(
            f"SELECT {TRACK_COLUMNS} FROM tracks WHERE status = 'failed' ORDER BY id DESC LIMIT %s", (limit,))
        return [Track.from_row(row) for row in reversed(rows)]

    async def count_tracks(self, status: TrackStatus | None = None) -> int:
        if status is None:
            return int((await self._fetchone("SELECT count(*) FROM tracks"))[0])
        return int((await self._fetchone("SELECT count(*) FROM tracks WHERE status = %s", (status,)))[0])
