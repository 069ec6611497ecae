"""The async store: tracks, vectors (sqlite-vec), playlists, feedback and jobs in one SQLite file.

One aiosqlite connection per process serialises statements on its worker thread, so the event loop never
blocks on disk.  Multi-statement changes go through `transaction()` (BEGIN IMMEDIATE) so a crash leaves either
all of a change or none of it; WAL mode lets a worker process and a bot process share the file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np

from db import migrate
from db.connect import Driver, connector, pick_driver
from db.models import (
    TRACK_COLUMNS,
    VECTOR_DIMS,
    Job,
    Neighbor,
    NewTrack,
    StoredVector,
    Track,
    TrackStatus,
)

_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


class StoreError(RuntimeError):
    """A storage problem worth showing to a person (bad path, newer schema, ...)."""


def _blob(vector: Sequence[float] | np.ndarray, kind: str) -> bytes:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    expected = VECTOR_DIMS[kind]
    if array.shape[0] != expected:
        raise ValueError(f"{kind} vectors have {expected} dimensions, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{kind} vector has NaN or infinite values")
    return array.tobytes()


def _table(kind: str) -> str:
    if kind not in VECTOR_DIMS:
        raise ValueError(f"unknown vector kind {kind!r}; expected one of {sorted(VECTOR_DIMS)}")
    return f"vec_{kind}"


class Store:
    """Async access to one Moodtape database file (or `:memory:`)."""

    def __init__(self, conn: aiosqlite.Connection, path: str, driver: Driver) -> None:
        self._conn = conn
        self.path = path
        self.driver = driver
        self._tx_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    async def open(cls, path: Path | str, *, create: bool = True) -> "Store":
        """Open (creating the file and its folder if allowed), enable WAL, apply migrations."""
        location = str(path)
        if location != ":memory:":
            file = Path(location).expanduser()
            if not file.exists():
                if not create:
                    raise StoreError(f"database {file} does not exist")
                try:
                    file.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for database {file}: {exc}") from exc
            elif file.is_dir():
                raise StoreError(f"database path {file} is a directory")
            location = str(file)
        driver = pick_driver()
        conn = aiosqlite.Connection(connector(location, driver, isolation_level=None), iter_chunk_size=256)
        try:
            await conn
        except Exception as exc:  # driver-specific OperationalError
            raise StoreError(f"cannot open database {location}: {exc}") from exc
        store = cls(conn, location, driver)
        try:
            if location != ":memory:":
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
            await conn._execute(migrate.apply, conn._conn)  # noqa: SLF001 - run on the connection thread
        except Exception as exc:
            await conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot prepare database {location}: {exc}") from exc
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        async with self._tx_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def schema_version(self) -> int:
        return (await self._fetchone("PRAGMA user_version"))[0]

    # ------------------------------------------------------------------ tracks
    async def add_track(self, track: NewTrack) -> tuple[int, bool]:
        """Insert a track; if its content hash or external id is known, return the existing id instead.

        Returns (id, created).
        """
        async with self.transaction() as conn:
            existing = await self._existing_id(conn, track)
            if existing is not None:
                return existing, False
            cursor = await conn.execute(
                "INSERT INTO tracks (id, title, artist, album, duration_s, source_kind, source, external_id, "
                "content_hash, match_key, licence, added_by, status, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    track.id, track.title, track.artist, track.album, track.duration_s, track.source_kind, track.source,
                    track.external_id, track.content_hash, track.match_key, track.licence, track.added_by,
                    track.status, track.error,
                ),
            )
            return int(cursor.lastrowid), True

    async def _existing_id(self, conn: aiosqlite.Connection, track: NewTrack) -> int | None:
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
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT INTO tracks (title, artist, album, duration_s, source_kind, source, external_id, "
                "content_hash, match_key, licence, added_by, status, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        t.title, t.artist, t.album, t.duration_s, t.source_kind, t.source, t.external_id,
                        t.content_hash, t.match_key, t.licence, t.added_by, t.status, t.error,
                    )
                    for t in tracks
                ],
            )
            ids: list[int] = []
            for start in range(0, len(tracks), 500):
                chunk = tracks[start:start + 500]
                keys = [t.external_id for t in chunk]
                if any(key is None for key in keys):
                    raise ValueError("bulk inserts need an external_id on every track")
                marks = ",".join("?" * len(keys))
                async with conn.execute(
                    f"SELECT external_id, id FROM tracks WHERE external_id IN ({marks})", keys
                ) as cursor:
                    found = {row[0]: int(row[1]) for row in await cursor.fetchall()}
                ids.extend(found[key] for key in keys)
            return ids

    async def get_track(self, track_id: int) -> Track | None:
        row = await self._fetchone(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id = ?", (track_id,))
        return Track.from_row(row) if row else None

    async def get_tracks(self, ids: Iterable[int]) -> dict[int, Track]:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        found: dict[int, Track] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in await self._fetchall(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id IN ({marks})", chunk):
                found[row["id"]] = Track.from_row(row)
        return found

    async def find_by_hash(self, content_hash: str) -> Track | None:
        row = await self._fetchone(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE content_hash = ?", (content_hash,))
        return Track.from_row(row) if row else None

    async def find_by_external_id(self, external_id: str) -> Track | None:
        row = await self._fetchone(f"SELECT {TRACK_COLUMNS} FROM tracks WHERE external_id = ?", (external_id,))
        return Track.from_row(row) if row else None

    async def find_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        keys = list(dict.fromkeys(external_ids))
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in await self._fetchall(f"SELECT external_id, id FROM tracks WHERE external_id IN ({marks})", chunk):
                found[row[0]] = int(row[1])
        return found

    async def add_playlists_bulk(
        self, playlists: Sequence[tuple[str, str, str | None, str | None, Sequence[int]]]
    ) -> tuple[int, int]:
        """Many (name, source, external_id, description, track ids) at once; known (source, external_id) skipped.

        Returns (added, skipped).
        """
        added = skipped = 0
        async with self.transaction() as conn:
            for name, source, external_id, description, track_ids in playlists:
                cursor = await conn.execute(
                    "INSERT INTO playlists (name, source, external_id, description) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (source, external_id) DO NOTHING",
                    (name, source, external_id, description),
                )
                if cursor.rowcount == 0:
                    skipped += 1
                    continue
                playlist_id = int(cursor.lastrowid)
                await conn.executemany(
                    "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (?, ?, ?)",
                    [(playlist_id, pos, tid) for pos, tid in enumerate(track_ids)],
                )
                added += 1
        return added, skipped

    async def find_by_match_key(self, match_keys: Sequence[str]) -> dict[str, int]:
        """match_key -> id of the best track with that key (ready tracks first, then the oldest)."""
        found: dict[str, int] = {}
        keys = list(dict.fromkeys(match_keys))
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._fetchall(
                f"SELECT match_key, id FROM tracks WHERE match_key IN ({marks}) "
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
        like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        status_sql = ""
        params: list[Any] = [needle, needle, like, like, like]
        if statuses:
            status_sql = f" AND status IN ({','.join('?' * len(statuses))})"
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
        self, *, status: TrackStatus | None = None, limit: int | None = None, due_only: bool = False
    ) -> list[Track]:
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if due_only:
            where.append(f"(next_attempt_at IS NULL OR next_attempt_at <= {_NOW})")
        sql = f"SELECT {TRACK_COLUMNS} FROM tracks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
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
        """Change a track's status; a track that stops being ready loses its vectors in the same transaction."""
        async with self.transaction() as conn:
            await conn.execute(
                f"UPDATE tracks SET status = ?, error = ?, next_attempt_at = ?, "
                f"attempts = attempts + ?, updated_at = {_NOW} WHERE id = ?",
                (status, error, next_attempt_at, 1 if count_attempt else 0, track_id),
            )
            if status != "ready":
                for kind in ("audio", "mood"):
                    await conn.execute(f"DELETE FROM {_table(kind)} WHERE track_id = ?", (track_id,))

    async def update_track(self, track_id: int, **fields: Any) -> None:
        allowed = {"title", "artist", "album", "duration_s", "source", "licence", "match_key", "content_hash"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        async with self.transaction() as conn:
            await conn.execute(
                f"UPDATE tracks SET {assignments}, updated_at = {_NOW} WHERE id = ?", [*fields.values(), track_id]
            )

    async def delete_track(self, track_id: int) -> bool:
        async with self.transaction() as conn:
            for kind in VECTOR_DIMS:
                await conn.execute(f"DELETE FROM {_table(kind)} WHERE track_id = ?", (track_id,))
            cursor = await conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
            return cursor.rowcount > 0

    async def count_tracks(self, status: TrackStatus | None = None) -> int:
        if status is None:
            return (await self._fetchone("SELECT count(*) FROM tracks"))[0]
        return (await self._fetchone("SELECT count(*) FROM tracks WHERE status = ?", (status,)))[0]

    # ------------------------------------------------------------------ vectors
    async def mark_ready(
        self,
        track_id: int,
        vectors: dict[str, tuple[Sequence[float] | np.ndarray, str]],
        *,
        duration_s: float | None = None,
        details: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Store a track's vectors and flip it to ready in one transaction (all or nothing)."""
        async with self.transaction() as conn:
            for kind, (vector, version) in vectors.items():
                await self._put_vector(conn, kind, track_id, vector, version, (details or {}).get(kind))
            await conn.execute(
                f"UPDATE tracks SET status = 'ready', error = NULL, next_attempt_at = NULL, "
                f"duration_s = coalesce(?, duration_s), updated_at = {_NOW} WHERE id = ?",
                (duration_s, track_id),
            )

    async def put_vector(
        self,
        kind: str,
        track_id: int,
        vector: Sequence[float] | np.ndarray,
        model_version: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        async with self.transaction() as conn:
            await self._put_vector(conn, kind, track_id, vector, model_version, details)

    async def put_vectors(
        self, kind: str, rows: Iterable[tuple[int, Sequence[float] | np.ndarray]], model_version: str
    ) -> int:
        """Replace many vectors of one kind at once (CF refreshes write thousands)."""
        table = _table(kind)
        prepared = [(int(track_id), _blob(vector, kind)) for track_id, vector in rows]
        async with self.transaction() as conn:
            await conn.executemany(f"DELETE FROM {table} WHERE track_id = ?", [(tid,) for tid, _ in prepared])
            await conn.executemany(
                f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (?, ?, ?)",
                [(tid, blob, model_version) for tid, blob in prepared],
            )
        return len(prepared)

    async def _put_vector(
        self,
        conn: aiosqlite.Connection,
        kind: str,
        track_id: int,
        vector: Sequence[float] | np.ndarray,
        model_version: str,
        details: dict[str, Any] | None,
    ) -> None:
        table = _table(kind)
        blob = _blob(vector, kind)
        # vec0 tables have no upsert: replace by delete + insert inside the caller's transaction.
        await conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))
        if kind == "mood":
            await conn.execute(
                f"INSERT INTO {table} (track_id, embedding, model_version, details) VALUES (?, ?, ?, ?)",
                (track_id, blob, model_version, json.dumps(details or {})),
            )
        else:
            await conn.execute(
                f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (?, ?, ?)",
                (track_id, blob, model_version),
            )

    async def get_vector(self, kind: str, track_id: int) -> StoredVector | None:
        table = _table(kind)
        extra = ", details" if kind == "mood" else ""
        row = await self._fetchone(
            f"SELECT track_id, embedding, model_version{extra} FROM {table} WHERE track_id = ?", (track_id,)
        )
        if row is None:
            return None
        details = json.loads(row["details"] or "{}") if kind == "mood" else {}
        return StoredVector(
            int(row["track_id"]), np.frombuffer(row["embedding"], dtype=np.float32).tolist(),
            row["model_version"], details,
        )

    async def get_vectors(self, kind: str, track_ids: Iterable[int] | None = None) -> dict[int, StoredVector]:
        table = _table(kind)
        extra = ", details" if kind == "mood" else ""
        sql = f"SELECT track_id, embedding, model_version{extra} FROM {table}"
        rows: list[Any] = []
        if track_ids is None:
            rows = await self._fetchall(sql)
        else:
            wanted = list(dict.fromkeys(int(t) for t in track_ids))
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                rows += await self._fetchall(sql + f" WHERE track_id IN ({','.join('?' * len(chunk))})", chunk)
        out = {}
        for row in rows:
            details = json.loads(row["details"] or "{}") if kind == "mood" else {}
            out[int(row["track_id"])] = StoredVector(
                int(row["track_id"]), np.frombuffer(row["embedding"], dtype=np.float32).tolist(),
                row["model_version"], details,
            )
        return out

    async def knn(
        self,
        kind: str,
        vector: Sequence[float] | np.ndarray,
        k: int,
        *,
        model_version: str | None = None,
        exclude: Iterable[int] = (),
    ) -> list[Neighbor]:
        """Nearest stored vectors by the table's metric (cosine for audio/cf, L2 for mood)."""
        table = _table(kind)
        excluded = set(int(e) for e in exclude)
        fetch = min(4096, k + len(excluded))
        sql = f"SELECT track_id, distance FROM {table} WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [_blob(vector, kind), fetch]
        if model_version is not None:
            sql += " AND model_version = ?"
            params.append(model_version)
        sql += " ORDER BY distance"
        rows = await self._fetchall(sql, params)
        hits = [Neighbor(int(r[0]), float(r[1])) for r in rows if int(r[0]) not in excluded]
        return hits[:k]

    async def vector_versions(self, kind: str) -> dict[str, int]:
        rows = await self._fetchall(f"SELECT model_version, count(*) FROM {_table(kind)} GROUP BY model_version")
        return {row[0]: row[1] for row in rows}

    async def tracks_with_stale_vectors(self, kind: str, current_version: str, limit: int = 1000) -> list[int]:
        """Ready tracks whose `kind` vector is missing or was made by another model version."""
        rows = await self._fetchall(
            f"SELECT t.id FROM tracks t LEFT JOIN {_table(kind)} v ON v.track_id = t.id "
            "WHERE t.status = 'ready' AND t.source_kind != 'catalogue' "
            "AND (v.track_id IS NULL OR v.model_version != ?) ORDER BY t.id LIMIT ?",
            (current_version, limit),
        )
        return [int(row[0]) for row in rows]

    # ------------------------------------------------------------------ playlists
    async def add_playlist(
        self,
        name: str,
        track_ids: Sequence[int],
        *,
        source: str,
        external_id: str | None = None,
        description: str | None = None,
    ) -> tuple[int, bool]:
        """Store a playlist in order; re-importing the same (source, external_id) changes nothing."""
        async with self.transaction() as conn:
            if external_id is not None:
                async with conn.execute(
                    "SELECT id FROM playlists WHERE source = ? AND external_id = ?", (source, external_id)
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    return int(row[0]), False
            cursor = await conn.execute(
                "INSERT INTO playlists (name, source, external_id, description) VALUES (?, ?, ?, ?)",
                (name, source, external_id, description),
            )
            playlist_id = int(cursor.lastrowid)
            await conn.executemany(
                "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (?, ?, ?)",
                [(playlist_id, pos, tid) for pos, tid in enumerate(track_ids)],
            )
            return playlist_id, True

    async def playlists(self) -> AsyncIterator[tuple[int, str, list[int]]]:
        """Every playlist as (id, name, track ids in order)."""
        rows = await self._fetchall("SELECT id, name FROM playlists ORDER BY id")
        for row in rows:
            items = await self._fetchall(
                "SELECT track_id FROM playlist_tracks WHERE playlist_id = ? ORDER BY position", (row[0],)
            )
            yield int(row[0]), row[1], [int(item[0]) for item in items]

    async def playlist_pairs(self) -> list[tuple[int, int]]:
        """All (playlist id, track id) memberships: the input of collaborative models."""
        rows = await self._fetchall("SELECT playlist_id, track_id FROM playlist_tracks ORDER BY playlist_id, position")
        return [(int(r[0]), int(r[1])) for r in rows]

    # ------------------------------------------------------------------ feedback
    async def add_feedback(
        self, track_id: int, user_ref: str, value: int, context: dict[str, Any] | None = None
    ) -> bool:
        """Record a 👍 (+1) or 👎 (-1); the same user voting again on the same recommendation updates it."""
        if value not in (-1, 1):
            raise ValueError("feedback is +1 or -1")
        payload = json.dumps(context or {}, sort_keys=True)
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO feedback (track_id, user_ref, value, context) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (track_id, user_ref, context) DO UPDATE SET value = excluded.value, created_at = {_NOW}",
                (track_id, user_ref, value, payload),
            )
            return cursor.rowcount > 0

    async def feedback(self) -> list[tuple[int, str, int]]:
        rows = await self._fetchall("SELECT track_id, user_ref, value FROM feedback ORDER BY id")
        return [(int(r[0]), r[1], int(r[2])) for r in rows]

    # ------------------------------------------------------------------ jobs
    async def enqueue_job(self, kind: str, payload: dict[str, Any] | None = None, *, unique: bool = True) -> int | None:
        """Queue a job; with `unique`, a queued/running job of the same kind and payload makes this a no-op."""
        body = json.dumps(payload or {}, sort_keys=True)
        async with self.transaction() as conn:
            if unique:
                async with conn.execute(
                    "SELECT id FROM jobs WHERE kind = ? AND payload = ? AND status IN ('queued', 'running')",
                    (kind, body),
                ) as cursor:
                    if await cursor.fetchone() is not None:
                        return None
            cursor = await conn.execute("INSERT INTO jobs (kind, payload) VALUES (?, ?)", (kind, body))
            return int(cursor.lastrowid)

    async def claim_job(self, kinds: Sequence[str], worker: str) -> Job | None:
        """Atomically take the oldest due queued job of one of `kinds` (no job ever runs twice at once)."""
        marks = ",".join("?" * len(kinds))
        async with self.transaction() as conn:
            async with conn.execute(
                f"SELECT id FROM jobs WHERE status = 'queued' AND kind IN ({marks}) AND run_after <= {_NOW} "
                "ORDER BY run_after, id LIMIT 1",
                list(kinds),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await conn.execute(
                f"UPDATE jobs SET status = 'running', locked_by = ?, locked_at = {_NOW}, attempts = attempts + 1, "
                f"updated_at = {_NOW} WHERE id = ?",
                (worker, row[0]),
            )
            async with conn.execute("SELECT * FROM jobs WHERE id = ?", (row[0],)) as cursor:
                return Job.from_row(await cursor.fetchone())

    async def finish_job(self, job_id: int, *, error: str | None = None, retry_after_s: float | None = None) -> None:
        """Mark a job done, failed (error, no retry) or queued again after a delay (error + retry_after_s)."""
        async with self.transaction() as conn:
            if error is None:
                await conn.execute(
                    f"UPDATE jobs SET status = 'done', last_error = NULL, locked_by = NULL, updated_at = {_NOW} "
                    "WHERE id = ?",
                    (job_id,),
                )
            elif retry_after_s is not None:
                await conn.execute(
                    "UPDATE jobs SET status = 'queued', last_error = ?, locked_by = NULL, "
                    f"run_after = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?), updated_at = {_NOW} WHERE id = ?",
                    (error, f"+{int(retry_after_s)} seconds", job_id),
                )
            else:
                await conn.execute(
                    f"UPDATE jobs SET status = 'failed', last_error = ?, locked_by = NULL, updated_at = {_NOW} "
                    "WHERE id = ?",
                    (error, job_id),
                )

    async def requeue_stale_jobs(self, worker_prefix: str | None = None) -> int:
        """Put 'running' jobs back in the queue (after a crash the worker that held them is gone)."""
        sql = f"UPDATE jobs SET status = 'queued', locked_by = NULL, updated_at = {_NOW} WHERE status = 'running'"
        params: list[Any] = []
        if worker_prefix is not None:
            sql += " AND locked_by LIKE ?"
            params.append(worker_prefix + "%")
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def jobs(self, status: str | None = None, limit: int = 100) -> list[Job]:
        sql = "SELECT * FROM jobs"
        params: list[Any] = []
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [Job.from_row(row) for row in await self._fetchall(sql, params)]

    # ------------------------------------------------------------------ user preferences
    async def get_pref(self, user_ref: str, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM user_prefs WHERE user_ref = ? AND key = ?", (user_ref, key))
        return row[0] if row else None

    async def set_pref(self, user_ref: str, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO user_prefs (user_ref, key, value) VALUES (?, ?, ?) ON CONFLICT (user_ref, key) "
                f"DO UPDATE SET value = excluded.value, updated_at = {_NOW}",
                (user_ref, key, value),
            )

    # ------------------------------------------------------------------ meta, stats, backup
    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def stats(self) -> dict[str, Any]:
        by_status = {row[0]: row[1] for row in await self._fetchall("SELECT status, count(*) FROM tracks GROUP BY status")}
        by_source = {
            row[0]: row[1] for row in await self._fetchall("SELECT source_kind, count(*) FROM tracks GROUP BY source_kind")
        }
        vectors = {kind: await self.vector_versions(kind) for kind in VECTOR_DIMS}
        playlists = (await self._fetchone("SELECT count(*) FROM playlists"))[0]
        entries = (await self._fetchone("SELECT count(*) FROM playlist_tracks"))[0]
        feedback = (await self._fetchone("SELECT count(*) FROM feedback"))[0]
        jobs = {row[0]: row[1] for row in await self._fetchall("SELECT status, count(*) FROM jobs GROUP BY status")}
        return {
            "tracks": {
                "total": sum(by_status.values()),
                **{s: by_status.get(s, 0) for s in ("ready", "pending", "failed", "metadata_only")},
            },
            "sources": by_source,
            "vectors": vectors,
            "playlists": {"count": playlists, "entries": entries},
            "feedback": feedback,
            "jobs": jobs,
            "schema_version": await self.schema_version(),
        }

    async def backup_to(self, target: Path) -> None:
        """A consistent copy through SQLite's online backup API, safe while others write."""
        target.parent.mkdir(parents=True, exist_ok=True)
        driver = self.driver

        def run(source: Any) -> None:
            dest = driver.module.connect(str(target))
            try:
                source.backup(dest)
            finally:
                dest.close()

        await self._conn._execute(run, self._conn._conn)  # noqa: SLF001 - must run on the connection thread


def is_integrity_error(exc: BaseException) -> bool:
    """IntegrityError from whichever driver is in use (sqlite3 and sqlean define their own classes)."""
    return isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__ == "IntegrityError"
