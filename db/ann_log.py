"""The `vector_changes` log: what the ANN indexes of every process replay to stay in step with sqlite-vec.

sqlite-vec stays the source of truth; an HNSW index (`db/ann.py`) is a cache of one vec0 table that may live
in another process than the writer (a worker embeds while the bot serves).  Every vector write or delete
appends (kind, track_id, version, op) here inside the writer's own transaction, so a change and its log row
commit together.  An index remembers the last `seq` it applied and, before answering, re-reads the current
rows of the tracks changed since (replaying is idempotent: only the final state matters).  The log is pruned
to the most recent `KEEP` rows; an index older than the oldest retained row rebuilds from the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiosqlite

__all__ = ["KEEP", "LogWindow", "changed_tracks", "log_changes", "window"]

#: Rows kept in the log; an index further behind than this rebuilds instead of replaying.
KEEP = 200_000
#: Pruning runs when a write crosses a multiple of this many seqs (a cheap primary-key range delete).
_PRUNE_EVERY = 1_000


async def log_changes(
    conn: aiosqlite.Connection, kind: str, changes: Iterable[tuple[int, str | None]], op: str
) -> None:
    """Append (track_id, model_version) changes of `kind` inside the caller's transaction, pruning now and then."""
    rows = [(kind, int(track_id), version, op) for track_id, version in changes]
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO vector_changes (kind, track_id, model_version, op) VALUES (?, ?, ?, ?)", rows
    )
    async with conn.execute("SELECT max(seq) FROM vector_changes") as cursor:
        latest = int((await cursor.fetchone())[0])
    if latest // _PRUNE_EVERY != (latest - len(rows)) // _PRUNE_EVERY and latest > KEEP:
        await conn.execute("DELETE FROM vector_changes WHERE seq <= ?", (latest - KEEP,))


class LogWindow(tuple):  # type: ignore[type-arg]
    """(oldest retained seq, latest seq); both 0 when the log is empty."""

    @property
    def oldest(self) -> int:
        return int(self[0])

    @property
    def latest(self) -> int:
        return int(self[1])


async def window(conn: aiosqlite.Connection) -> LogWindow:
    """The retained range of the log: two primary-key lookups, cheap enough to ask before each search.

    An empty log (fresh or fully pruned database) reports the sequence counter as both ends, so an index
    that already applied everything is not mistaken for one that fell behind.
    """
    row: Any = next(iter(await conn.execute_fetchall("SELECT min(seq), max(seq) FROM vector_changes")))
    if row[1] is not None:
        return LogWindow((int(row[0]), int(row[1])))
    async with conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'") as cursor:
        counter = await cursor.fetchone()
    latest = int(counter[0]) if counter else 0
    return LogWindow((latest + 1, latest))


async def changed_tracks(conn: aiosqlite.Connection, kind: str, after: int, upto: int) -> list[int]:
    """Distinct tracks of `kind` changed in (after, upto], in first-change order."""
    async with conn.execute(
        "SELECT track_id FROM vector_changes WHERE seq > ? AND seq <= ? AND kind = ? ORDER BY seq",
        (after, upto, kind),
    ) as cursor:
        rows = await cursor.fetchall()
    return list(dict.fromkeys(int(r[0]) for r in rows))
