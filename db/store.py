"""The async store: tracks, vectors (sqlite-vec), playlists, feedback, jobs and meta in one SQLite file.

`Store` is the one class callers use; each concern's queries live in their own module (`tracks`, `vectors`
with its approximate search in `ann`, `playlists`, `jobs`, `meta`) on top of `connection.Database`, which
opens the file, applies migrations and owns the transaction lock.  Only what spans concerns is written here:
`stats`, which counts across all of them, and `tracks_with_moods`, the rows a reply shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from moodtape.db.errors import StoreError
from moodtape.db.jobs import Jobs
from moodtape.db.meta import Meta
from moodtape.db.models import VECTOR_DIMS, StoredVector, Track
from moodtape.db.mood_card import mood_of, tracks_with_cards
from moodtape.db.playlists import Playlists
from moodtape.db.sql import chunks
from moodtape.db.tracks import Tracks
from moodtape.db.vec0_details import tracks_with_details
from moodtape.db.vectors import Vectors, moods_from

__all__ = ["Store", "StoreError"]

_TRACK_STATUSES = ("ready", "pending", "failed", "metadata_only")


class Store(Tracks, Vectors, Playlists, Jobs, Meta):
    """Async access to one Moodtape database file (or `:memory:`): `await Store.open(path)`."""

    #: Backups are SQLite files (the online backup API); the PostgreSQL store's are pg_dump archives.
    backup_suffix = ".db"
    #: Whether `wait_for_work` is woken by other processes: SQLite has no notifications between processes,
    #: so a worker on a SQLite file polls (the PostgreSQL store LISTENs).
    notifies_work = False

    async def wait_for_work(self, timeout_s: float) -> bool:
        """Wait `timeout_s` and return False: nothing tells this process that another one queued work, so
        the caller's timeout is its polling interval (the PostgreSQL store returns True when notified)."""
        await asyncio.sleep(timeout_s)
        return False

    async def tracks_with_moods(self, ids: Iterable[int], *, tags_only: bool = False
                                ) -> tuple[dict[int, Track], dict[int, StoredVector]]:
        """The tracks of `ids` and their mood rows (of the tracks that exist): what a reply shows of each song.

        `tags_only`: the caller reads a mood's point and `details["top_tags"]` alone (a `similar` reply),
        which the tracks' own rows hold (`db.mood_card`): one keyed read of `tracks`, at any catalogue size.
        Otherwise the whole details: on a large catalogue (mood index ready) one statement reads the tracks
        with their details (from sqlite-vec's shadow table when its layout checks out, `db.vec0_details`) and
        the index supplies the mood points; on a small one the reads of `get_tracks` and `get_vectors` are
        queued together.
        """
        wanted = list(dict.fromkeys(map(int, ids)))
        if tags_only:
            return await self._tracks_with_cards(wanted)
        if not wanted or self.ann.state("mood") != "ready":
            tracks, moods = await asyncio.gather(self.get_tracks(wanted), self.get_vectors("mood", wanted))
            return tracks, {tid: mood for tid, mood in moods.items() if tid in tracks}
        shadow = await self.details_in_shadow()
        rows: list[Any] = []
        for chunk in chunks(wanted):
            rows += await self._fetch_keyed(tracks_with_details(len(chunk), shadow=shadow), chunk)
        tracks = {int(row[0]): Track.from_columns(row) for row in rows}
        # Which tracks have a mood is the index's answer: a mood row may have no details.
        points = await self.ann.vectors("mood", list(tracks))
        if points is None:  # the index stopped being ready meanwhile (a rebuild): the table answers
            return tracks, await self.get_vectors("mood", list(tracks))
        return tracks, moods_from(points, {int(row[0]): row[-1] for row in rows})  # mood_details: last column

    async def _tracks_with_cards(self, ids: list[int]) -> tuple[dict[int, Track], dict[int, StoredVector]]:
        tracks: dict[int, Track] = {}
        moods: dict[int, StoredVector] = {}
        for chunk in chunks(ids):
            for row in await self._fetch_keyed(tracks_with_cards(len(chunk)), chunk):
                tracks[row[0]] = Track.from_columns(row)
                mood = mood_of(row)
                if mood is not None:
                    moods[row[0]] = mood
        return tracks, moods

    async def stats(self) -> dict[str, Any]:
        """Counts for `moodtape stats`: tracks by status and source, vectors by model, playlists, jobs."""
        by_status = await self._counts("SELECT status, count(*) FROM tracks GROUP BY status")
        by_source = await self._counts("SELECT source_kind, count(*) FROM tracks GROUP BY source_kind")
        return {
            "tracks": {"total": sum(by_status.values()), **{s: by_status.get(s, 0) for s in _TRACK_STATUSES}},
            "sources": by_source,
            "vectors": {kind: await self.vector_versions(kind) for kind in VECTOR_DIMS},
            "playlists": {
                "count": (await self._fetchone("SELECT count(*) FROM playlists"))[0],
                "entries": (await self._fetchone("SELECT count(*) FROM playlist_tracks"))[0],
            },
            "feedback": (await self._fetchone("SELECT count(*) FROM feedback"))[0],
            "jobs": await self._counts("SELECT status, count(*) FROM jobs GROUP BY status"),
            "schema_version": await self.schema_version(),
            "ann": self.ann.stats(),
        }

    async def _counts(self, sql: str) -> dict[str, int]:
        return {row[0]: row[1] for row in await self._fetchall(sql)}
