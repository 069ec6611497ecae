"""Numbered SQL migrations, applied in order on open and tracked with `PRAGMA user_version`.

Plain numbered `.sql` files keep schema history reviewable and let a database created by any earlier release
be upgraded in place; each file runs in its own transaction so a failed upgrade leaves the previous version.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import aiosqlite

__all__ = ["Migration", "apply", "available"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    folder = resources.files("moodtape.db") / "migrations"
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


async def apply(conn: aiosqlite.Connection) -> list[str]:
    """Bring an open connection up to date; returns the names of the migrations applied.

    Runs through aiosqlite's public API on the store's own connection, which is what `:memory:` databases
    need (another connection would see another, empty database).
    """
    async with conn.execute("PRAGMA user_version") as cursor:
        current = (await cursor.fetchone())[0]
    migrations = available()
    if current > len(migrations):
        raise RuntimeError(
            f"database schema version {current} is newer than this Moodtape ({len(migrations)}); upgrade Moodtape"
        )
    applied = []
    if 0 < current < len(migrations):  # an existing file: say why this open takes longer (once)
        log.warning("upgrading the database schema from version %d to %d (once; about a minute for a million "
                    "tracks)", current, len(migrations))
    for migration in migrations[current:]:
        # executescript() commits any open transaction first; wrap the script so it is atomic.
        try:
            await conn.executescript(
                "BEGIN IMMEDIATE;\n" + migration.sql + f"\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except Exception as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise RuntimeError(f"migration {migration.name} failed: {exc}") from exc
        applied.append(migration.name)
    return applied
