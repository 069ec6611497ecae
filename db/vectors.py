"""Vectors in sqlite-vec tables (`vec_audio`, `vec_cf`, `vec_mood`): writes, reads, nearest neighbours.

Each kind has a fixed dimension (`VECTOR_DIMS`, set by the schema) and a model version per row, so a model
change shows up as stale rows (`tracks_with_stale_vectors`) instead of silently mixing spaces.  Vectors are
checked (dimension, finite values) before they reach SQLite, whose vec0 tables would reject or store them
less helpfully.

Every write and delete is also logged to `vector_changes` in the same transaction (`db/ann_log.py`), which
keeps the HNSW indexes of large catalogues (`db/ann.py`) in step in every process; `knn` answers from such an
index when the table is large enough (`ann_min_tracks`) and the index is ready, else by vec0's exact scan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite
import numpy as np

from moodtape.db.ann import DEFAULT_MIN_TRACKS, AnnIndexes
from moodtape.db.ann_log import log_changes
from moodtape.db.connection import Database
from moodtape.db.models import VECTOR_DIMS, Neighbor, StoredVector
from moodtape.db.mood_card import card_values, clear_cards, set_cards
from moodtape.db.sql import NOW, chunks, marks
from moodtape.db.vec0_details import DETAILS_BY_ID, shadow_layout_ok

__all__ = ["Vectors", "delete_vectors", "vector_table"]

Vector = Sequence[float] | np.ndarray

#: Primary-key lookups per statement in `get_vectors` (SQLite allows 500 terms in one compound SELECT).
_LOOKUPS = 250

#: vec0's KNN returns at most this many rows per query.
_KNN_MAX = 4096


def vector_table(kind: str) -> str:
    """The table of vectors of `kind`; the check keeps a stray kind from reaching SQL text."""
    if kind not in VECTOR_DIMS:
        raise ValueError(f"unknown vector kind {kind!r}; expected one of {sorted(VECTOR_DIMS)}")
    return f"vec_{kind}"


def _checked(vector: Vector, kind: str, *, finite_known: bool = False) -> np.ndarray:
    """`vector` as a flat float32 array of `kind`'s length; NaN and infinities refused unless
    `finite_known` (a vector read back from the store, checked when it was written)."""
    expected = VECTOR_DIMS[kind]
    if finite_known and type(vector) is np.ndarray and vector.dtype == np.float32 and vector.shape == (expected,):
        return vector  # a stored row as the index gave it: nothing to convert or check (12 us after a search)
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != expected:
        raise ValueError(f"{kind} vectors have {expected} dimensions, got {array.shape[0]}")
    if not finite_known and not np.isfinite(array).all():
        raise ValueError(f"{kind} vector has NaN or infinite values")
    return array


def _select(kind: str) -> str:
    """The SELECT that reads whole rows of `kind` (what `_stored` turns into a StoredVector)."""
    return f"SELECT track_id, embedding, model_version{', details' if kind == 'mood' else ''} FROM {vector_table(kind)}"


def moods_from(points: dict[int, tuple[np.ndarray, str]], details: dict[int, str | None]
               ) -> dict[int, StoredVector]:
    """Mood rows from the index's points (which tracks have a mood, and its version) and the stored details
    JSON of each (missing or None: none stored)."""
    return {tid: StoredVector(tid, vector.tolist(), version, json.loads(details.get(tid) or "{}"))
            for tid, (vector, version) in points.items()}


def _stored(row: Any, kind: str) -> StoredVector:
    details = json.loads(row["details"] or "{}") if kind == "mood" else {}
    return StoredVector(
        int(row["track_id"]), np.frombuffer(row["embedding"], dtype=np.float32).tolist(), row["model_version"],
        details,
    )


async def _put_vector(
    conn: aiosqlite.Connection,
    kind: str,
    track_id: int,
    vector: Vector,
    model_version: str,
    details: dict[str, Any] | None,
) -> None:
    """Replace one vector inside the caller's transaction (vec0 tables have no upsert: delete + insert)."""
    table = vector_table(kind)
    array = _checked(vector, kind)
    blob = array.tobytes()
    await conn.execute(f"DELETE FROM {table} WHERE track_id = ?", (track_id,))
    if kind == "mood":
        await conn.execute(
            f"INSERT INTO {table} (track_id, embedding, model_version, details) VALUES (?, ?, ?, ?)",
            (track_id, blob, model_version, json.dumps(details or {})),
        )
        await set_cards(conn, [(track_id, card_values(array, model_version, details))])
    else:
        await conn.execute(
            f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (?, ?, ?)",
            (track_id, blob, model_version),
        )
    await log_changes(conn, kind, [(track_id, model_version)], "put")


async def delete_vectors(conn: aiosqlite.Connection, kinds: Iterable[str], track_id: int) -> None:
    """Delete a track's vectors of `kinds` inside the caller's transaction (logged for the ANN indexes)."""
    for kind in kinds:
        await conn.execute(f"DELETE FROM {vector_table(kind)} WHERE track_id = ?", (track_id,))
        if kind == "mood":
            await clear_cards(conn, [track_id])
        await log_changes(conn, kind, [(track_id, None)], "delete")


class Vectors(Database):
    """Queries over the vector tables."""

    @classmethod
    async def open(cls, path: Path | str, *, create: bool = True,
                   ann_min_tracks: int = DEFAULT_MIN_TRACKS) -> Self:
        """Open the database (see `Database.open`); searches of kinds with at least `ann_min_tracks`
        vectors go through an HNSW index once it is built."""
        store = await super().open(path, create=create)
        store._ann = AnnIndexes(store._conn, store.path, min_tracks=ann_min_tracks)
        return store

    @property
    def ann(self) -> AnnIndexes:
        """The approximate-search indexes of this connection (made on first use if `open` was bypassed)."""
        ann: AnnIndexes | None = self.__dict__.get("_ann")
        if ann is None:
            ann = self._ann = AnnIndexes(self._conn, self.path)
        return ann

    async def close(self) -> None:
        """Stop index builds, save indexes that changed, close the connection."""
        try:
            await self.ann.close()
        finally:
            await super().close()

    async def build_ann(self, kinds: Iterable[str] = tuple(VECTOR_DIMS), *,
                        on_rows: Callable[[int], object] | None = None) -> dict[str, Any]:
        """Build (and save beside the database) the HNSW index of `kinds` now, whatever their size;
        `on_rows(n)` after each chunk of n vectors added (progress)."""
        for kind in kinds:
            vector_table(kind)
            await self.ann.build(kind, on_rows)
        return self.ann.stats()

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
                await _put_vector(conn, kind, track_id, vector, version, (details or {}).get(kind))
            await conn.execute(
                f"UPDATE tracks SET status = 'ready', error = NULL, next_attempt_at = NULL, "
                f"duration_s = coalesce(?, duration_s), updated_at = {NOW} WHERE id = ?",
                (duration_s, track_id),
            )

    async def put_vector(
        self,
        kind: str,
        track_id: int,
        vector: Vector,
        model_version: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        async with self.transaction() as conn:
            await _put_vector(conn, kind, track_id, vector, model_version, details)

    async def put_vectors(self, kind: str, rows: Iterable[tuple[int, Vector]], model_version: str) -> int:
        """Replace many vectors of one kind at once (CF refreshes write thousands)."""
        table = vector_table(kind)
        prepared = [(int(track_id), _checked(vector, kind)) for track_id, vector in rows]
        async with self.transaction() as conn:
            await conn.executemany(f"DELETE FROM {table} WHERE track_id = ?", [(tid,) for tid, _ in prepared])
            await conn.executemany(
                f"INSERT INTO {table} (track_id, embedding, model_version) VALUES (?, ?, ?)",
                [(tid, array.tobytes(), model_version) for tid, array in prepared],
            )
            if kind == "mood":  # no details here: cards without tags
                await set_cards(conn, [(tid, card_values(array, model_version, None))
                                       for tid, array in prepared])
            await log_changes(conn, kind, [(tid, model_version) for tid, _ in prepared], "put")
        return len(prepared)

    async def get_vector(self, kind: str, track_id: int) -> StoredVector | None:
        return (await self.get_vectors(kind, [track_id])).get(int(track_id))

    async def vector_array(self, kind: str, track_id: int) -> tuple[np.ndarray, str] | None:
        """A track's `kind` vector as a float32 array, with its model version; None when it has none.

        What a search by a track's own vector needs: from a ready index it is the index's row as is, where
        `get_vector`'s list of floats, made back into an array, cost 34 us of a `similar` reply (128 floats
        each way, right after the previous search).  The array is read-only.
        """
        indexed = await self.ann.vectors(kind, [track_id])
        if indexed is not None:
            return indexed.get(int(track_id))
        stored = await self.get_vector(kind, track_id)
        return None if stored is None else (np.asarray(stored.vector, dtype=np.float32), stored.model_version)

    async def get_vectors(self, kind: str, track_ids: Iterable[int] | None = None) -> dict[int, StoredVector]:
        """Vectors of `kind` for `track_ids` (all of them when None: CF refreshes read the whole table).

        On a large catalogue whose index is ready the vectors come from the index (`AnnIndexes.vectors`,
        the same float32 rows) and only a mood's details from the table: a vec0 row costs ~40 us to read,
        which made reading the dozen vectors of a `similar` reply cost more than its search.
        """
        if track_ids is None:
            return {int(row["track_id"]): _stored(row, kind) for row in await self._fetchall(_select(kind))}
        ids = [int(t) for t in track_ids]
        indexed = await self.ann.vectors(kind, ids) if ids else None
        if indexed is None:
            return await self._table_vectors(kind, ids)
        if kind != "mood":
            return {t: StoredVector(t, vector.tolist(), version, {}) for t, (vector, version) in indexed.items()}
        # The version comes from the index too: reading it from vec0 would double the cost of these lookups.
        return moods_from(indexed, await self._mood_details(list(indexed)))

    async def details_in_shadow(self) -> bool:
        """Whether mood details may be read from sqlite-vec's shadow table (`db.vec0_details`), checked once
        per connection."""
        ok: bool | None = self.__dict__.get("_details_from_shadow")
        if ok is None:
            ok = self._details_from_shadow = await shadow_layout_ok(self._fetchall)
        return ok

    async def _mood_details(self, ids: list[int]) -> dict[int, str | None]:
        """track id -> the stored details JSON (None: none stored) of those of `ids` with a mood row."""
        if not await self.details_in_shadow():
            rows = await self._lookups("SELECT track_id, details FROM vec_mood", ids)
        else:
            rows = []
            for chunk in chunks(ids):
                rows += await self._fetch_keyed(DETAILS_BY_ID.format(marks=marks(len(chunk))), chunk)
        return {int(row[0]): row[1] for row in rows}

    async def _table_vectors(self, kind: str, ids: list[int]) -> dict[int, StoredVector]:
        return {int(row["track_id"]): _stored(row, kind) for row in await self._lookups(_select(kind), ids)}

    async def _lookups(self, select: str, ids: list[int]) -> list[Any]:
        """`select` (a SELECT on a vec0 table) for each id, by primary key, in as few round trips as possible.

        vec0 answers `track_id IN (...)` with a scan of the whole table (80 ms at 100k rows) but
        `track_id = ?` with a primary-key lookup: one statement of such lookups joined by UNION ALL (below
        SQLite's 500-term compound limit) reads a few rows in one round trip.
        """
        rows: list[Any] = []
        for chunk in chunks(ids, _LOOKUPS):
            rows += await self._fetch_keyed(" UNION ALL ".join([select + " WHERE track_id = ?"] * len(chunk)),
                                            chunk)
        return rows

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

        Neither vec0's KNN nor the HNSW index takes a filter on track ids, so `k` plus the excluded count are
        fetched and the excluded dropped afterwards.  Large tables are searched through their HNSW index
        (approximate, same distances) once it is ready; until then, and for small tables, vec0 scans exactly.
        `exact=True` always scans (what benchmarks measure the index's recall against).  `stored_query`: the
        vector is a track's own stored one (`similar` by a catalogue track), which the index finds with a
        narrower, faster search (`AnnParams.expansion_search_stored`); it was checked for NaN when written,
        so it is not checked again.
        """
        table = vector_table(kind)
        excluded = {int(e) for e in exclude}
        query = _checked(vector, kind, finite_known=stored_query)
        fetch = min(_KNN_MAX, k + len(excluded))
        approximate = None if exact else await self.ann.search(kind, query, fetch, model_version,
                                                               stored=stored_query)
        if approximate is not None:
            return [Neighbor(t, d, v) for t, d, v in approximate if t not in excluded][:k]
        sql = f"SELECT track_id, distance, model_version FROM {table} WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [query.tobytes(), fetch]
        if model_version is not None:
            sql += " AND model_version = ?"
            params.append(model_version)
        rows = await self._fetchall(sql + " ORDER BY distance", params)
        hits = [Neighbor(int(r[0]), float(r[1]), r[2]) for r in rows if int(r[0]) not in excluded]
        return hits[:k]

    async def vector_versions(self, kind: str) -> dict[str, int]:
        """model version -> how many vectors of `kind` it made."""
        rows = await self._fetchall(
            f"SELECT model_version, count(*) FROM {vector_table(kind)} GROUP BY model_version"
        )
        return {row[0]: row[1] for row in rows}

    async def tracks_with_stale_vectors(self, kind: str, current_version: str, limit: int = 1000) -> list[int]:
        """Ready tracks whose `kind` vector is missing or was made by another model version."""
        rows = await self._fetchall(
            f"SELECT t.id FROM tracks t LEFT JOIN {vector_table(kind)} v ON v.track_id = t.id "
            "WHERE t.status = 'ready' AND t.source_kind != 'catalogue' "
            "AND (v.track_id IS NULL OR v.model_version != ?) ORDER BY t.id LIMIT ?",
            (current_version, limit),
        )
        return [int(row[0]) for row in rows]
