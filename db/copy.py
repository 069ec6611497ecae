"""Copy a whole Moodtape database between backends: SQLite file -> PostgreSQL server, and back.

`moodtape db copy --from sqlite:PATH --to postgresql://...` moves a catalogue that outgrew one machine onto
a server (or brings a server's catalogue home).  Everything is copied with its ids, so playlists, votes and
jobs still point at the same tracks: tracks, the three vector tables (with model versions and mood details),
playlists and their entries, feedback, jobs, meta keys and user preferences.

Rows are written as upserts keyed by their primary key, in batches, each batch one transaction: running the
copy again (after an interruption, or after the source changed) converges to the same target without
duplicates.  A target holding *other* tracks under the same ids is refused before anything is written; the
report counts each table on both sides, so a target that held further rows shows in its counts.  Large vector loads into PostgreSQL drop the HNSW index first and rebuild it at the
end (one build is many times faster than a million incremental inserts).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.db.errors import StoreError
from moodtape.db.models import VECTOR_DIMS
from moodtape.db.store import Store

__all__ = ["TABLES", "CopyReport", "copy_database", "parse_location"]

#: (table, columns, primary key columns), parents before children (foreign keys).
TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("tracks", ("id", "title", "artist", "album", "duration_s", "source_kind", "source", "external_id",
                "content_hash", "match_key", "licence", "added_by", "added_at", "updated_at", "status", "error",
                "attempts", "next_attempt_at"), ("id",)),
    ("playlists", ("id", "name", "source", "external_id", "description", "added_at"), ("id",)),
    ("playlist_tracks", ("playlist_id", "position", "track_id"), ("playlist_id", "position")),
    ("feedback", ("id", "track_id", "user_ref", "value", "context", "created_at"), ("id",)),
    ("jobs", ("id", "kind", "payload", "status", "attempts", "last_error", "run_after", "locked_by", "locked_at",
              "created_at", "updated_at"), ("id",)),
    ("meta", ("key", "value"), ("key",)),
    ("user_prefs", ("user_ref", "key", "value", "updated_at"), ("user_ref", "key")),
)

#: Tables whose ids come from a sequence on PostgreSQL (moved past the copied ids afterwards).
_SEQUENCED = ("tracks", "playlists", "feedback", "jobs")

#: Rows per batch (one transaction each).
BATCH = 2000

#: From this many vectors into an empty PostgreSQL table, its HNSW index is rebuilt after the load.
REBUILD_FROM = 20_000


def parse_location(text: str) -> Path | str:
    """`sqlite:PATH` (or a plain path) -> the SQLite file; `postgresql://...` -> the URL itself."""
    if text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("sqlite:"):
        text = text.removeprefix("sqlite:")
        if text.startswith("///"):  # sqlite:///abs/path, as SQLAlchemy writes it
            text = text.removeprefix("//")
    if not text:
        raise StoreError("an empty SQLite path")
    return Path(text).expanduser()


@dataclass
class CopyReport:
    """Rows per table (vectors as `vec_<kind>`): in the source, in the target before and after the copy."""

    source: dict[str, int] = field(default_factory=dict)
    target_before: dict[str, int] = field(default_factory=dict)
    target_after: dict[str, int] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """Every table of the target holds as many rows as the source's."""
        return self.source == self.target_after

    def to_json(self) -> dict[str, Any]:
        return {"matches": self.matches, "tables": {
            name: {"source": self.source[name], "target_before": self.target_before.get(name, 0),
                   "target_after": self.target_after.get(name, 0)} for name in self.source}}


class _Side:
    """One store seen as tables of rows: the few raw reads and writes a copy needs, per backend."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.sqlite = isinstance(store, Store)
        self.mark = "?" if self.sqlite else "%s"

    async def count(self, table: str) -> int:
        return int((await self.store._fetchone(f"SELECT count(*) FROM {table}"))[0])

    async def stream(self, sql: str, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of `sql` in batches, read in one pass (a cursor on SQLite, a server-side cursor in one
        snapshot on PostgreSQL): a million rows never sit in memory at once nor cost a scan per page."""
        if self.sqlite:
            async with self.store._conn.execute(sql) as cursor:
                while rows := await cursor.fetchmany(batch):
                    yield [tuple(row) for row in rows]
            return
        async with (self.store._pool.connection() as conn, conn.transaction(),
                    conn.cursor(name="moodtape_copy") as cursor):
            await cursor.execute(sql)
            while rows := await cursor.fetchmany(batch):
                yield [tuple(row) for row in rows]

    async def upsert(self, table: str, columns: Sequence[str], key: Sequence[str],
                     rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join([self.mark] * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
               f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
        try:
            async with self.store.transaction() as conn:
                if self.sqlite:
                    await conn.executemany(sql, rows)
                else:
                    async with conn.cursor() as cur:
                        await cur.executemany(sql, rows)
        except Exception as exc:
            raise StoreError(f"cannot copy rows into {table}: {exc} (the target holds other rows with the same "
                             "unique keys: copy into an empty database, or one copied from this source)") from exc

    async def vectors(self, kind: str, batch: int) -> AsyncIterator[list[tuple[int, np.ndarray, str, str]]]:
        """(track id, vector, model version, details JSON) in track id order, in batches."""
        details = "details" if kind == "mood" else "NULL"
        embedding = "embedding" if self.sqlite else "embedding::text"
        sql = f"SELECT track_id, {embedding}, model_version, {details} FROM vec_{kind} ORDER BY track_id"
        if not self.sqlite:
            from moodtape.db.pg.vectors import parse_vector
        async for rows in self.stream(sql, batch):
            yield [(int(r[0]), np.frombuffer(r[1], dtype=np.float32) if self.sqlite else parse_vector(r[1]),
                    r[2], r[3] or "{}") for r in rows]

    async def put_vectors(self, kind: str, rows: list[tuple[int, np.ndarray, str, str]]) -> None:
        if self.sqlite:
            from moodtape.db.vectors import _put_vector

            async with self.store.transaction() as conn:
                for track_id, vector, version, details in rows:
                    await _put_vector(conn, kind, track_id, vector, version, json.loads(details))
            return
        from moodtape.db.pg.vectors import vector_text

        extra, extra_mark, extra_set = ("", "", "")
        if kind == "mood":
            extra, extra_mark, extra_set = ", details", ", %s", ", details = excluded.details"
        sql = (f"INSERT INTO vec_{kind} (track_id, embedding, model_version{extra}) "
               f"VALUES (%s, %s::vector, %s{extra_mark}) ON CONFLICT (track_id) DO UPDATE SET "
               f"embedding = excluded.embedding, model_version = excluded.model_version{extra_set}")
        params = [(tid, vector_text(v, kind), version, *((details,) if kind == "mood" else ()))
                  for tid, v, version, details in rows]
        async with self.store.transaction() as conn, conn.cursor() as cur:
            await cur.executemany(sql, params)

    async def drop_index(self, kind: str) -> str | None:
        """PostgreSQL: drop the HNSW index of `kind` and return its definition (to rebuild it later)."""
        row = await self.store._fetchone("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"vec_{kind}_hnsw",))
        if row is None:
            return None
        async with self.store.transaction() as conn:
            await conn.execute(f"DROP INDEX vec_{kind}_hnsw")
        return str(row[0])

    async def rebuild_index(self, definition: str) -> None:
        async with self.store.transaction() as conn:
            await conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            await conn.execute(definition)

    async def after_copy(self) -> None:
        """PostgreSQL: move the id sequences past the copied ids, so new rows never collide with them."""
        if self.sqlite:
            return
        from moodtape.db.pg.tracks import bump_sequence

        async with self.store.transaction() as conn:
            for table in _SEQUENCED:
                await bump_sequence(conn, table)


async def _counts(side: _Side) -> dict[str, int]:
    counts = {table: await side.count(table) for table, _, _ in TABLES}
    counts.update({f"vec_{kind}": await side.count(f"vec_{kind}") for kind in VECTOR_DIMS})
    return counts


async def _check_same_tracks(src: _Side, dst: _Side, batch: int) -> None:
    """Refuse (before writing anything) a target whose tracks are other tracks under the same ids.

    Re-running a copy meets its own earlier rows: same id, same identity (content hash, external id and the
    time the row was first added, which copies verbatim).  A different database's track under an id would
    be overwritten by the upsert, so that is an error instead.
    """
    sql = "SELECT id, content_hash, external_id, added_at FROM tracks ORDER BY id"
    async for rows in src.stream(sql, batch):
        found = await dst.store.get_tracks(int(row[0]) for row in rows)
        for track_id, content_hash, external_id, added_at in rows:
            other = found.get(int(track_id))
            if other is not None and (other.content_hash, other.external_id, other.added_at) != (
                    content_hash, external_id, added_at):
                raise StoreError(
                    f"the target already holds a different track #{track_id} (\"{other.label}\"); copy into an "
                    "empty database, or into one copied from this source before")


async def copy_database(source: Any, target: Any, *, batch: int = BATCH,
                        on_rows: Callable[[str, int], object] | None = None) -> CopyReport:
    """Copy every row of `source` into `target` (two open stores, either backend); `on_rows(table, n)` after
    each batch.  Idempotent: rows are upserted by primary key."""
    if source is target:
        raise StoreError("the source and the target are the same database")
    src, dst = _Side(source), _Side(target)
    report = CopyReport(source=await _counts(src), target_before=await _counts(dst))
    if report.target_before["tracks"]:
        await _check_same_tracks(src, dst, batch)
    for table, columns, key in TABLES:
        sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"
        async for rows in src.stream(sql, batch):
            await dst.upsert(table, columns, key, rows)
            if on_rows is not None:
                on_rows(table, len(rows))
    for kind in VECTOR_DIMS:
        rebuild = None
        if not dst.sqlite and report.target_before[f"vec_{kind}"] == 0 and report.source[f"vec_{kind}"] >= REBUILD_FROM:
            rebuild = await dst.drop_index(kind)
        try:
            async for vectors in src.vectors(kind, batch):
                await dst.put_vectors(kind, vectors)
                if on_rows is not None:
                    on_rows(f"vec_{kind}", len(vectors))
        finally:
            if rebuild is not None:
                await dst.rebuild_index(rebuild)
    await dst.after_copy()
    report.target_after = await _counts(dst)
    return report
