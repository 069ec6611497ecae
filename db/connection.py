"""One open database: the aiosqlite connection, the driver behind it and the transaction lock.

One aiosqlite connection per process serialises statements on its worker thread, so the event loop does not
wait for writes, scans or locks.  Opening does everything a connection needs before the first query: pick a driver that can
load sqlite-vec, switch to WAL (so a worker process and a bot process can share the file), and apply the
numbered migrations on that same connection (a `:memory:` database exists only there).  Multi-statement
changes go through `transaction()` (BEGIN IMMEDIATE) so a crash leaves either all of a change or none of it.

Keyed reads of a few rows (a track by id, a reply's songs) may instead run on the event loop's own thread,
on a second, read-only connection to the same file (`_fetch_keyed`): such a read takes 0.02-0.1 ms, a hop to
aiosqlite's thread and back ~0.25 ms on two cores, and a `similar` reply makes one.  WAL lets that
reader read while the writer writes; it never waits for a lock (busy timeout 0: a busy file sends the read
through aiosqlite instead) and it is not used while this process has a transaction open, whose uncommitted
rows only the writer's connection can see.  A read from pages that are not in memory waits for the disk
and holds the whole loop meanwhile (up to 125 ms seen on the 1M-track bench file just evicted from the page
cache): after one read slower than `SLOW_LOOP_READ_S` that made the thread wait for the disk (its major
page faults or blocks read went up since a count at most `WAITS_BASELINE_S` old; where the OS does not
count them per thread, any slow read), keyed reads go through aiosqlite's thread for `LOOP_READ_PAUSE_S`,
so a cold file costs the loop at most one such wait per pause.  A read slowed by a busy CPU alone (the
emotion model's threads, say) does not pause them: aiosqlite's thread would wait for the CPU as well, and
the hop would cost every reply for nothing.

The concern modules (tracks, vectors, playlists, jobs, meta) subclass `Database` and only add queries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite

from moodtape.db import migrate
from moodtape.db.connect import Driver, connector, pick_driver
from moodtape.db.errors import StoreError

__all__ = ["Database"]

log = logging.getLogger(__name__)

try:  # per-thread resource counts: Linux; elsewhere a slow read alone is taken for a wait for the disk
    import resource

    _RUSAGE_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)
except ImportError:  # Windows
    _RUSAGE_THREAD = None

_MEMORY = ":memory:"
#: The most keys a read on the loop's thread may look up (~0.01-0.04 ms each): a reply's songs and their
#: vectors; the hundreds of rows of a playlist or a re-ranking pool go to aiosqlite's thread.
LOOP_READ_KEYS = 32
#: A keyed read from pages in memory takes 0.02-0.1 ms; one slower than this that made the thread read from
#: the disk (a file not read since a restart, pages evicted under memory pressure) held the event loop.
SLOW_LOOP_READ_S = 0.005
#: After such a read, keyed reads go through aiosqlite's thread for this long (those reads bring the file's
#: pages back into memory without holding the loop); then the loop's thread is tried again.
LOOP_READ_PAUSE_S = 30.0
#: A slow read's disk waits are counted from a baseline at most this old (s): taking the count before every
#: read cost 17 us right after a search (a `getrusage` call), a fifth of the read itself.  Disk waits of the
#: loop's thread in the second before a slow read are then taken for that read's.
WAITS_BASELINE_S = 1.0


def disk_waits() -> int | None:
    """Major page faults plus blocks read from the disk by the calling thread so far (a read through the
    memory map that misses the page cache is a major fault; one through `read` a block input); None where
    the OS does not count them per thread.  About 1 us warm, 17 us right after a search."""
    if _RUSAGE_THREAD is None:
        return None
    usage = resource.getrusage(_RUSAGE_THREAD)
    return usage.ru_majflt + usage.ru_inblock


def _location(path: Path | str, create: bool) -> str:
    """The file to open (its folder made when allowed), refusing paths that cannot be a database."""
    location = str(path)
    if location == _MEMORY:
        return location
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
    return str(file)


def _open_reader(location: str, driver: Driver) -> Any:
    """A read-only connection to a database file for keyed reads on the loop's thread; None for
    `:memory:` (a second connection would see another, empty database) or when it cannot be opened."""
    if location == _MEMORY:
        return None
    try:
        reader = connector(location, driver, isolation_level=None)()
        reader.execute("PRAGMA busy_timeout = 0")
        reader.execute("PRAGMA query_only = ON")
    except Exception:  # driver-specific errors: the writer's connection answers every read, as before
        return None
    return reader


class Database:
    """Async access to one Moodtape database file (or `:memory:`); queries live in the subclasses."""

    def __init__(self, conn: aiosqlite.Connection, path: str, driver: Driver, reader: Any = None) -> None:
        self._conn = conn
        self.path = path
        self.driver = driver
        self._tx_lock = asyncio.Lock()
        self._reader = reader
        self._loop_reads_paused_until = float("-inf")
        #: The loop thread's `disk_waits` at `_waits_at` (monotonic s) on thread `_waits_thread`: what a slow
        #: keyed read's count is compared with (see `_fetch_keyed`).
        self._waits: int | None = None
        self._waits_at = float("-inf")
        self._waits_thread = 0
        #: How many times keyed reads left the loop's thread after a slow one (benchmarks report it).
        self.loop_read_pauses = 0

    @classmethod
    async def open(cls, path: Path | str, *, create: bool = True) -> Self:
        """Open (creating the file and its folder if allowed), enable WAL, apply migrations."""
        location = _location(path, create)
        driver = pick_driver()
        conn = aiosqlite.Connection(connector(location, driver, isolation_level=None), iter_chunk_size=256)
        try:
            await conn
        except Exception as exc:  # driver-specific OperationalError
            raise StoreError(f"cannot open database {location}: {exc}") from exc
        try:
            if location != _MEMORY:
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
            await migrate.apply(conn)
        except Exception as exc:
            await conn.close()
            raise StoreError(f"cannot prepare database {location}: {exc}") from exc
        return cls(conn, location, driver, _open_reader(location, driver))

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        The lock keeps this process's coroutines from interleaving statements inside one another's
        transaction on the shared connection; BEGIN IMMEDIATE does the same across processes.
        """
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
        # One hop to aiosqlite's thread (execute + fetch + close there) instead of three: on a large catalogue
        # a reply's reads are a few such statements, and the hops cost more than the lookups.
        return list(await self._conn.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row (or None) of a statement that returns one row or a few: lookups by key, counts.

        Also one hop: aiosqlite's cursor (execute, fetchone, close) cost 0.4 ms per lookup against 0.06-0.2 ms
        for `execute_fetchall` (measured on the 1M-track bench catalogue), and `similar` makes several.
        """
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def _fetch_keyed(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of a read by primary key or unique index, one key per parameter: on the loop's thread
        when there are at most `LOOP_READ_KEYS` keys and the reader can answer at once, else through
        aiosqlite.  Never for scans: they would stall the loop.  One that turns out slow (the disk answered)
        pauses these reads on the loop's thread for `LOOP_READ_PAUSE_S`."""
        reader = self._reader
        now = time.monotonic()
        if (reader is not None and len(params) <= LOOP_READ_KEYS and not self._tx_lock.locked()
                and now >= self._loop_reads_paused_until):
            thread = threading.get_ident()
            if now - self._waits_at > WAITS_BASELINE_S or thread != self._waits_thread:
                self._waits, self._waits_at, self._waits_thread = disk_waits(), now, thread
            started = time.perf_counter()
            try:
                rows = reader.execute(sql, params).fetchall()
            except self.driver.module.OperationalError:  # busy (a checkpoint, a writer's lock): the writer's way
                pass
            else:
                elapsed = time.perf_counter() - started
                if elapsed > SLOW_LOOP_READ_S:
                    waits = disk_waits()
                    if waits is None or self._waits is None or waits > self._waits:
                        self._pause_loop_reads(elapsed)
                    self._waits, self._waits_at = waits, now
                return rows
        return await self._fetchall(sql, params)

    def _pause_loop_reads(self, elapsed: float) -> None:
        self._loop_reads_paused_until = time.monotonic() + LOOP_READ_PAUSE_S
        self.loop_read_pauses += 1
        log.info("a keyed read of %s waited %.1f ms for the disk on the event loop's thread; keyed reads go "
                 "through the worker thread for the next %.0f s", self.path, elapsed * 1000, LOOP_READ_PAUSE_S)

    async def schema_version(self) -> int:
        """The number of the last migration applied (SQLite's `user_version`)."""
        return (await self._fetchone("PRAGMA user_version"))[0]
