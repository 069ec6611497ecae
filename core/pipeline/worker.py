"""The worker: claims queued jobs of one database and runs them (embed, re-embed, backup, CF refit).

All state lives in the database, never in memory: what to embed is the tracks' `status`/`next_attempt_at`,
what is being done is the `jobs` table.  A worker claims a job atomically (`Store.claim_job`), renews a lease
on it while it works, and finishes it; so any number of worker processes can share one database without
running a job twice, and a restart (or a crash) loses nothing:

* tracks are flipped to ready one by one, each in its own transaction (`Store.mark_ready`), so after a crash
  the finished ones stay ready and the rest are still pending: the next run completes the batch, once;
* a job whose worker died is requeued when its lease runs out, or at once when the dead worker was a
  process on this machine; a worker that stops gracefully gives its job back itself.

The worker gets what it needs explicitly (store, settings, device, an embedder getter, the audio opener), so
the pipeline never depends on the `Engine` that wires it; `Engine.worker()` builds one.  Transient failures
(network) are retried with backoff (`pipeline.retry`); bad audio fails at once, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.errors import MoodtapeError
from moodtape.core.pipeline.backups import backup_database, backup_due
from moodtape.core.pipeline.cf_due import cf_refresh_due, refit_cf
from moodtape.core.pipeline.embedding import AudioSourceOpener, EmbedReport, TrackEmbedder, due_tracks, embed_tracks
from moodtape.core.pipeline.identity import machine_prefix, make_worker_id, worker_is_dead
from moodtape.core.pipeline.retry import TransientHandler, retry_delay_s, retry_later
from moodtape.db.models import Job, Track
from moodtape.db.store import Store

log = logging.getLogger(__name__)

EMBED, REEMBED, BACKUP, CF_REFRESH = "embed", "reembed", "backup", "cf_refresh"
JOB_KINDS = (EMBED, REEMBED, BACKUP, CF_REFRESH)

#: Loads (once) and returns the embedder; the worker asks only when a job needs one.
EmbedderSource = Callable[[], Awaitable[TrackEmbedder]]


def default_batch_size(device: str) -> int:
    """Tracks claimed per round: a GPU host embeds faster, so it takes bigger bites."""
    return 32 if device == "cuda" else 8


def default_concurrency(device: str) -> int:
    """Tracks in flight at once: decoding (ffmpeg) overlaps inference, more so when a GPU does the maths."""
    if device == "cuda":
        return max(2, min(8, os.cpu_count() or 2))
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class JobOutcome:
    id: int
    kind: str
    status: str  # done | failed | retry | released | lost
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, **self.detail}


class Worker:
    """Runs queued jobs of one database; safe to run in several processes at once."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        device: str,
        embedder: EmbedderSource,
        open_track: AudioSourceOpener,
        worker_id: str | None = None,
        batch_size: int | None = None,
        concurrency: int | None = None,
        lease_s: float | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.device = device
        self.embedder = embedder
        self.open_track = open_track
        self.id = worker_id or make_worker_id()
        self.batch_size = batch_size or settings.embed_batch_size or default_batch_size(device)
        self.concurrency = concurrency or default_concurrency(device)
        self.lease_s = lease_s or settings.job_lease_s
        self._stopping = False
        self._lost: set[int] = set()

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
        ids = await self.store.requeue_expired_jobs(self.lease_s)
        ids += await self.store.requeue_dead_jobs(machine_prefix(), worker_is_dead)
        if ids:
            log.warning("requeued job(s) %s left running by a stopped worker", ids)
        return ids

    async def plan(self) -> list[str]:
        """Queue the work that is due; a kind already queued or running is not queued twice."""
        queued = []
        if await due_tracks(self.store, limit=1):
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
        """Recover, plan, run: one round of the scheduler (also `moodtape worker --once`)."""
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
            await asyncio.shield(self.store.release_job(job.id, self.id, "interrupted: the worker stopped"))
            raise
        except Exception as exc:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # A cancellation that surfaced as another error (e.g. a rollback racing a commit): still a stop.
                await asyncio.shield(self.store.release_job(job.id, self.id, "interrupted: the worker stopped"))
                raise asyncio.CancelledError from exc
            return await self._failed(job, exc)
        finally:
            heartbeat.cancel()
        if job.id in self._lost:
            log.warning("job #%s was taken from this worker (lease lost); not marking it done", job.id)
            return JobOutcome(job.id, job.kind, "lost", detail)
        if self._stopping and detail.get("unfinished"):
            await self.store.release_job(job.id, self.id, "interrupted: the worker stopped")
            log.info("job #%s (%s) given back: the worker is stopping", job.id, job.kind)
            return JobOutcome(job.id, job.kind, "released", detail)
        await self.store.finish_job(job.id)
        log.info("job #%s (%s) done: %s", job.id, job.kind, _summary(detail))
        return JobOutcome(job.id, job.kind, "done", detail)

    async def _failed(self, job: Job, exc: Exception) -> JobOutcome:
        """A job that raised: retried with backoff when the error may pass, failed with the reason otherwise."""
        # Our own errors carry a sentence for people; anything else is named by its type too.
        reason = str(exc) if isinstance(exc, MoodtapeError) else f"{type(exc).__name__}: {exc}"[:500]
        log.exception("job #%s (%s) failed", job.id, job.kind)
        if job.id in self._lost:
            return JobOutcome(job.id, job.kind, "lost", {"error": reason})
        if isinstance(exc, MoodtapeError) and exc.transient and job.attempts < self.settings.max_attempts:
            delay = retry_delay_s(self.settings, job.attempts)
            await self.store.finish_job(job.id, error=reason, retry_after_s=delay)
            return JobOutcome(job.id, job.kind, "retry", {"error": reason, "retry_after_s": round(delay)})
        await self.store.finish_job(job.id, error=reason)
        return JobOutcome(job.id, job.kind, "failed", {"error": reason})

    async def _heartbeat(self, job_id: int) -> None:
        interval = max(0.5, self.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.store.renew_lease(job_id, self.id):
                    self._lost.add(job_id)
                    log.warning("lost the lease on job #%s", job_id)
                    return
            except Exception:  # a busy database now and then must not kill the job
                log.warning("could not renew the lease on job #%s", job_id, exc_info=True)

    def _may_continue(self, job: Job) -> bool:
        return not self._stopping and job.id not in self._lost

    # -------------------------------------------------------------------------------- kinds
    async def _stale_ids(self, limit: int, skip: set[int] | None = None) -> list[int]:
        embedder = await self.embedder()
        ids: set[int] = set()
        for kind, version in embedder.versions.items():
            ids.update(await self.store.tracks_with_stale_vectors(kind, version, limit=limit + len(skip or ())))
        return sorted(ids - (skip or set()))[:limit]

    async def _embed_batch(self, tracks: list[Track], on_transient: TransientHandler) -> EmbedReport:
        embedder = await self.embedder()
        report = await embed_tracks(
            self.store, embedder, tracks, open_source=self.open_track,
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
                unfinished = bool(await due_tracks(self.store, limit=1))
                break
            tracks = await due_tracks(self.store, self.batch_size)
            if not tracks:
                break
            report = await self._embed_batch(tracks, retry)
            ready += report.ready
            failed += [track_id for track_id, _, _ in report.failed]
        retrying = [t.id for t in await self.store.list_tracks(status="pending", ids=failed)]
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
        return await refit_cf(self.store, self.settings, self.device)


def _summary(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if key == "unfinished":
            continue
        parts.append(f"{len(value)} {key}" if isinstance(value, list) else f"{key}={value}")
    return ", ".join(parts) or "nothing to do"
