"""`PgStore`: the PostgreSQL + pgvector store, with the same public methods and answers as `db.Store`.

Bots on one host and embedding workers on GPU hosts share one PostgreSQL server where a single SQLite file
cannot be shared (WAL needs shared memory, not a network filesystem).  Each concern's queries live in their
own module (`tracks`, `vectors`, `jobs`); playlists, feedback, meta, preferences, backups and the counts of
`moodtape stats` are here.  Approximate search needs no separate index files: pgvector keeps each table's
HNSW index in step with every write, so `build_ann` only reports on those indexes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from moodtape.db.errors import StoreError
from moodtape.db.models import VECTOR_DIMS, StoredVector, Track
from moodtape.db.pg.connection import NOW, PgDatabase
from moodtape.db.pg.jobs import PgJobs
from moodtape.db.pg.tracks import PgTracks
from moodtape.db.pg.vectors import PgVectors
from moodtape.db.playlist_reads import PlaylistReads
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["PG_DUMP_ENV", "PgStore"]

_TRACK_STATUSES = ("ready", "pending", "failed", "metadata_only")

#: Environment variable naming the pg_dump binary (default: `pg_dump` on PATH).  pg_dump must be of the
#: server's major version or newer.
PG_DUMP_ENV = "MOODTAPE_PG_DUMP"

#: (name, source, external id, description, track ids in order), as `db.playlists.NewPlaylist`
NewPlaylist = tuple[str, str, str | None, str | None, Sequence[int]]


class PgStore(PgTracks, PgVectors, PgJobs, PlaylistReads, PgDatabase):
    """Async access to one Moodtape database on a PostgreSQL server: `await PgStore.open(url)`."""

    #: Backups are pg_dump archives (custom format: restore with `pg_restore -d URL FILE`).
    backup_suffix = ".dump"

    # ------------------------------------------------------------------ playlists and feedback
    async def add_playlists_bulk(self, playlists: Sequence[NewPlaylist]) -> tuple[int, int]:
        """Many (name, source, external_id, description, track ids) at once; known (source, external_id) skipped."""
        added = skipped = 0
        async with self.transaction() as conn:
            for name, source, external_id, description, track_ids in playlists:
                cur = await conn.execute(
                    "INSERT INTO playlists (name, source, external_id, description) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
                    (name, source, external_id, description))
                row = await cur.fetchone()
                if row is None:
                    skipped += 1
                    continue
                async with conn.cursor() as many:
                    await many.executemany(
                        "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (%s, %s, %s)",
                        [(int(row[0]), pos, tid) for pos, tid in enumerate(track_ids)])
                added += 1
        return added, skipped

    async def add_feedback(self, track_id: int, user_ref: str, value: int,
                           context: dict[str, Any] | None = None) -> bool:
        """Record a 👍 (+1) or 👎 (-1); the same user voting again on the same recommendation updates it."""
        if value not in (-1, 1):
            raise ValueError("feedback is +1 or -1")
        payload = json.dumps(context or {}, sort_keys=True)
        row = await self._fetchone(
            "INSERT INTO feedback (track_id, user_ref, value, context) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (track_id, user_ref, context) DO UPDATE SET value = excluded.value, "
            f"created_at = {NOW} RETURNING id",
            (track_id, user_ref, value, payload))
        return row is not None

    async def feedback_of(self, user_ref: str, limit: int = 500) -> list[tuple[int, int, str]]:
        """One person's latest votes as (track id, +1/-1, created_at "YYYY-MM-DDTHH:MM:SSZ"), newest first."""
        rows = await self._fetchall(
            "SELECT track_id, value, created_at FROM feedback WHERE user_ref = %s "
            "ORDER BY created_at DESC, id DESC LIMIT %s", (user_ref, limit))
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def forget_feedback(self, user_ref: str) -> tuple[int, int]:
        """Delete every vote of one person (/forget); returns how many (👍, 👎) were deleted."""
        async with self.transaction() as conn:
            cur = await conn.execute("DELETE FROM feedback WHERE user_ref = %s RETURNING value", (user_ref,))
            values = [int(r[0]) for r in await cur.fetchall()]
        return values.count(1), values.count(-1)

    # ------------------------------------------------------------------ meta and preferences
    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = %s", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._fetchone(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value "
            "RETURNING key", (key, value))

    async def get_pref(self, user_ref: str, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM user_prefs WHERE user_ref = %s AND key = %s", (user_ref, key))
        return row[0] if row else None

    async def set_pref(self, user_ref: str, key: str, value: str) -> None:
        await self._fetchone(
            "INSERT INTO user_prefs (user_ref, key, value) VALUES (%s, %s, %s) ON CONFLICT (user_ref, key) "
            f"DO UPDATE SET value = excluded.value, updated_at = {NOW} RETURNING key",
            (user_ref, key, value))

    # ------------------------------------------------------------------ backups
    async def backup_to(self, target: Path) -> None:
        """A consistent snapshot with `pg_dump --format=custom` (one transaction: safe while others write).

        pg_dump is found through MOODTAPE_PG_DUMP or PATH; without it this is a `StoreError` naming it, so
        `moodtape backup` and the scheduled job say what to install instead of failing obscurely.
        """
        binary = os.environ.get(PG_DUMP_ENV) or shutil.which("pg_dump")
        if not binary:
            raise StoreError("backups of a PostgreSQL database need pg_dump (the PostgreSQL client tools, of the "
                             f"server's version or newer) on PATH, or its path in {PG_DUMP_ENV}")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The password goes through the environment, not the command line (which `ps` shows to everyone).
        params = conninfo_to_dict(self.url)
        password = params.pop("password", None)
        env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
        proc = await asyncio.create_subprocess_exec(
            binary, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={make_conninfo(**params)}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            target.unlink(missing_ok=True)
            raise StoreError(f"pg_dump ({binary}) failed: {err.decode(errors='replace').strip()[:500]}")

    # ------------------------------------------------------------------ approximate search and counts
    async def build_ann(self, kinds: Iterable[str] = tuple(VECTOR_DIMS), **_: Any) -> dict[str, Any]:
        """pgvector keeps the HNSW indexes up to date on every write, so there is nothing to build: the
        answer describes the indexes (same shape as the SQLite store's `build_ann`)."""
        return await self._ann_stats(list(kinds))

    async def _ann_stats(self, kinds: list[str] | None = None) -> dict[str, Any]:
        indexes = []
        for kind in kinds or list(VECTOR_DIMS):
            size = (await self._fetchone("SELECT pg_relation_size(%s::regclass)", (f"vec_{kind}_hnsw",)))[0]
            versions = await self.vector_versions(kind)
            if not versions:
                indexes.append({"kind": kind, "version": None, "vectors": 0, "bytes_memory": 0,
                                "bytes_disk": int(size), "state": "pgvector"})
            for version, count in sorted(versions.items(), key=lambda item: str(item[0])):
                indexes.append({"kind": kind, "version": version, "vectors": count, "bytes_memory": 0,
                                "bytes_disk": int(size), "state": "pgvector"})
        return {"min_tracks": 0, "params": {"m": 32, "ef_construction": 128, "ef_search": self.ef_search},
                "folder": None, "indexes": indexes}

    async def tracks_with_moods(self, ids: Iterable[int], *, tags_only: bool = False
                                ) -> tuple[dict[int, Track], dict[int, StoredVector]]:
        """The tracks of `ids` and their mood rows (the SQLite store's interface; two reads on the pool).
        `tags_only` is accepted and the whole details returned: they hold the `top_tags` asked for."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        tracks, moods = await asyncio.gather(self.get_tracks(wanted), self.get_vectors("mood", wanted))
        return tracks, {tid: mood for tid, mood in moods.items() if tid in tracks}

    async def stats(self) -> dict[str, Any]:
        """Counts for `moodtape stats`: tracks by status and source, vectors by model, playlists, jobs."""
        by_status = await self._counts("SELECT status, count(*) FROM tracks GROUP BY status")
        by_source = await self._counts("SELECT source_kind, count(*) FROM tracks GROUP BY source_kind")
        return {
            "tracks": {"total": sum(by_status.values()), **{s: by_status.get(s, 0) for s in _TRACK_STATUSES}},
            "sources": by_source,
            "vectors": {kind: await self.vector_versions(kind) for kind in VECTOR_DIMS},
            "playlists": {
                "count": int((await self._fetchone("SELECT count(*) FROM playlists"))[0]),
                "entries": int((await self._fetchone("SELECT count(*) FROM playlist_tracks"))[0]),
            },
            "feedback": int((await self._fetchone("SELECT count(*) FROM feedback"))[0]),
            "jobs": await self._counts("SELECT status, count(*) FROM jobs GROUP BY status"),
            "schema_version": await self.schema_version(),
            "ann": await self._ann_stats(),
        }

    async def _counts(self, sql: str) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in await self._fetchall(sql)}
