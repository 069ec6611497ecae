"""A real PostgreSQL + pgvector server for the tests: `MOODTAPE_TEST_DATABASE_URL`, or one started here.

The PyPI package `pgserver` ships PostgreSQL 16 with pgvector 0.6 (HNSW since 0.5) as a wheel, so a fresh
machine runs these tests offline with nothing else installed.  PostgreSQL refuses to run as root; under root
(CI containers) pgserver creates an unprivileged system user `pgserver` itself (`useradd`), gives it the
data folder and runs initdb/pg_ctl as that user, so nothing here needs sudo.  Tests share one database with
the schema, emptied before each (TRUNCATE ... RESTART IDENTITY: ids start at 1 again, ~20 ms); the few that
need a database of their own (restoring a backup, an unmigrated one) get one from `fresh_database` (~0.5 s).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

__all__ = ["URL_ENV", "PgServer", "start_server"]

#: A server to use instead of starting one (its role must be allowed to CREATE DATABASE).
URL_ENV = "MOODTAPE_TEST_DATABASE_URL"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (query, e.g. `?host=/socket/dir`, kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@dataclass
class PgServer:
    """One server for the whole session; `fresh_database()` hands each test an empty, migrated database."""

    url: str  # the maintenance database (postgres)
    bin_dir: Path | None  # pgserver's client tools (pg_dump, pg_restore) when it started the server
    _stop: object = None
    _names: itertools.count = field(default_factory=itertools.count)
    _made: list[str] = field(default_factory=list)
    _prefix: str = field(default_factory=lambda: f"moodtape_t{os.getpid()}_")

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)

    def prepare_template(self) -> None:
        """The shared test database, with the schema applied once."""
        import asyncio

        from moodtape.db.pg.store import PgStore

        template = self._prefix + "shared"
        self.execute(f"DROP DATABASE IF EXISTS {template}")
        self.execute(f"CREATE DATABASE {template}")
        self._made.append(template)

        async def migrate() -> None:
            await (await PgStore.open(with_database(self.url, template), pool_size=1)).close()

        # In a thread of its own: the first test to ask for the server may already be inside an event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate()).result()
        self._template = template

    def emptied_database(self) -> str:
        """The URL of the shared test database, every table emptied and every id sequence restarted."""
        url = with_database(self.url, self._template)
        with psycopg.connect(url, autocommit=True) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'moodtape_schema'")]
            conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
        return url

    def fresh_database(self) -> str:
        """The URL of a new, empty database (no schema: what a person restores a backup into)."""
        name = f"{self._prefix}{next(self._names)}"
        self.execute(f"CREATE DATABASE {name}")
        self._made.append(name)
        return with_database(self.url, name)

    def tool(self, name: str) -> str | None:
        """A client tool (pg_dump, pg_restore) of the server's version when known, else from PATH."""
        if self.bin_dir is not None and (self.bin_dir / name).exists():
            return str(self.bin_dir / name)
        return shutil.which(name)

    def close(self) -> None:
        if self._stop is None:  # a server we did not start: drop what we made
            for name in reversed(self._made):
                with contextlib.suppress(psycopg.Error):  # best effort: the server may be going away
                    self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        self._stop()  # type: ignore[operator]


def start_server(url: str | None = None) -> PgServer:
    """Use `url` (or MOODTAPE_TEST_DATABASE_URL), or start pgserver's PostgreSQL in a temporary folder."""
    if url:
        server = PgServer(url, None)
        server.prepare_template()
        return server
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root): harmless
        warnings.simplefilter("ignore")
        import pgserver  # the test extra installs it; a missing one is an install problem, not a skip

    folder = Path(tempfile.mkdtemp(prefix="moodtape-pg-"))
    pg = pgserver.get_server(folder / "data", cleanup_mode="delete")
    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"

    def stop() -> None:
        pg.cleanup()  # stops the server and deletes its data folder
        shutil.rmtree(folder, ignore_errors=True)

    server = PgServer(pg.get_uri(), bin_dir, stop)
    try:
        # A throwaway server: durability costs time (every CREATE DATABASE and the shutdown checkpoint
        # flush to disk) and protects nothing here.
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            server.execute(f"ALTER SYSTEM SET {setting}")
        server.execute("SELECT pg_reload_conf()")
        server.prepare_template()
    except BaseException:
        stop()
        raise
    return server
