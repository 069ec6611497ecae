"""The job queue and its leases: enqueue, claim, finish, and putting back the jobs of dead workers.

`claim_job` hands a queued job to exactly one worker (BEGIN IMMEDIATE serialises claims across processes).
What a crash needs on top of that is a lease: the worker renews `locked_at` while it works
(`renew_lease`), and a job whose lease ran out (`requeue_expired_jobs`), or whose worker process is known
to be dead (`requeue_dead_jobs`), goes back to the queue.  Putting back only those, never every `running`
job, is what keeps a second live worker from running a job twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from moodtape.db.connection import Database
from moodtape.db.models import Job
from moodtape.db.sql import NOW, escape_like, marks

__all__ = ["Jobs"]


async def _requeue(conn: aiosqlite.Connection, ids: Iterable[int], reason: str) -> None:
    """Put running jobs back in the queue, due now, inside the caller's transaction."""
    await conn.executemany(
        f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = ?, run_after = {NOW}, "
        f"updated_at = {NOW} WHERE id = ? AND status = 'running'",
        [(reason, job_id) for job_id in ids],
    )


class Jobs(Database):
    """Queries over the `jobs` table."""

    async def enqueue_job(self, kind: str, payload: dict[str, Any] | None = None, *, unique: bool = True) -> int | None:
        """Queue a job; with `unique`, a queued/running job of the same kind and payload makes this a no-op."""
        body = json.dumps(payload or {}, sort_keys=True)
        async with self.transaction() as conn:
            if unique:
                async with conn.execute(
                    "SELECT id FROM jobs WHERE kind = ? AND payload = ? AND status IN ('queued', 'running')",
                    (kind, body),
                ) as cursor:
                    if await cursor.fetchone() is not None:
                        return None
            cursor = await conn.execute("INSERT INTO jobs (kind, payload) VALUES (?, ?)", (kind, body))
            return int(cursor.lastrowid)

    async def claim_job(self, kinds: Sequence[str], worker: str) -> Job | None:
        """Atomically take the oldest due queued job of one of `kinds` (no job ever runs twice at once)."""
        async with self.transaction() as conn:
            async with conn.execute(
                f"SELECT id FROM jobs WHERE status = 'queued' AND kind IN ({marks(len(kinds))}) "
                f"AND run_after <= {NOW} ORDER BY run_after, id LIMIT 1",
                list(kinds),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await conn.execute(
                f"UPDATE jobs SET status = 'running', locked_by = ?, locked_at = {NOW}, attempts = attempts + 1, "
                f"updated_at = {NOW} WHERE id = ?",
                (worker, row[0]),
            )
            async with conn.execute("SELECT * FROM jobs WHERE id = ?", (row[0],)) as cursor:
                return Job.from_row(await cursor.fetchone())

    async def finish_job(self, job_id: int, *, error: str | None = None, retry_after_s: float | None = None) -> None:
        """Mark a job done, failed (error, no retry) or queued again after a delay (error + retry_after_s)."""
        async with self.transaction() as conn:
            if error is None:
                await conn.execute(
                    f"UPDATE jobs SET status = 'done', last_error = NULL, locked_by = NULL, updated_at = {NOW} "
                    "WHERE id = ?",
                    (job_id,),
                )
            elif retry_after_s is not None:
                await conn.execute(
                    "UPDATE jobs SET status = 'queued', last_error = ?, locked_by = NULL, "
                    f"run_after = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?), updated_at = {NOW} WHERE id = ?",
                    (error, f"+{int(retry_after_s)} seconds", job_id),
                )
            else:
                await conn.execute(
                    f"UPDATE jobs SET status = 'failed', last_error = ?, locked_by = NULL, updated_at = {NOW} "
                    "WHERE id = ?",
                    (error, job_id),
                )

    async def jobs(self, status: str | None = None, limit: int = 100) -> list[Job]:
        """The newest jobs first, optionally only those in `status`."""
        sql = "SELECT * FROM jobs"
        params: list[Any] = []
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [Job.from_row(row) for row in await self._fetchall(sql, params)]

    # ------------------------------------------------------------------ leases
    async def renew_lease(self, job_id: int, worker: str) -> bool:
        """Extend `worker`'s lease on a running job; False when it is no longer its (requeued, taken, finished)."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE jobs SET locked_at = {NOW}, updated_at = {NOW} "
                "WHERE id = ? AND locked_by = ? AND status = 'running'",
                (job_id, worker),
            )
            return cursor.rowcount > 0

    async def release_job(self, job_id: int, worker: str, reason: str) -> bool:
        """Give a running job back to the queue at once (a worker stopping mid-job); False if not `worker`'s."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = ?, run_after = {NOW}, "
                f"updated_at = {NOW} WHERE id = ? AND locked_by = ? AND status = 'running'",
                (reason, job_id, worker),
            )
            return cursor.rowcount > 0

    async def requeue_expired_jobs(self, lease_s: float) -> list[int]:
        """Requeue running jobs whose lease was not renewed for `lease_s` seconds (their worker is gone)."""
        age = f"-{max(1, int(round(lease_s)))} seconds"
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM jobs WHERE status = 'running' "
                "AND (locked_at IS NULL OR locked_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?))",
                (age,),
            ) as cursor:
                ids = [int(row[0]) for row in await cursor.fetchall()]
            await _requeue(conn, ids, "requeued: its worker stopped renewing the lease")
        return ids

    async def requeue_dead_jobs(self, prefix: str, is_dead: Callable[[str], bool]) -> list[int]:
        """Requeue running jobs locked by workers under `prefix` (this machine) that `is_dead` says are gone.

        Whether a process is alive is only known outside SQL, so the few running jobs of this machine are
        read and `is_dead` picks among them.
        """
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT id, locked_by FROM jobs WHERE status = 'running' AND locked_by LIKE ? ESCAPE '\\'",
                (escape_like(prefix) + "%",),
            ) as cursor:
                rows = [(int(row[0]), str(row[1])) for row in await cursor.fetchall()]
            ids = [job_id for job_id, owner in rows if is_dead(owner)]
            await _requeue(conn, ids, "requeued: its worker process died")
        return ids
