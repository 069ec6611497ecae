"""The scheduler: pending tracks -> ready ones, re-embedding after a model change, database backups.

All state lives in the database, never in memory: what to embed is the tracks' `status`/`next_attempt_at`,
what is being done is the `jobs` table.  A worker (`Worker`) claims a job atomically (`Store.claim_job`), renews
a lease on it while it works, and finishes it; so any number of worker processes can share one database
without running a job twice, and a restart (or a crash) loses nothing:

* tracks are flipped to ready one by one, each in its own transaction (`Store.mark_ready`), so after a crash
  the finished ones stay ready and the rest are still pending: the next run completes the batch, once;
* a job whose worker died is requeued when its lease runs out, or at once when the dead worker was a
  process on this machine; a worker that stops gracefully gives its job back itself.

APScheduler (3.x, `AsyncIOScheduler`) only provides the clock: every `embed_interval_s` a tick recovers stale
jobs, queues what is due (embedding, re-embedding, a backup) and runs the queue.  Transient failures
(network) are retried with exponential backoff up to `max_attempts`; bad audio fails at once, with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.config import Settings
from core.embedding import EmbedReport, TrackEmbedder, TransientError, embed_tracks
from core.net import NetError
from db import leases
from db.models import Job, Track
from db.store import Store

if TYPE_CHECKING:
    from core.engine import Engine

log = logging.getLogger(__name__)

EMBED, REEMBED, BACKUP, CF_REFRESH = "embed", "reembed", "backup", "cf_refresh"
JOB_KINDS = (EMBED, REEMBED, BACKUP, CF_REFRESH)
#: meta keys: what the last collaborative refresh saw, and when it ran
CF_SIGNATURE_KEY, CF_REFRESHED_AT_KEY = "cf_refresh_signature", "cf_refreshed_at"
LAST_BACKUP = "last_backup_at"
BACKUP_PREFIX = "moodtape-"
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
MAX_RETRY_DELAY_S = 24 * 3600.0


# ---------------------------------------------------------------------------------------------- sizing
def default_batch_size(device: str) -> int:
    """Tracks claimed per round: a GPU host embeds faster, so it takes bigger bites."""
    return 32 if device == "cuda" else 8


def default_concurrency(device: str) -> int:
    """Tracks in flight at once: decoding (ffmpeg) overlaps inference, more so when a GPU does the maths."""
    if device == "cuda":
        return max(2, min(8, os.cpu_count() or 2))
    return max(1, min(2, os.cpu_count() or 1))


# ---------------------------------------------------------------------------------------------- workers
def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").replace(":", "").replace("/", "")
    except OSError:
        return "nons"


def machine_prefix() -> str:
    """Identifies this machine and PID namespace; worker ids start with it."""
    return f"{socket.gethostname()}/{_pid_namespace()}/"


def make_worker_id() -> str:
    return f"{machine_prefix()}{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _worker_is_dead(worker: str) -> bool:
    """For a worker id of this machine and PID namespace: is its process gone?"""
    try:
        pid = int(worker[len(machine_prefix()):].split("/", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # ourselves (another Worker object in this process): only its lease can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# ---------------------------------------------------------------------------------------------- retries
def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_STAMP)


def retry_delay_s(settings: Settings, attempts: int) -> float:
    """Exponential backoff from the tick interval, capped at a day, with ±10 % jitter."""
    base = settings.embed_interval_s * (2 ** max(0, attempts - 1))
    return min(base, MAX_RETRY_DELAY_S) * random.uniform(0.9, 1.1)


def retry_later(store: Store, settings: Settings) -> Callable[[Track, str], Awaitable[None]]:
    """`on_transient` for `embed_tracks`: keep the track pending with the error, due again after a backoff;
    after `max_attempts` failures it is failed for good."""

    async def schedule(track: Track, reason: str) -> None:
        attempts = track.attempts + 1
        if attempts >= settings.max_attempts:
            await store.set_status(track.id, "failed", f"{reason} (gave up after {attempts} attempts)",
                                   count_attempt=True)
            log.warning("track #%s failed for good after %s attempts: %s", track.id, attempts, reason)
            return
        delay = retry_delay_s(settings, attempts)
        when = _stamp(datetime.now(timezone.utc) + timedelta(seconds=delay))
        await store.set_status(track.id, "pending", reason, next_attempt_at=when, count_attempt=True)
        log.info("track #%s: %s; retry %s of %s at %s", track.id, reason, attempts + 1, settings.max_attempts, when)

    return schedule


# ---------------------------------------------------------------------------------------------- backups
def list_backups(folder: Path) -> list[Path]:
    """Finished backups, oldest first (names carry a sortable UTC time stamp)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{BACKUP_PREFIX}*.db") if p.is_file())


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was removed."""
    backups = list_backups(folder)
    removed = backups[:-keep] if keep > 0 else backups
    for path in removed:
        for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
    return removed


async def backup_database(store: Store, settings: Settings) -> Path:
    """A consistent copy (SQLite online backup API) into `backup_dir`, then retention.

    The copy is written under a temporary name and renamed when complete, so a crash mid-backup never
    leaves a file that looks like a good backup.
    """
    if store.path == ":memory:":
        raise ValueError("an in-memory database cannot be backed up")
    folder = settings.backup_dir
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    name = f"{BACKUP_PREFIX}{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z.db"
    final = folder / name
    partial = folder / f".{name}.partial"
    partial.unlink(missing_ok=True)
    await store.backup_to(partial)
    await asyncio.to_thread(os.replace, partial, final)
    removed = await asyncio.to_thread(prune_backups, folder, settings.backup_keep)
    await store.set_meta(LAST_BACKUP, _stamp(now))
    log.info("backup written to %s (%d old one(s) removed)", final, len(removed))
    return final


async def backup_due(store: Store, settings: Settings) -> bool:
    return _hours_since(await store.get_meta(LAST_BACKUP)) >= settings.backup_interval_h


def _hours_since(stamp: str | None) -> float:
    """Hours since a stamp kept in `meta`; infinite when there is none or it cannot be read (so: due)."""
    if stamp is None:
        return float("inf")
    try:
        then = datetime.strptime(stamp, _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return float("inf")
    return (datetime.now(timezone.utc) - then) / timedelta(hours=1)


# ---------------------------------------------------------------------------------------------- worker
async def cf_signature(store: Store) -> str:
    """What collaborative vectors are fitted on: playlist entries and votes (a change means refit)."""
    stats = await store.stats()
    votes = await store.feedback()
    digest = hashlib.sha256(repr(votes).encode()).hexdigest()[:12]
    return f"{stats['playlists']['entries']}:{len(votes)}:{digest}"


async def cf_refresh_due(store: Store, settings: Settings) -> bool:
    """Playlists or votes changed since the last refit, and the last one is old enough."""
    signature = await cf_signature(store)
    if signature.startswith("0:0:") or signature == await store.get_meta(CF_SIGNATURE_KEY):
        return False
    return _hours_since(await store.get_meta(CF_REFRESHED_AT_KEY)) >= settings.cf_refresh_interval_h


@dataclass
class JobOutcome:
    id: int
    kind: str
    status: str  # done | failed | retry | released
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, **self.detail}


class Worker:
    """Runs queued jobs of one database; safe to run in several processes at once."""

    def __init__(
        self,
        engine: "Engine",
        *,
        worker_id: str | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        lease_s: float | None = None,
        embedder: TrackEmbedder | None = None,
    ) -> None:
        """`embedder` defaults to the engine's (loaded on first use); pass one to share or instrument it."""
        self.engine = engine
        self._embedder = embedder
        self.store: Store = engine.store
        self.settings: Settings = engine.settings
        self.id = worker_id or make_worker_id()
        device = engine.device
        self.batch_size = batch_size or self.settings.embed_batch_size or default_batch_size(device)
        self.concurrency = concurrency or default_concurrency(device)
        self.lease_s = lease_s or self.settings.job_lease_s
        self._stopping = False
        self._lost: set[int] = set()

    async def embedder(self) -> TrackEmbedder:
        return self._embedder if self._embedder is not None else await self.engine.embedder()

    # -------------------------------------------------------------------------------- control
    def request_stop(self) -> None:
        """Finish the track batch in flight, give the job back, run nothing new."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -------------------------------------------------------------------------------- one tick
    async def recover(self) -> list[int]:
        """Requeue jobs of dead workers: expired leases anywhere, dead processes on this machine at once."""
        ids = await leases.requeue_expired(self.store, self.lease_s)
        ids += await leases.requeue_dead(self.store, machine_prefix(), _worker_is_dead)
        if ids:
            log.warning("requeued job(s) %s left running by a stopped worker", ids)
        return ids

    async def plan(self) -> list[str]:
        """Queue the work that is due; a kind already queued or running is not queued twice."""
        queued = []
        if await self._pending_batch(limit=1):
            if await self.store.enqueue_job(EMBED) is not None:
                queued.append(EMBED)
        if await self._stale_ids(limit=1):
            if await self.store.enqueue_job(REEMBED) is not None:
                queued.append(REEMBED)
        if self.store.path != ":memory:" and await backup_due(self.store, self.settings):
            if await self.store.enqueue_job(BACKUP) is not None:
                queued.append(BACKUP)
        if await cf_refresh_due(self.store, self.settings):
            if await self.store.enqueue_job(CF_REFRESH) is not None:
                queued.append(CF_REFRESH)
        return queued

    async def run_pending(self, kinds: tuple[str, ...] = JOB_KINDS) -> list[JobOutcome]:
        outcomes = []
        while not self._stopping:
            job = await self.store.claim_job(kinds, self.id)
            if job is None:
                break
            outcomes.append(await self.run_job(job))
        return outcomes

    async def tick(self) -> dict[str, Any]:
        recovered = await self.recover()
        queued = await self.plan()
        outcomes = await self.run_pending()
        return {"worker": self.id, "recovered": recovered, "queued": queued,
                "jobs": [o.to_json() for o in outcomes]}

    # -------------------------------------------------------------------------------- running a job
    async def run_job(self, job: Job) -> JobOutcome:
        log.info("job #%s (%s) started by %s", job.id, job.kind, self.id)
        heartbeat = asyncio.create_task(self._heartbeat(job.id))
        try:
            handler = {EMBED: self._embed, REEMBED: self._reembed, BACKUP: self._backup,
                       CF_REFRESH: self._cf_refresh}.get(job.kind)
            if handler is None:
                await self.store.finish_job(job.id, error=f"unknown job kind {job.kind!r}")
                return JobOutcome(job.id, job.kind, "failed", {"error": "unknown job kind"})
            detail = await handler(job)
        except asyncio.CancelledError:
            # Stopped from outside (shutdown after the grace period): give the job back for the next worker.
            await asyncio.shield(leases.release(self.store, job.id, self.id, "interrupted: the worker stopped"))
            raise
        except Exception as exc:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # A cancellation that surfaced as another error (e.g. a rollback racing a commit): still a stop.
                await asyncio.shield(leases.release(self.store, job.id, self.id, "interrupted: the worker stopped"))
                raise asyncio.CancelledError from exc
            reason = f"{type(exc).__name__}: {exc}"[:500] if not isinstance(exc, NetError) else str(exc)
            transient = isinstance(exc, TransientError) or bool(getattr(exc, "transient", False))
            log.exception("job #%s (%s) failed", job.id, job.kind)
            if job.id in self._lost:
                return JobOutcome(job.id, job.kind, "lost", {"error": reason})
            if transient and job.attempts < self.settings.max_attempts:
                delay = retry_delay_s(self.settings, job.attempts)
                await self.store.finish_job(job.id, error=reason, retry_after_s=delay)
                return JobOutcome(job.id, job.kind, "retry", {"error": reason, "retry_after_s": round(delay)})
            await self.store.finish_job(job.id, error=reason)
            return JobOutcome(job.id, job.kind, "failed", {"error": reason})
        finally:
            heartbeat.cancel()
        if job.id in self._lost:
            log.warning("job #%s was taken from this worker (lease lost); not marking it done", job.id)
            return JobOutcome(job.id, job.kind, "lost", detail)
        if self._stopping and detail.get("unfinished"):
            await leases.release(self.store, job.id, self.id, "interrupted: the worker stopped")
            log.info("job #%s (%s) given back: the worker is stopping", job.id, job.kind)
            return JobOutcome(job.id, job.kind, "released", detail)
        await self.store.finish_job(job.id)
        log.info("job #%s (%s) done: %s", job.id, job.kind, _summary(detail))
        return JobOutcome(job.id, job.kind, "done", detail)

    async def _heartbeat(self, job_id: int) -> None:
        interval = max(0.5, self.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await leases.renew(self.store, job_id, self.id):
                    self._lost.add(job_id)
                    log.warning("lost the lease on job #%s", job_id)
                    return
            except Exception:  # a busy database now and then must not kill the job
                log.warning("could not renew the lease on job #%s", job_id, exc_info=True)

    def _may_continue(self, job: Job) -> bool:
        return not self._stopping and job.id not in self._lost

    # -------------------------------------------------------------------------------- kinds
    async def _pending_batch(self, limit: int) -> list[Track]:
        tracks = await self.store.list_tracks(status="pending", due_only=True, limit=limit * 2 + 10)
        return [t for t in tracks if t.source_kind in ("file", "url")][:limit]

    async def _stale_ids(self, limit: int, skip: set[int] | None = None) -> list[int]:
        embedder = await self.embedder()
        ids: set[int] = set()
        for kind, version in embedder.versions.items():
            ids.update(await self.store.tracks_with_stale_vectors(kind, version, limit=limit + len(skip or ())))
        return sorted(ids - (skip or set()))[:limit]

    async def _embed_batch(self, tracks: list[Track], on_transient: Callable[[Track, str], Any]) -> EmbedReport:
        embedder = await self.embedder()
        report = await embed_tracks(
            self.store, embedder, tracks, open_source=self.engine.links.open_track,
            concurrency=self.concurrency, on_transient=on_transient,
        )
        for track_id in report.ready:
            log.info("track #%s ready", track_id)
        for track_id, label, reason in report.failed:
            log.info("track #%s (%s) not embedded: %s", track_id, label, reason)
        return report

    async def _embed(self, job: Job) -> dict[str, Any]:
        ready: list[int] = []
        failed: list[int] = []
        unfinished = False
        retry = retry_later(self.store, self.settings)
        while True:
            if not self._may_continue(job):
                unfinished = bool(await self._pending_batch(limit=1))
                break
            tracks = await self._pending_batch(self.batch_size)
            if not tracks:
                break
            report = await self._embed_batch(tracks, retry)
            ready += report.ready
            failed += [track_id for track_id, _, _ in report.failed]
        retrying = [t.id for t in await self.store.list_tracks(status="pending") if t.id in set(failed)]
        return {"ready": ready, "failed": [i for i in failed if i not in retrying], "retrying": retrying,
                "unfinished": unfinished}

    async def _reembed(self, job: Job) -> dict[str, Any]:
        """Vectors made by an older model version are replaced; a track keeps its old vectors (and stays
        ready) when its audio cannot be fetched right now, and is tried again at the next re-embed job."""
        skipped: set[int] = set()
        ready: list[int] = []
        failed: list[int] = []
        unfinished = False

        async def later(track: Track, reason: str) -> None:
            skipped.add(track.id)
            log.info("re-embedding track #%s postponed: %s", track.id, reason)

        while True:
            if not self._may_continue(job):
                unfinished = bool(await self._stale_ids(limit=1, skip=skipped))
                break
            ids = await self._stale_ids(self.batch_size, skip=skipped)
            if not ids:
                break
            tracks = list((await self.store.get_tracks(ids)).values())
            report = await self._embed_batch(tracks, later)
            ready += report.ready
            failed += [track_id for track_id, _, _ in report.failed if track_id not in skipped]
        return {"ready": ready, "failed": failed, "postponed": sorted(skipped), "unfinished": unfinished}

    async def _backup(self, job: Job) -> dict[str, Any]:
        path = await backup_database(self.store, self.settings)
        return {"path": str(path)}

    async def _cf_refresh(self, job: Job) -> dict[str, Any]:
        """Refit the collaborative vectors on every playlist and 👍/👎 (the votes become interactions)."""
        from core.cf.refresh import refresh_cf

        signature = await cf_signature(self.store)
        report = await refresh_cf(self.store, method=self.settings.cf_method, device=self.engine.device)
        await self.store.set_meta(CF_SIGNATURE_KEY, signature)
        await self.store.set_meta(CF_REFRESHED_AT_KEY, _stamp(datetime.now(timezone.utc)))
        detail = {key: report[key] for key in ("method", "version", "entries", "feedback") if key in report}
        detail["outcome"] = report.get("status")  # "status" is the job's own key in outcomes
        return detail


def _summary(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if key == "unfinished":
            continue
        parts.append(f"{len(value)} {key}" if isinstance(value, list) else f"{key}={value}")
    return ", ".join(parts) or "nothing to do"


# ---------------------------------------------------------------------------------------------- scheduler
class SchedulerHandle:
    """What `start_scheduler` returns: `wake()` to run a tick now, `await stop()` to shut down gracefully."""

    def __init__(self, scheduler: AsyncIOScheduler, worker: Worker) -> None:
        self.scheduler = scheduler
        self.worker = worker
        self.ticks = 0
        self._current: asyncio.Task[Any] | None = None
        self._lock = asyncio.Lock()

    async def _tick(self) -> None:
        if self.worker.stopping:
            return
        async with self._lock:
            self._current = asyncio.current_task()
            try:
                summary = await self.worker.tick()
                self.ticks += 1
                if summary["jobs"] or summary["recovered"]:
                    log.info("tick: %s", summary)
            except Exception:
                log.exception("scheduler tick failed; trying again at the next one")
            finally:
                self._current = None

    def wake(self) -> None:
        """Run a tick as soon as possible (e.g. right after an /add) instead of waiting for the interval."""
        job = self.scheduler.get_job("moodtape-tick")
        if job is not None:
            job.modify(next_run_time=datetime.now(timezone.utc))
            self.scheduler.wakeup()

    async def stop(self, grace_s: float = 60.0) -> None:
        """Stop ticking; let the batch in flight finish (at most `grace_s`), then give the job back."""
        self.worker.request_stop()
        if self.scheduler.running:
            self.scheduler.pause()
        current = self._current
        if current is not None and not current.done():
            try:
                await asyncio.wait_for(asyncio.shield(current), timeout=grace_s)
            except (TimeoutError, asyncio.TimeoutError):
                log.warning("the batch in flight did not finish in %.0f s; interrupting it", grace_s)
                current.cancel()
                await asyncio.gather(current, return_exceptions=True)
            except Exception:
                pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)


def start_scheduler(engine: "Engine", *, worker: Worker | None = None, interval_s: float | None = None
                    ) -> SchedulerHandle:
    """Start the clock on the running event loop (call from async code); returns the handle.

    `moodtape worker` runs this alone; `moodtape run` runs it beside the bots on the same loop.  The first
    tick runs at once, then every `embed_interval_s`.
    """
    worker = worker or Worker(engine)
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    handle = SchedulerHandle(scheduler, worker)
    scheduler.add_job(
        handle._tick, "interval", seconds=interval_s or engine.settings.embed_interval_s, id="moodtape-tick",
        next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True, misfire_grace_time=None,
    )
    scheduler.start()
    log.info("scheduler started: worker %s, device %s, batch %d, %d at a time", worker.id, engine.device,
             worker.batch_size, worker.concurrency)
    return handle


# ---------------------------------------------------------------------------------------------- overview
def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
            "last_error": job.last_error, "run_after": job.run_after, "locked_by": job.locked_by,
            "locked_at": job.locked_at, "created_at": job.created_at, "updated_at": job.updated_at}


async def overview(store: Store, settings: Settings, *, limit: int = 20) -> dict[str, Any]:
    """What `moodtape jobs` shows: the queue, what runs, what failed, and the tracks waiting or failed."""
    now = _stamp(datetime.now(timezone.utc))
    pending = await store.list_tracks(status="pending")
    due = [t for t in pending if t.next_attempt_at is None or t.next_attempt_at <= now]
    retrying = [t for t in pending if t.next_attempt_at is not None and t.next_attempt_at > now]
    failed_tracks = await store.list_tracks(status="failed")
    backups = list_backups(settings.backup_dir)

    def track_json(track: Track) -> dict[str, Any]:
        return {"id": track.id, "track": track.label, "source": track.source, "attempts": track.attempts,
                "error": track.error, "next_attempt_at": track.next_attempt_at}

    return {
        "queued": [job_json(j) for j in reversed(await store.jobs("queued", limit))],
        "running": [job_json(j) for j in await store.jobs("running", limit)],
        "failed": [job_json(j) for j in await store.jobs("failed", limit)],
        "done_recently": [job_json(j) for j in await store.jobs("done", 5)],
        "tracks": {"pending": len(pending), "due": len(due), "retrying": len(retrying),
                   "failed": len(failed_tracks)},
        "retrying_tracks": [track_json(t) for t in retrying[:limit]],
        "failed_tracks": [track_json(t) for t in failed_tracks[-limit:]],
        "last_backup": await store.get_meta(LAST_BACKUP),
        "backups": [str(p) for p in backups],
    }
