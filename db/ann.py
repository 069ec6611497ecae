"""Approximate nearest neighbours for large catalogues: in-memory HNSW indexes (usearch) over the vec0 tables.

sqlite-vec's KNN is an exact scan: fine for a personal library, too slow per query at a million tracks.
When a kind's table holds at least `min_tracks` vectors, `AnnIndexes` keeps one usearch HNSW index per
(kind, model version) and `Vectors.knn` answers from it; below that, or while an index is loading, building
or catching up, it returns None and the exact vec0 search answers.  sqlite-vec stays the source of truth:

- every vector write/delete appends to `vector_changes` in its own transaction (`db/ann_log.py`); before a
  search the index checks the log (at most every `poll_s` unless this connection wrote meanwhile) and
  re-reads the rows of the tracks changed since its last `seq`.  Few changes are applied inline; many are
  applied by a background task (exact answers meanwhile); an index older than the retained log, or for a
  database that went back in time (a restored backup), is rebuilt.
- building (minutes at 1M) never happens in a request: a background task scans the table in chunks through
  the store's own connection (so `:memory:` works too) and adds them in a worker thread; the result is saved
  beside the database (`<db>.ann/<kind>-<version>.usearch` plus a `<kind>.json` sidecar with seq, counts,
  dim, metric and parameters) and restored on the next start (seconds), then caught up from the log and
  checked against the table's row count.  A missing, corrupt or mismatched file means a rebuild.

Distances are the table's: cosine distance `1 - cos` (audio, cf) and Euclidean (mood, from usearch's squared
L2), equal to sqlite-vec's up to float32 rounding.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np

from moodtape.db import ann_log
from moodtape.db.ann_files import file_name, load_kind, remove_kind, save_kind
from moodtape.db.usearch_index import Index, f32_rows
from moodtape.db.models import VECTOR_DIMS

__all__ = ["DEFAULT_MIN_TRACKS", "AnnIndexes", "AnnParams"]

log = logging.getLogger(__name__)

#: Catalogue size (vectors of one kind) from which searches go through the HNSW index.
DEFAULT_MIN_TRACKS = 50_000
#: Changed tracks applied inside a search (a primary-key read each); more go to a background catch-up.
INLINE_CHANGES = 256
#: Share of the index changed at once (e.g. a CF refresh writing a new version) from which it is rebuilt.
REBUILD_FRACTION = 0.2
#: Rows read per chunk while building or catching up.
CHUNK = 8192
#: Seconds between re-counts of a table that is below the threshold.
COUNT_TTL_S = 30.0
#: Seconds before a failed load or build is tried again (exact answers meanwhile).
RETRY_FAILED_S = 600.0

_METRICS = {"audio": "cos", "cf": "cos", "mood": "l2sq"}


@dataclass(frozen=True)
class AnnParams:
    """HNSW parameters.  On `moodtape bench knn`'s clustered 128-d vectors, recall@10 with these build settings
    was 1.0 at 100k for any expansion_search >= 64, and at 1M 0.894 / 0.959 / 0.970 for 128 / 192 / 256
    (1.1 / 1.3 / 1.7 ms median, 2 shared cores); 384 is chosen to pass 0.98 at 1M, extrapolated from those
    figures and still to be confirmed by a 1M run.  expansion_search is a search-time knob: changing it needs no rebuild."""

    connectivity: int = 32
    expansion_add: int = 128
    expansion_search: int = 384
    #: Breadth for a query that is a stored vector (`similar` by a catalogue track): the search reaches the
    #: query's own node, whose links were chosen as its neighbours when it was added, so a narrower search
    #: finds them.  On the 1M bench catalogue, recall@10 (the track itself excluded) 1.000 at 128 as at
    #: 384, in 1.29 against 1.76 ms median; 0.990 at 64.
    expansion_search_stored: int = 128
    dtype: str = "f32"

    def new_index(self, kind: str) -> Index:
        return Index(ndim=VECTOR_DIMS[kind], metric=_METRICS[kind], dtype=self.dtype,
                     connectivity=self.connectivity, expansion_add=self.expansion_add,
                     expansion_search=self.expansion_search)


@dataclass
class _Kind:
    """The indexes of one vector kind and how far they follow the log."""

    kind: str
    state: str = "off"  # off | loading | building | catching_up | ready | failed
    indexes: dict[str, Index] = field(default_factory=dict)
    seq: int = 0
    checked_at: float = float("-inf")
    polled_at: float = float("-inf")
    seen_changes: int = -1
    unsaved: int = 0
    error: str | None = None
    task: asyncio.Task[None] | None = None
    poll_task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class AnnIndexes:
    """The HNSW indexes of one store connection (one process); see the module docstring."""

    def __init__(self, conn: aiosqlite.Connection, db_path: str, *, min_tracks: int = DEFAULT_MIN_TRACKS,
                 params: AnnParams | None = None, poll_s: float = 0.05) -> None:
        self._conn = conn
        self.folder = None if db_path == ":memory:" else Path(db_path + ".ann")
        self.min_tracks = int(min_tracks)
        self.params = params or AnnParams()
        self.poll_s = poll_s
        self._kinds = {kind: _Kind(kind) for kind in VECTOR_DIMS}

    # --- searching -----------------------------------------------------------------------------------------
    async def search(self, kind: str, vector: np.ndarray, count: int, model_version: str | None, *,
                     stored: bool = False) -> list[tuple[int, float, str]] | None:
        """Up to `count` (track_id, distance, model version) nearest first, or None when the exact search
        must answer.

        `stored`: the query is a vector of the table itself, searched with `expansion_search_stored`.
        """
        st = self._kinds[kind]
        if st.state == "failed" and time.monotonic() - st.checked_at > RETRY_FAILED_S:
            st.state = "off"  # try again now and then (the reason stays in stats until it works)
        if st.state == "off":
            await self._maybe_start(st)
            return None
        if st.state != "ready":
            return None
        if self._sync_due(st):
            await self._poll(st)
            if st.state != "ready":
                return None
        indexes = list(st.indexes.items()) if model_version is None else (
            [(model_version, st.indexes[model_version])] if model_version in st.indexes else [])
        found: list[tuple[int, float, str]] = []
        for version, index in indexes:
            size = len(index)
            if size == 0:
                continue
            # Searches run on the event loop's thread, one at a time: each sets the breadth it needs (setting
            # it back after each one cost another 9 us of a `similar` reply).
            index.expansion_search = (self.params.expansion_search_stored if stored
                                      else self.params.expansion_search)
            matches = index.search(vector, min(count, size))
            distances = matches.distances  # float32: `tolist` gives the same doubles `astype` would
            if kind == "mood":
                distances = np.sqrt(np.maximum(distances.astype(np.float64), 0.0))
            found += zip(matches.keys.tolist(), distances.tolist(), itertools.repeat(version))
        if len(indexes) > 1:
            found.sort(key=lambda hit: (hit[1], hit[0]))
        return found[:count]

    async def vectors(self, kind: str, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, str]] | None:
        """track_id -> (vector, model version) for those of `ids` that have a vector, read from the ready
        index; None when the table must answer (no index ready, or one that does not keep exact vectors).

        A float32 index holds each row's vector as it was added, so this is the table's answer without its
        cost: vec0 reads a vector out of a chunk of 1,024 (about 40 us a row, and `similar` reads a dozen).
        It is as fresh as a search: this connection's writes at once, other processes' within `poll_s`.
        """
        st = self._kinds[kind]
        if st.state != "ready" or self.params.dtype != "f32":
            return None
        if self._sync_due(st):
            await self._poll(st)
            if st.state != "ready":
                return None
        wanted = [int(t) for t in ids]
        keys = np.asarray(wanted, dtype=np.uint64)
        found: dict[int, tuple[np.ndarray, str]] = {}
        for version, index in st.indexes.items():
            if len(found) == len(wanted):
                break
            for track_id, vector in zip(wanted, f32_rows(index, keys)):
                if vector is not None:
                    found[track_id] = (vector, version)
        return found

    async def _maybe_start(self, st: _Kind) -> None:
        """Start loading or building in the background once the table reaches the threshold."""
        now = time.monotonic()
        if now - st.checked_at < COUNT_TTL_S:
            return
        st.checked_at = now
        if await self._total(st.kind) >= self.min_tracks:
            self._start(st, self._load_or_build(st))

    def _start(self, st: _Kind, work: Any) -> None:
        st.task = asyncio.get_running_loop().create_task(self._guard(st, work))

    async def _guard(self, st: _Kind, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed build must not break searches: exact answers, the reason is in stats
            log.exception("ANN index for %s failed", st.kind)
            st.state, st.error, st.indexes = "failed", f"{type(exc).__name__}: {exc}", {}
            st.checked_at = time.monotonic()

    async def _total(self, kind: str) -> int:
        """Rows in a vec0 table, from its rowid shadow table (a plain b-tree count, no vector reads)."""
        return (await self._snapshot(kind))[1]

    # --- following the log ---------------------------------------------------------------------------------
    def _sync_due(self, st: _Kind) -> bool:
        """Whether the log must be followed (`_poll`) before answering: when this connection wrote since the
        last look (read your own writes) or when `poll_s` is 0.  Otherwise it is followed at most every
        `poll_s`, in the background (started here), so a search pays no database round trip and other
        processes' writes show up within about `poll_s`.  A plain function, not a coroutine: searches ask
        this twice a reply, and an `await` costs ~10 us right after a search."""
        if self._conn.total_changes != st.seen_changes or self.poll_s <= 0:
            return True
        if time.monotonic() - st.polled_at >= self.poll_s and (st.poll_task is None or st.poll_task.done()):
            st.polled_at = time.monotonic()
            st.poll_task = asyncio.get_running_loop().create_task(self._background_poll(st))
        return False

    async def _background_poll(self, st: _Kind) -> None:
        try:
            await self._poll(st)
        except Exception:  # the next search looks again; the exact path is not affected
            log.exception("following the vector change log for %s failed", st.kind)

    async def _poll(self, st: _Kind) -> None:
        """Apply the changes committed since `st.seq`: inline when few, else in the background."""
        async with st.lock:
            if st.state != "ready":
                return
            st.seen_changes, st.polled_at = self._conn.total_changes, time.monotonic()
            window = await ann_log.window(self._conn)
            if window.latest == st.seq:
                return
            if st.seq > window.latest or st.seq < window.oldest - 1:
                self._rebuild(st, "the change log no longer covers this index")
                return
            ids = await ann_log.changed_tracks(self._conn, st.kind, st.seq, window.latest)
            if len(ids) > max(REBUILD_FRACTION * sum(len(i) for i in st.indexes.values()), CHUNK):
                self._rebuild(st, f"{len(ids)} vectors changed")  # a table scan beats that many lookups
                return
            if len(ids) > INLINE_CHANGES:
                st.state = "catching_up"
                self._start(st, self._catch_up(st))
                return
            self._apply(st, ids, await self._rows(st.kind, ids))
            st.seq = window.latest
            st.unsaved += len(ids)

    def _rebuild(self, st: _Kind, why: str) -> None:
        log.info("rebuilding the ANN index for %s: %s", st.kind, why)
        st.state, st.indexes = "building", {}
        self._start(st, self._build(st))

    async def _rows(self, kind: str, ids: list[int]) -> list[tuple[int, bytes, str]]:
        """Current (track_id, vector, version) of `ids`, by primary-key lookups (vec0 scans on `IN`)."""
        rows = []
        sql = f"SELECT track_id, embedding, model_version FROM vec_{kind} WHERE track_id = ?"
        for track_id in ids:
            async with self._conn.execute(sql, (track_id,)) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                rows.append((int(row[0]), row[1], row[2]))
        return rows

    def _apply(self, st: _Kind, ids: list[int], rows: list[tuple[int, bytes, str]]) -> None:
        """Make the indexes hold exactly the current rows of `ids` (idempotent)."""
        keys = np.asarray(ids, dtype=np.uint64)
        for index in st.indexes.values():
            index.remove(keys)
        self._add(st, rows)
        for version in [v for v, index in st.indexes.items() if len(index) == 0]:
            del st.indexes[version]  # a version whose vectors were all replaced or deleted

    def _add(self, st: _Kind, rows: list[tuple[int, bytes, str]]) -> None:
        by_version: dict[str, list[tuple[int, bytes]]] = {}
        for track_id, blob, version in rows:
            by_version.setdefault(version, []).append((track_id, blob))
        for version, items in by_version.items():
            index = st.indexes.get(version)
            if index is None:
                index = st.indexes[version] = self.params.new_index(st.kind)
            vectors = np.frombuffer(b"".join(b for _, b in items), dtype=np.float32).reshape(len(items), -1)
            index.add(np.asarray([t for t, _ in items], dtype=np.uint64), vectors)

    async def _catch_up(self, st: _Kind) -> None:
        """Apply a long stretch of the log in the background (exact answers meanwhile)."""
        await self._finish(st)

    # --- building, loading, saving -------------------------------------------------------------------------
    async def _load_or_build(self, st: _Kind) -> None:
        loaded = None
        if self.folder is not None:
            st.state = "loading"
            loaded = await asyncio.to_thread(load_kind, self.folder, st.kind, self.params)
        if loaded is None:
            st.state = "building"
            await self._build(st)
            return
        st.indexes, st.seq = loaded
        window = await ann_log.window(self._conn)
        if st.seq > window.latest or st.seq < window.oldest - 1:
            st.state, st.indexes = "building", {}
            await self._build(st)
            return
        st.state = "catching_up"
        await self._catch_up(st)

    async def _build(self, st: _Kind, on_rows: Callable[[int], object] | None = None) -> None:
        """Scan the table in chunks (other queries interleave) and add them in a worker thread; `on_rows`
        hears how many rows each chunk added (progress bars)."""
        st.state, st.indexes, st.unsaved = "building", {}, 0
        latest, _ = await self._snapshot(st.kind)  # changes after this are replayed by `_finish`
        sql = f"SELECT track_id, embedding, model_version FROM vec_{st.kind}"
        async with self._conn.execute(sql) as cursor:
            while rows := await cursor.fetchmany(CHUNK):
                batch = [(int(r[0]), r[1], r[2]) for r in rows]
                await asyncio.to_thread(self._add, st, batch)
                if on_rows is not None:
                    on_rows(len(batch))
        st.seq, st.unsaved = latest, 1
        await self._finish(st)

    async def _snapshot(self, kind: str) -> tuple[int, int]:
        """(latest seq, rows in the table) read by one statement, so from one consistent snapshot."""
        async with self._conn.execute(
            "SELECT coalesce((SELECT max(seq) FROM vector_changes), "
            "(SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'), 0), "
            f"(SELECT count(*) FROM vec_{kind}_rowids)"
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]), int(row[1])

    async def _finish(self, st: _Kind) -> None:
        """Replay what changed meanwhile, check the index against the table, save it, let searches use it.

        A count that differs once the index is current means the index missed writes (a restored backup, a
        writer that bypassed the log): a loaded or caught-up index is rebuilt; a fresh build is kept (it is
        what the table held) with a warning.
        """
        for _ in range(5):
            latest, total = await self._snapshot(st.kind)
            if latest > st.seq:
                ids = await ann_log.changed_tracks(self._conn, st.kind, st.seq, latest)
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start:start + CHUNK]
                    rows = await self._rows(st.kind, chunk)
                    await asyncio.to_thread(self._apply, st, chunk, rows)
                st.seq, st.unsaved = latest, st.unsaved + len(ids)
                continue
            held = sum(len(i) for i in st.indexes.values())
            if held != total:
                if st.state != "building":
                    self._rebuild(st, f"index holds {held} vectors, the table {total}")
                    return
                log.warning("ANN index for %s holds %d vectors, the table %d", st.kind, held, total)
            break
        if st.unsaved:
            await self._save(st)
        st.state, st.error, st.seen_changes = "ready", None, -1

    async def _save(self, st: _Kind) -> None:
        if self.folder is not None:
            await asyncio.to_thread(save_kind, self.folder, st.kind, st.indexes, st.seq, self.params)
        st.unsaved = 0

    async def build(self, kind: str, on_rows: Callable[[int], object] | None = None) -> None:
        """Build `kind`'s index now, whatever the threshold, and wait for it (the explicit build)."""
        st = self._kinds[kind]
        await self._stop(st)
        st.state = "building"
        await self._build(st, on_rows)

    async def wait(self, kind: str) -> str:
        """Wait for `kind`'s background load, build or catch-up (if any) to end; its state then."""
        st = self._kinds[kind]
        while st.task is not None and not st.task.done():
            await asyncio.shield(st.task)
        return st.state

    async def _stop(self, st: _Kind) -> None:
        if st.poll_task is not None and not st.poll_task.done():
            st.poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await st.poll_task
        if st.task is not None and not st.task.done():
            st.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await st.task
        st.task = None

    async def close(self) -> None:
        """Stop background work and save indexes that changed since they were saved."""
        for st in self._kinds.values():
            await self._stop(st)
            if st.state == "ready" and st.unsaved:
                with contextlib.suppress(OSError):
                    await self._save(st)

    def forget(self, kind: str) -> None:
        """Drop `kind`'s persisted files (tests and `ann-build --drop`)."""
        if self.folder is not None:
            remove_kind(self.folder, kind)

    # --- reporting -----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per index: kind, version, vectors, bytes in memory and on disk, state; plus the parameters."""
        indexes = []
        for st in self._kinds.values():
            if not st.indexes:
                indexes.append({"kind": st.kind, "version": None, "vectors": 0, "bytes_memory": 0,
                                "bytes_disk": 0, "state": st.state, **({"error": st.error} if st.error else {})})
            for version, index in st.indexes.items():
                file = None if self.folder is None else self.folder / file_name(st.kind, version)
                disk = file.stat().st_size if file is not None and file.exists() else 0
                indexes.append({"kind": st.kind, "version": version, "vectors": len(index),
                                "bytes_memory": int(index.memory_usage), "bytes_disk": disk,
                                "state": st.state, "seq": st.seq})
        return {"min_tracks": self.min_tracks, "params": asdict(self.params),
                "folder": str(self.folder) if self.folder else None, "indexes": indexes}

    def state(self, kind: str) -> str:
        return self._kinds[kind].state

    def index(self, kind: str, version: str) -> Index | None:
        """The usearch index of (kind, version), for benchmarks that time the library alone."""
        return self._kinds[kind].indexes.get(version)


