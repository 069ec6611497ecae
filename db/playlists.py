"""What people put together and what they voted: playlists and 👍/👎 feedback.

Both are the input of the collaborative (CF) model, which learns "tracks that go together" from them; the
store keeps them as plain rows and hands them out as pairs.  Re-importing a playlist or re-voting never
duplicates a row: (source, external id) and (track, user, context) are unique.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from moodtape.db.connection import Database
from moodtape.db.playlist_reads import PlaylistReads
from moodtape.db.sql import NOW

__all__ = ["Playlists"]

#: (name, source, external id, description, track ids in order)
NewPlaylist = tuple[str, str, str | None, str | None, Sequence[int]]


class Playlists(PlaylistReads, Database):
    """Queries over `playlists`, `playlist_tracks` and `feedback`."""

    async def add_playlists_bulk(self, playlists: Sequence[NewPlaylist]) -> tuple[int, int]:
        """Many (name, source, external_id, description, track ids) at once; known (source, external_id) skipped.

        Returns (added, skipped).
        """
        added = skipped = 0
        async with self.transaction() as conn:
            for name, source, external_id, description, track_ids in playlists:
                cursor = await conn.execute(
                    "INSERT INTO playlists (name, source, external_id, description) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (source, external_id) DO NOTHING",
                    (name, source, external_id, description),
                )
                if cursor.rowcount == 0:
                    skipped += 1
                    continue
                playlist_id = int(cursor.lastrowid)
                await conn.executemany(
                    "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (?, ?, ?)",
                    [(playlist_id, pos, tid) for pos, tid in enumerate(track_ids)],
                )
                added += 1
        return added, skipped

    async def add_feedback(
        self, track_id: int, user_ref: str, value: int, context: dict[str, Any] | None = None
    ) -> bool:
        """Record a 👍 (+1) or 👎 (-1); the same user voting again on the same recommendation updates it."""
        if value not in (-1, 1):
            raise ValueError("feedback is +1 or -1")
        payload = json.dumps(context or {}, sort_keys=True)
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO feedback (track_id, user_ref, value, context) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (track_id, user_ref, context) DO UPDATE SET value = excluded.value, created_at = {NOW}",
                (track_id, user_ref, value, payload),
            )
            return cursor.rowcount > 0

    async def feedback_of(self, user_ref: str, limit: int = 500) -> list[tuple[int, int, str]]:
        """One person's latest votes as (track id, +1/-1, created_at "YYYY-MM-DDTHH:MM:SSZ"), newest first.

        What a taste profile reads on each answer: `limit` keeps that one read small for a prolific voter.
        """
        rows = await self._fetchall(
            "SELECT track_id, value, created_at FROM feedback WHERE user_ref = ? ORDER BY created_at DESC, id DESC "
            "LIMIT ?", (user_ref, limit))
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def forget_feedback(self, user_ref: str) -> tuple[int, int]:
        """Delete every vote of one person (/forget); returns how many (👍, 👎) were deleted."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "SELECT value, count(*) FROM feedback WHERE user_ref = ? GROUP BY value", (user_ref,))
            counts = {int(r[0]): int(r[1]) for r in await cursor.fetchall()}
            await conn.execute("DELETE FROM feedback WHERE user_ref = ?", (user_ref,))
        return counts.get(1, 0), counts.get(-1, 0)
