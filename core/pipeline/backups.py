"""Database backups: consistent copies on a schedule, with retention.

The scheduler queues a backup job every `backup_interval_h`; the time of the last one is kept in `meta`, so
a restart neither skips nor repeats one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.pipeline.stamps import hours_since, stamp
from moodtape.db.store import Store

log = logging.getLogger(__name__)

#: meta key: when the last backup was written
LAST_BACKUP = "last_backup_at"
BACKUP_PREFIX = "moodtape-"


def list_backups(folder: Path) -> list[Path]:
    """Finished backups, oldest first (names carry a sortable UTC time stamp)."""
    if not folder.is_dir():
        return []
    # .db: SQLite copies; .dump: pg_dump archives of a PostgreSQL database (restore with pg_restore)
    return sorted(p for p in folder.glob(f"{BACKUP_PREFIX}*") if p.suffix in (".db", ".dump") and p.is_file())


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was removed."""
    backups = list_backups(folder)
    removed = backups[:-keep] if keep > 0 else backups
    for path in removed:
        for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
    return removed


async def backup_database(store: Store, settings: Settings) -> Path:
    """A consistent copy (SQLite online backup API, or pg_dump for PostgreSQL) into `backup_dir`, then retention.

    The copy is written under a temporary name and renamed when complete, so a crash mid-backup never
    leaves a file that looks like a good backup.
    """
    if store.path == ":memory:":
        raise UserError("an in-memory database cannot be backed up")
    folder = settings.backup_dir
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    name = f"{BACKUP_PREFIX}{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z{store.backup_suffix}"
    final = folder / name
    partial = folder / f".{name}.partial"
    partial.unlink(missing_ok=True)
    await store.backup_to(partial)
    await asyncio.to_thread(os.replace, partial, final)
    removed = await asyncio.to_thread(prune_backups, folder, settings.backup_keep)
    await store.set_meta(LAST_BACKUP, stamp(now))
    log.info("backup written to %s (%d old one(s) removed)", final, len(removed))
    return final


async def backup_due(store: Store, settings: Settings) -> bool:
    return hours_since(await store.get_meta(LAST_BACKUP)) >= settings.backup_interval_h
