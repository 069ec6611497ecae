"""The clock: runs a `Worker` tick every `embed_interval_s`, and at once when work is queued.

APScheduler (3.x, `AsyncIOScheduler`) only provides the clock; everything it drives is in `pipeline.worker`.
This is the only module that imports APScheduler, so commands that do not run a scheduler never load it.
`moodtape worker` runs the scheduler alone; `moodtape run` runs it beside the bots on the same event loop,
where the engine's `on_queued` hook wakes it right after an `/add`.  On PostgreSQL it also listens for the
server's notifications, so an `/add` in a bot process on another host wakes a worker at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from moodtape.core.pipeline.worker import Worker

log = logging.getLogger(__name__)

_JOB_ID = "moodtape-tick"


class SchedulerHandle:
    """What `start_scheduler` returns: `wake()` to run a tick now, `await stop()` to shut down gracefully."""

    def __init__(self, scheduler: AsyncIOScheduler, worker: Worker) -> None:
        self.scheduler = scheduler
        self.worker = worker
        self.ticks = 0
        self._current: asyncio.Task[None] | None = None
        self._again = False
        self._lock = asyncio.Lock()
        self._hooks: list[list[Callable[[], None]]] = []
        self._listener: asyncio.Task[None] | None = None

    async def _listen(self, timeout_s: float) -> None:
        """Wake on work queued by other processes (PostgreSQL's NOTIFY: an /add on a bot host, a job queued
        by another worker); each wait times out after `timeout_s`, and the interval keeps polling anyway."""
        while not self.worker.stopping:
            try:
                if await self.worker.store.wait_for_work(timeout_s):
                    self.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("waiting for work notifications failed; polling meanwhile", exc_info=True)
                await asyncio.sleep(timeout_s)

    async def _tick(self) -> None:
        if self.worker.stopping:
            return
        async with self._lock:
            self._current = asyncio.current_task()
            try:
                self._again = True
                while self._again and not self.worker.stopping:  # a wake during a tick means one more round
                    self._again = False
                    await self._round()
            finally:
                self._current = None

    async def _round(self) -> None:
        try:
            summary = await self.worker.tick()
            self.ticks += 1
            if summary["jobs"] or summary["recovered"]:
                log.info("tick: %s", summary)
        except Exception:
            log.exception("scheduler tick failed; trying again at the next one")

    def wake(self) -> None:
        """Run a tick as soon as possible (e.g. right after an /add) instead of waiting for the interval."""
        if self._current is not None:  # a tick is running: it goes round once more (APScheduler would skip)
            self._again = True
            return
        job = self.scheduler.get_job(_JOB_ID)
        if job is not None:
            job.modify(next_run_time=datetime.now(timezone.utc))
            self.scheduler.wakeup()

    def listen(self, hook: list[Callable[[], None]]) -> None:
        """Wake on every call of `hook`'s callbacks (e.g. `Engine.on_queued`), until `stop()`."""
        hook.append(self.wake)
        self._hooks.append(hook)

    async def stop(self, grace_s: float = 60.0) -> None:
        """Stop ticking; let the batch in flight finish (at most `grace_s`), then give the job back."""
        for hook in self._hooks:
            hook.remove(self.wake)
        self._hooks.clear()
        self.worker.request_stop()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
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


def start_scheduler(worker: Worker, *, interval_s: float | None = None,
                    on_queued: list[Callable[[], None]] | None = None) -> SchedulerHandle:
    """Start the clock on the running event loop (call from async code); returns the handle.

    The first tick runs at once, then every `interval_s` (default `embed_interval_s`).  `on_queued` is a
    list of callbacks that whoever queues work calls (`Engine.on_queued`): the scheduler adds its `wake`
    there, so work queued in this process runs now, not at the next interval.
    """
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    handle = SchedulerHandle(scheduler, worker)
    scheduler.add_job(
        handle._tick, "interval", seconds=interval_s or worker.settings.embed_interval_s, id=_JOB_ID,
        next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True, misfire_grace_time=None,
    )
    scheduler.start()
    if getattr(worker.store, "notifies_work", False):  # PostgreSQL: other hosts' work wakes this one at once
        handle._listener = asyncio.create_task(handle._listen(interval_s or worker.settings.embed_interval_s))
    if on_queued is not None:
        handle.listen(on_queued)
    log.info("scheduler started: worker %s, device %s, batch %d, %d at a time", worker.id, worker.device,
             worker.batch_size, worker.concurrency)
    return handle
