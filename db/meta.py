"""Small key/value state and the file as a whole: meta keys, per-user preferences, online backups.

Meta keys hold what the app must remember between runs but is not a track (the CF model's state and
signature, the time of the last backup); preferences hold a person's choices (their mood strategy).
Backups go through SQLite's online backup API, which copies a consistent snapshot while others write.
"""

from __future__ import annotations

from pathlib import Path

from moodtape.db.connection import Database
from moodtape.db.sql import NOW

__all__ = ["Meta"]


class Meta(Database):
    """Queries over `meta` and `user_prefs`, and the backup of the whole file."""

    async def get_meta(self, key: str) -> str | None:
        """A key's value (None: not set); a keyed read, which a reply makes when its cached state expires."""
        rows = await self._fetch_keyed("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def get_pref(self, user_ref: str, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM user_prefs WHERE user_ref = ? AND key = ?", (user_ref, key))
        return row[0] if row else None

    async def set_pref(self, user_ref: str, key: str, value: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO user_prefs (user_ref, key, value) VALUES (?, ?, ?) ON CONFLICT (user_ref, key) "
                f"DO UPDATE SET value = excluded.value, updated_at = {NOW}",
                (user_ref, key, value),
            )

    async def backup_to(self, target: Path) -> None:
        """A consistent copy through SQLite's online backup API, safe while others write.

        The target is opened with the same driver (backup needs two connections of one SQLite library) and
        used from aiosqlite's thread, hence `check_same_thread=False`.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = self.driver.module.connect(str(target), check_same_thread=False)
        try:
            await self._conn.backup(dest)
        finally:
            dest.close()
