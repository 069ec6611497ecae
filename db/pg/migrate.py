"""Numbered SQL migrations of the PostgreSQL schema, applied in order on open (`db/pg/migrations`).

The same scheme as the SQLite store (`db/migrate.py`): plain numbered `.sql` files, each applied in its own
transaction.  PostgreSQL has no `user_version`, so the number lives in a one-row table; an advisory lock
makes processes that start at the same moment (two bots, a worker) apply each migration exactly once.
"""

from __future__ import annotations

import re
from importlib import resources

from psycopg import AsyncConnection

from moodtape.db.migrate import Migration

__all__ = ["apply", "available", "current_version"]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

#: pg_advisory_xact_lock key of migrations (any constant; "moodtape" in ASCII, cut to fit a bigint).
_LOCK = 0x6D6F6F6474617065


def available() -> list[Migration]:
    folder = resources.files("moodtape.db.pg") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


async def current_version(conn: AsyncConnection) -> int:
    """The number of the last migration applied (0 for an empty database)."""
    cur = await conn.execute("SELECT to_regclass('moodtape_schema') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute("SELECT version FROM moodtape_schema")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def apply(conn: AsyncConnection) -> list[str]:
    """Bring the database up to date; returns the names of the migrations applied.

    `conn` must be in autocommit mode: each migration runs in a transaction of its own, under the advisory
    lock, and re-reads the version inside it (another process may have just applied it).
    """
    migrations = available()
    applied: list[str] = []
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS moodtape_schema (version INTEGER NOT NULL)")
            current = await current_version(conn)
            if current > len(migrations):
                raise RuntimeError(f"database schema version {current} is newer than this Moodtape "
                                   f"({len(migrations)}); upgrade Moodtape")
            if current == len(migrations):
                return applied
            migration = migrations[current]
            try:
                await conn.execute(migration.sql.encode())  # bytes: the SQL holds no psycopg placeholders
            except Exception as exc:
                raise RuntimeError(f"migration {migration.name} failed: {exc}") from exc
            await conn.execute("DELETE FROM moodtape_schema")
            await conn.execute("INSERT INTO moodtape_schema (version) VALUES (%s)", (migration.version,))
        applied.append(migration.name)
