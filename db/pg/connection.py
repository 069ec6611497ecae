"""One PostgreSQL database: the connection pool, migrations on open, transactions, and work notifications.

Driver: psycopg 3 with psycopg_pool.  It was picked over asyncpg because it gives everything the store needs
from one maintained library with libpq's own connection strings (the `postgresql://` URLs people already

have, unix sockets, `?options=`, TLS settings): an async pool, `LISTEN`/`NOTIFY` as an async iterator with a
timeout (`AsyncConnection.notifies`), server-side `COPY` for bulk copies, and row factories, so rows read by
name and by position just like `sqlite3.Row` rows do in the SQLite store.

Each call takes a pooled connection for its statement or transaction, so concurrent coroutines (a bot's
updates) and processes on several hosts run side by side; PostgreSQL's row locks do what the SQLite store's
BEGIN IMMEDIATE does.  Searches use pgvector's HNSW indexes with `hnsw.ef_search` set on every connection.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool

from moodtape.db.errors import StoreError
from moodtape.db.locations import redact
from moodtape.db.pg import migrate

__all__ = ["DEFAULT_EF_SEARCH", "NOTIFY_CHANNEL", "NOW", "PgDatabase", "Row"]

#: The current UTC time in the format of every timestamp column (the SQLite store's `sql.NOW`).
NOW = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#: HNSW candidates per search (`hnsw.ef_search`; also the most rows one index scan returns before filters).
#: Measured with the schema's build parameters (m = 32, ef_construction = 128) by `moodtape bench knn --backend
#: postgres --n 1000000` (clustered 128-d data, 200 probes, 2 cores, shared_buffers 2GB): recall@10 0.857 /
#: 0.948 / 0.983 at 200 / 400 / 800, median 4.1 / 5.9 / 15.3 ms; at 100k every value from 200 up reaches 1.0.
#: 500 sits between the last two (README "Measured"); MOODTAPE_PG_EF_SEARCH moves it (pgvector caps it at 1000).
DEFAULT_EF_SEARCH = 500
#: `hnsw.ef_search` for a query that is a stored vector (`similar` by a catalogue track, itself excluded):
#: its own node's links lead to its neighbours, so a narrower search finds them.  Same 1M bench, 200 member
#: queries (2026-12-01, two builds): recall@10 0.98-0.99 at 40, 0.992-0.9945 at 100, 0.997-0.9995 at 200-500;
#: through `PgStore.knn` at 100: median 4.0 ms, p99 7.4 ms (6.95 / 10.9 ms at 500).
STORED_EF_SEARCH = 100

#: Channel of the NOTIFY sent (by triggers, see migration 0001) when a job is queued or a track is pending.
NOTIFY_CHANNEL = "moodtape_work"


class Row(tuple):
    """A result row readable by position (`row[0]`) and by column name (`row["id"]`), as `sqlite3.Row`."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: Any) -> RowMaker[Row]:
    """psycopg row factory making `Row`s (one subclass per result, holding its column names)."""
    names = {col.name: i for i, col in enumerate(cursor.description or ())}
    cls = type("Row", (Row,), {"_names": names, "__slots__": ()})
    return lambda values: cls(values)


class PgDatabase:
    """A pool of connections to one PostgreSQL database; queries live in the subclasses."""

    #: Whether `wait_for_work` is woken by other processes (LISTEN/NOTIFY); the SQLite store's is False.
    notifies_work = True

    #: Least seconds between two wake-ups by notification: two workers whose rounds queue jobs must not
    #: wake each other in a tight loop (e.g. a backup that keeps failing on both).
    MIN_WAKE_GAP_S = 1.0

    def __init__(self, pool: AsyncConnectionPool, url: str, ef_search: int, name: str) -> None:
        self._pool = pool
        self.url = url
        self.path = redact(url)
        self.ef_search = ef_search
        #: This store's `application_name` on the server: the payload of the NOTIFYs its writes send.
        self.name = name
        self._listener: AsyncConnection | None = None
        self._listen_lock = asyncio.Lock()
        self._last_wake = 0.0

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 8, ef_search: int = DEFAULT_EF_SEARCH,
                   connect_timeout_s: float = 30.0) -> Self:
        """Connect, apply the migrations (creating the `vector` extension) and return the store."""
        shown = redact(url)
        name = f"moodtape-{os.getpid()}-{uuid.uuid4().hex[:8]}"

        async def configure(conn: AsyncConnection) -> None:
            await conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")

        pool = AsyncConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), open=False, configure=configure,
            kwargs={"autocommit": True, "row_factory": _rows, "application_name": name}, timeout=connect_timeout_s,
            name="moodtape",
        )
        try:
            await pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as exc:
            await pool.close()
            raise StoreError(f"cannot connect to database {shown}: {exc}") from exc
        try:
            async with pool.connection() as conn:
                await migrate.apply(conn)
        except Exception as exc:
            await pool.close()
            hint = ""
            if "vector" in str(exc) and "extension" in str(exc):
                hint = " (the pgvector extension must be installed on the server; CREATE EXTENSION needs a " \
                       "role allowed to create it)"
            raise StoreError(f"cannot prepare database {shown}: {exc}{hint}") from exc
        return cls(pool, url, ef_search, name)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection inside BEGIN ... COMMIT, rolled back on any exception."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params or None)
            return await cur.fetchall()

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params or None)
            return await cur.fetchone()

    async def schema_version(self) -> int:
        """The number of the last migration applied."""
        async with self._pool.connection() as conn:
            return await migrate.current_version(conn)

    async def wait_for_work(self, timeout_s: float) -> bool:
        """Wait until another process queues a job or makes a track pending (True), or `timeout_s` (False).

        The first call opens a connection of its own that LISTENs (outside the pool: it stays subscribed);
        notifications sent by this store's own writes are skipped (its process knows that work already), and
        wake-ups are at least `MIN_WAKE_GAP_S` apart.  A lost connection is reopened on the next call; the
        caller keeps polling on False either way.
        """
        deadline = time.monotonic() + timeout_s
        async with self._listen_lock:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = await AsyncConnection.connect(self.url, autocommit=True,
                                                                   application_name=self.name + "-listen")
                    await self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while (left := deadline - time.monotonic()) > 0:
                    foreign = False
                    async with aclosing(self._listener.notifies(timeout=left, stop_after=1)) as received:
                        async for note in received:  # ends after one notification or at the timeout
                            foreign = foreign or note.payload != self.name
                    if foreign:
                        gap = self._last_wake + self.MIN_WAKE_GAP_S - time.monotonic()
                        if gap > 0:
                            await asyncio.sleep(min(gap, max(0.0, deadline - time.monotonic())))
                        self._last_wake = time.monotonic()
                        return True
                return False
            except psycopg.OperationalError:
                if self._listener is not None:
                    await self._listener.close()
                self._listener = None
                await asyncio.sleep(max(0.0, min(deadline - time.monotonic(), 1.0)))
                return False
