"""Job leases: a running job belongs to its worker only while the worker keeps renewing it.

`Store.claim_job` hands a queued job to exactly one worker (BEGIN IMMEDIATE serialises claims across
processes).  What a crash needs on top of that lives here: the worker renews `locked_at` while it works, and
a job whose lease ran out, or whose worker process is known to be dead, goes back to the queue.  Putting
back only those (never every `running` job) is what keeps a second live worker from running a job twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from db.store import Store

_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


async def renew(store: Store, job_id: int, worker: str) -> bool:
    """Extend our lease on a running job; False when it is no longer ours (requeued, taken, finished)."""
    async with store.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE jobs SET locked_at = {_NOW}, updated_at = {_NOW} "
            "WHERE id = ? AND locked_by = ? AND status = 'running'",
            (job_id, worker),
        )
        return cursor.rowcount > 0


async def owns(store: Store, job_id: int, worker: str) -> bool:
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT 1 FROM jobs WHERE id = ? AND locked_by = ? AND status = 'running'", (job_id, worker)
        ) as cursor:
            return await cursor.fetchone() is not None


async def requeue_expired(store: Store, lease_s: float) -> list[int]:
    """Requeue running jobs whose lease was not renewed for `lease_s` seconds (their worker is gone)."""
    age = f"-{max(1, int(round(lease_s)))} seconds"
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT id FROM jobs WHERE status = 'running' "
            "AND (locked_at IS NULL OR locked_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?))",
            (age,),
        ) as cursor:
            ids = [int(row[0]) for row in await cursor.fetchall()]
        await _requeue(conn, ids, "requeued: its worker stopped renewing the lease")
    return ids


async def requeue_dead(store: Store, prefix: str, is_dead: Callable[[str], bool]) -> list[int]:
    """Requeue running jobs locked by workers under `prefix` (this machine) that `is_dead` says are gone."""
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT id, locked_by FROM jobs WHERE status = 'running' AND locked_by LIKE ? ESCAPE '\\'",
            (_like_prefix(prefix),),
        ) as cursor:
            rows = [(int(row[0]), str(row[1])) for row in await cursor.fetchall()]
        ids = [job_id for job_id, owner in rows if is_dead(owner)]
        await _requeue(conn, ids, "requeued: its worker process died")
    return ids


async def release(store: Store, job_id: int, worker: str, reason: str) -> bool:
    """Give a running job back to the queue at once (a worker stopping mid-job)."""
    async with store.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = ?, run_after = {_NOW}, "
            f"updated_at = {_NOW} WHERE id = ? AND locked_by = ? AND status = 'running'",
            (reason, job_id, worker),
        )
        return cursor.rowcount > 0


async def _requeue(conn: object, ids: Iterable[int], reason: str) -> None:
    for job_id in ids:
        await conn.execute(  # type: ignore[attr-defined]
            f"UPDATE jobs SET status = 'queued', locked_by = NULL, last_error = ?, run_after = {_NOW}, "
            f"updated_at = {_NOW} WHERE id = ? AND status = 'running'",
            (reason, job_id),
        )


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
