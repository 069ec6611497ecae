"""The job queue on PostgreSQL: leases taken with `SELECT ... FOR UPDATE SKIP LOCKED`, across hosts.

Same contract as `db/jobs.py`.  A claim locks the oldest due queued row and skips rows other claimers hold,
so workers on several hosts never wait on one another and never take the same job; the lease
(`locked_at`, renewed by the worker) is what puts the job of a killed worker back in the queue.  A queued
job also sends `NOTIFY moodtape_work` (trigger, migration 0001), which wakes waiting workers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection

from moodtape.db.models import Job
from moodtape.db.pg.connection import NOW, PgDatabase
from moodtape.db.sql import escape_like

__all__ = ["PgJobs"]

_JOB_COLUMNS = "id, kind, payload, status, attempts, last_error, run_after, locked_by, locked_at, created_at, updated_at"


def _ago(seconds: str) -> str:
    """SQL text for the UTC time stamp `seconds` (a placeholder or a number) from now."""
    return (f"to_char((now() + make_interval(secs => {seconds})) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")


async def _requeue(conn: AsyncConnection, ids: Iterable[int], reason: str) -> None:
    """Put running jobs back in the queue, due now, inside the caller's transaction."""
    wanted = list(ids)
    if wanted:
        await conn.execute(
            f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = %s, run_after = {NOW}, "
            f"updated_at = {NOW} WHERE id = ANY(%s) AND status = 'running'",
            (reason, wanted),
        )


class PgJobs(PgDatabase):
    """Queries over the `jobs` table."""

    async def enqueue_job(self, kind: str, payload: dict[str, Any] | None = None, *, unique: bool = True) -> int | None:
        """Queue a job; with `unique`, a queued/running job of the same kind and payload makes this a no-op.

        The check and the insert run under a transaction-scoped advisory lock on (kind, payload), so two
        processes queueing the same job at once queue it once (SQLite gets this from BEGIN IMMEDIATE).
        """
        body = json.dumps(payload or {}, sort_keys=True)
        async with self.transaction() as conn:
            if unique:
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{kind}\n{body}",))
                cur = await conn.execute(
                    "SELECT id FROM jobs WHERE kind = %s AND payload = %s AND status IN ('queued', 'running')",
                    (kind, body))
                if await cur.fetchone() is not None:
                    return None
            cur = await conn.execute("INSERT INTO jobs (kind, payload) VALUES (%s, %s) RETURNING id", (kind, body))
            return int((await cur.fetchone())[0])

    async def claim_job(self, kinds: Sequence[str], worker: str) -> Job | None:
        """Atomically take the oldest due queued job of one of `kinds`; rows locked by other claimers are
        skipped, not waited for."""
        row = await self._fetchone(
            f"UPDATE jobs SET status = 'running', locked_by = %s, locked_at = {NOW}, attempts = attempts + 1, "
            f"updated_at = {NOW} WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND kind = ANY(%s) "
            f"AND run_after <= {NOW} ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_JOB_COLUMNS}",
            (worker, list(kinds)),
        )
        return Job.from_row(row) if row is not None else None

    async def finish_job(self, job_id: int, *, error: str | None = None, retry_after_s: float | None = None) -> None:
        """Mark a job done, failed (error, no retry) or queued again after a delay (error + retry_after_s)."""
        async with self.transaction() as conn:
            if error is None:
                await conn.execute(
                    f"UPDATE jobs SET status = 'done', last_error = NULL, locked_by = NULL, updated_at = {NOW} "
                    "WHERE id = %s", (job_id,))
            elif retry_after_s is not None:
                await conn.execute(
                    "UPDATE jobs SET status = 'queued', last_error = %s, locked_by = NULL, "
                    f"run_after = {_ago('%s')}, updated_at = {NOW} WHERE id = %s",
                    (error, int(retry_after_s), job_id))
            else:
                await conn.execute(
                    f"UPDATE jobs SET status = 'failed', last_error = %s, locked_by = NULL, updated_at = {NOW} "
                    "WHERE id = %s", (error, job_id))

    async def jobs(self, status: str | None = None, limit: int = 100) -> list[Job]:
        """The newest jobs first, optionally only those in `status`."""
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        params: list[Any] = []
        if status:
            sql += " WHERE status = %s"
            params.append(status)
        sql += " ORDER BY id DESC LIMIT %s"
        params.append(limit)
        return [Job.from_row(row) for row in await self._fetchall(sql, params)]

    # ------------------------------------------------------------------ leases
    async def renew_lease(self, job_id: int, worker: str) -> bool:
        """Extend `worker`'s lease on a running job; False when it is no longer its."""
        row = await self._fetchone(
            f"UPDATE jobs SET locked_at = {NOW}, updated_at = {NOW} "
            "WHERE id = %s AND locked_by = %s AND status = 'running' RETURNING id", (job_id, worker))
        return row is not None

    async def release_job(self, job_id: int, worker: str, reason: str) -> bool:
        """Give a running job back to the queue at once; False if not `worker`'s."""
        row = await self._fetchone(
            f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = %s, run_after = {NOW}, "
            f"updated_at = {NOW} WHERE id = %s AND locked_by = %s AND status = 'running' RETURNING id",
            (reason, job_id, worker))
        return row is not None

    async def requeue_expired_jobs(self, lease_s: float) -> list[int]:
        """Requeue running jobs whose lease was not renewed for `lease_s` seconds (their worker is gone)."""
        age = -max(1, round(lease_s))
        async with self.transaction() as conn:
            cur = await conn.execute(
                "SELECT id FROM jobs WHERE status = 'running' "
                f"AND (locked_at IS NULL OR locked_at <= {_ago('%s')}) ORDER BY id FOR UPDATE SKIP LOCKED",
                (age,))
            ids = [int(row[0]) for row in await cur.fetchall()]
            await _requeue(conn, ids, "requeued: its worker stopped renewing the lease")
        return ids

    async def requeue_dead_jobs(self, prefix: str, is_dead: Callable[[str], bool]) -> list[int]:
        """Requeue running jobs locked by workers under `prefix` (this machine) that `is_dead` says are gone."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                "SELECT id, locked_by FROM jobs WHERE status = 'running' AND locked_by LIKE %s ESCAPE '\\' "
                "ORDER BY id FOR UPDATE SKIP LOCKED",
                (escape_like(prefix) + "%",))
            rows = [(int(row[0]), str(row[1])) for row in await cur.fetchall()]
            ids = [job_id for job_id, owner in rows if is_dead(owner)]
            await _requeue(conn, ids, "requeued: its worker process died")
        return ids
