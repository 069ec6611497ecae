"""Vectors in pgvector columns (`vec_audio`, `vec_cf`, `vec_mood`): writes, reads, nearest neighbours.

The same contract as `db/vectors.py`: fixed dimensions per kind, a model version per row, vectors checked
(dimension, finite values) before they are sent, distances as sqlite-vec reports them (cosine distance
`<=>` for audio and cf, Euclidean `<->` for mood).  Searches go through each table's HNSW index; pgvector
0.6 applies a `WHERE` after the index scan, so when a filter (model version) or the excluded ids leave fewer
rows than asked for, the query is answered again by an exact scan, which never misses rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from moodtape.db.models import VECTOR_DIMS, Neighbor, StoredVector
from moodtape.db.pg.connection import NOW, STORED_EF_SEARCH, PgDatabase
from moodtape.db.vectors import vector_table

__all__ = ["PgVectors", "delete_vectors", "parse_vector", "vector_text"]

Vector = Sequence[float] | np.ndarray

#: The SQL operator of each kind's distance (its HNSW index was built for the same one).
_OPERATOR = {"audio": "<=>", "cf": "<=>", "mood": "<->"}


def vector_text(vector: Vector, kind: str) -> str:
    """`vector` as pgvector's text input ('[x,y,...]'), checked like the SQLite store checks it.

    9 significant digits round-trip every float32 exactly, so a vector reads back bit for bit.
    """
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    expected = VECTOR_DIMS[kind]
    if array.shape[0] != expected:
        raise ValueError(f"{kind} vectors have {expected} dimensions, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{kind} vector has NaN or infinite values")
    return "[" + ",".join(f"{x:.9g}" for x in array.tolist()) + "]"


def parse_vector(text: str) -> np.ndarray:
    """pgvector's text output -> float32 array."""
    return np.array(text.strip("[]").split(","), dtype=np.float32) if text != "[]" else np.zeros(0, np.float32)


def _stored(row: Any, kind: str) -> StoredVector:
    details = json.loads(row["details"] or "{}") if kind == "mood" else {}
    return StoredVector(int(row["track_id"]), parse_vector(row["embedding"]).tolist(), row["model_version"],
                        details)


async def put_vector(conn: AsyncConnection, kind: str, track_id: int, vector: Vector, model_version: str,
                     details: dict[str, Any] | None) -> None:
    """Replace one vector inside the caller's transaction."""
    table = vector_table(kind)
    text = vector_text(vector, kind)
    if kind == "mood":
        await conn.execute(
            f"INSERT INTO {table} (track_id, embedding, model_version, details) VALUES (%s, %s::vector, %s, %s) "
            "ON CONFLICT (track_id) DO UPDATE SET embedding = excluded.embedding, "
            "model_version = excluded.model_version, details = excluded.details",
            (track_id, text, model_version, json.dumps(details or {})),
        )
    else:
        await conn.execute(
            f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (%s, %s::vector, %s) "
            "ON CONFLICT (track_id) DO UPDATE SET embedding = excluded.embedding, "
            "model_version = excluded.model_version",
            (track_id, text, model_version),
        )


async def delete_vectors(conn: AsyncConnection, kinds: Iterable[str], track_id: int) -> None:
    """Delete a track's vectors of `kinds` inside the caller's transaction."""
    for kind in kinds:
        await conn.execute(f"DELETE FROM {vector_table(kind)} WHERE track_id = %s", (track_id,))


class PgVectors(PgDatabase):
    """Queries over the vector tables."""

    async def mark_ready(
        self,
        track_id: int,
        vectors: dict[str, tuple[Vector, str]],
        *,
        duration_s: float | None = None,
        details: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Store a track's vectors and flip it to ready in one transaction (all or nothing)."""
        async with self.transaction() as conn:
            for kind, (vector, version) in vectors.items():
                await put_vector(conn, kind, track_id, vector, version, (details or {}).get(kind))
            await conn.execute(
                "UPDATE tracks SET status = 'ready', error = NULL, next_attempt_at = NULL, "
                f"duration_s = coalesce(%s, duration_s), updated_at = {NOW} WHERE id = %s",
                (duration_s, track_id),
            )

    async def put_vector(self, kind: str, track_id: int, vector: Vector, model_version: str,
                         details: dict[str, Any] | None = None) -> None:
        async with self.transaction() as conn:
            await put_vector(conn, kind, track_id, vector, model_version, details)

    async def put_vectors(self, kind: str, rows: Iterable[tuple[int, Vector]], model_version: str) -> int:
        """Replace many vectors of one kind at once (CF refreshes write thousands)."""
        table = vector_table(kind)
        prepared = [(int(track_id), vector_text(vector, kind), model_version) for track_id, vector in rows]
        async with self.transaction() as conn, conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (%s, %s::vector, %s) "
                "ON CONFLICT (track_id) DO UPDATE SET embedding = excluded.embedding, "
                "model_version = excluded.model_version",
                prepared,
            )
        return len(prepared)

    async def get_vector(self, kind: str, track_id: int) -> StoredVector | None:
        return (await self.get_vectors(kind, [track_id])).get(int(track_id))

    async def vector_array(self, kind: str, track_id: int) -> tuple[np.ndarray, str] | None:
        """A track's `kind` vector as a float32 array, with its model version (the SQLite store's interface)."""
        stored = await self.get_vector(kind, track_id)
        return None if stored is None else (np.asarray(stored.vector, dtype=np.float32), stored.model_version)

    async def get_vectors(self, kind: str, track_ids: Iterable[int] | None = None) -> dict[int, StoredVector]:
        """Vectors of `kind` for `track_ids` (all of them when None)."""
        extra = ", details" if kind == "mood" else ""
        sql = f"SELECT track_id, embedding::text AS embedding, model_version{extra} FROM {vector_table(kind)}"
        if track_ids is None:
            rows = await self._fetchall(sql)
        else:
            wanted = list(dict.fromkeys(int(t) for t in track_ids))
            if not wanted:
                return {}
            rows = await self._fetchall(sql + " WHERE track_id = ANY(%s)", (wanted,))
        return {int(row["track_id"]): _stored(row, kind) for row in rows}

    async def knn(
        self,
        kind: str,
        vector: Vector,
        k: int,
        *,
        model_version: str | None = None,
        exclude: Iterable[int] = (),
        exact: bool = False,
        stored_query: bool = False,
    ) -> list[Neighbor]:
        """Nearest stored vectors by the table's metric (cosine for audio/cf, L2 for mood).

        The HNSW index answers first (approximate, at most `hnsw.ef_search` rows before filters); if the
        version filter and the excluded ids leave fewer than `k` while more rows may match, an exact scan
        answers instead, so a filter never makes results vanish.  `exact=True` always scans (benchmarks);
        `stored_query`: the vector is a track's own stored one, searched with the narrower `STORED_EF_SEARCH`.
        """
        table = vector_table(kind)
        excluded = {int(e) for e in exclude}
        text = vector_text(vector, kind)
        fetch = k + len(excluded)
        op = _OPERATOR[kind]
        sql = f"SELECT track_id, embedding {op} %s::vector AS distance, model_version FROM {table}"
        params: list[Any] = [text]
        if model_version is not None:
            sql += " WHERE model_version = %s"
            params.append(model_version)
        sql += " ORDER BY distance LIMIT %s"
        params.append(fetch)
        async with self.transaction() as conn:
            breadth = min(self.ef_search, STORED_EF_SEARCH) if stored_query else self.ef_search
            if fetch > breadth:  # the index returns at most ef_search rows: widen the list for this one
                await conn.execute(f"SET LOCAL hnsw.ef_search = {min(1000, int(fetch))}")
            elif breadth != self.ef_search:
                await conn.execute(f"SET LOCAL hnsw.ef_search = {int(breadth)}")
            if exact:
                await conn.execute("SET LOCAL enable_indexscan = off")
            rows = await (await conn.execute(sql, params)).fetchall()
            if len(rows) < fetch and not exact:
                # Fewer rows than asked: the table is that small, or the filter dropped rows the index
                # returned.  An exact scan (no index scan) settles it; on a small table it is cheap.
                await conn.execute("SET LOCAL enable_indexscan = off")
                rows = await (await conn.execute(sql, params)).fetchall()
        hits = [Neighbor(int(r[0]), float(r[1]), r[2]) for r in rows if int(r[0]) not in excluded]
        return hits[:k]

    async def vector_versions(self, kind: str) -> dict[str, int]:
        """model version -> how many vectors of `kind` it made."""
        rows = await self._fetchall(f"SELECT model_version, count(*) FROM {vector_table(kind)} GROUP BY model_version")
        return {row[0]: int(row[1]) for row in rows}

    async def tracks_with_stale_vectors(self, kind: str, current_version: str, limit: int = 1000) -> list[int]:
        """Ready tracks whose `kind` vector is missing or was made by another model version."""
        rows = await self._fetchall(
            f"SELECT t.id FROM tracks t LEFT JOIN {vector_table(kind)} v ON v.track_id = t.id "
            "WHERE t.status = 'ready' AND t.source_kind != 'catalogue' "
            "AND (v.track_id IS NULL OR v.model_version != %s) ORDER BY t.id LIMIT %s",
            (current_version, limit),
        )
        return [int(row[0]) for row in rows]
