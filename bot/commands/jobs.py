"""Scheduler commands: `moodtape jobs` (what is queued, running, failed) and `moodtape worker` (the GPU host)."""

from __future__ import annotations

import argparse
import logging
import sys

from moodtape.bot.commands.common import checked_limit, engine_for, print_json, stop_on_signals
from moodtape.core.config import Settings
from moodtape.db.models import Job

log = logging.getLogger("moodtape.worker")


def register(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser(
        "jobs", help="the job queue: queued, running and failed jobs, pending and failed tracks",
        description="Shows the scheduler's state, kept in the database: queued, running and failed jobs with "
                    "their last errors, and how many tracks wait to be embedded (due now or retrying later) "
                    "or failed, with the reasons.",
    )
    jobs.add_argument("--limit", type=int, default=20, help="rows per list (default 20)")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(handler=run_jobs)

    worker = sub.add_parser(
        "worker", help="run the scheduler alone (embedding, re-embedding, backups): the GPU host",
        description="Embeds pending tracks in batches, re-embeds tracks whose vectors an older model made, and "
                    "backs the database up, every MOODTAPE_EMBED_INTERVAL_S seconds, until SIGINT/SIGTERM "
                    "(the batch in flight finishes first). Several workers may share one database: a job "
                    "never runs twice at once. MOODTAPE_DEVICE (or --device) picks cpu or cuda.",
    )
    worker.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="override MOODTAPE_DEVICE")
    worker.add_argument("--once", action="store_true", help="run what is due now, then exit (for cron)")
    worker.add_argument("--json", action="store_true", help="with --once: print what was done as JSON")
    worker.set_defaults(handler=run_worker)


def _job_line(job: Job) -> str:
    line = f"  #{job.id} {job.kind}"
    if job.status == "running":
        line += f" by {job.locked_by} since {job.locked_at}"
    elif job.status == "queued":
        line += f" (due {job.run_after})"
    if job.attempts:
        line += f", attempt {job.attempts}"
    if job.last_error:
        line += f": {job.last_error}"
    return line


async def run_jobs(args: argparse.Namespace, settings: Settings) -> int:
    checked_limit(args.limit)
    async with engine_for(settings) as engine:
        state = await engine.jobs(args.limit)
    if args.json:
        print_json(state.to_json())
        return 0
    tracks = state.tracks
    print(f"tracks: {tracks.pending} pending ({tracks.due} due now, {tracks.retrying} retrying later), "
          f"{tracks.failed} failed")
    for title, jobs in (("running", state.running), ("queued", state.queued), ("failed jobs", state.failed)):
        print(f"{title}: {len(jobs) or 'none'}")
        for job in jobs:
            print(_job_line(job))
    if state.retrying_tracks:
        print("retrying tracks:")
        for track in state.retrying_tracks:
            print(f"  #{track.id} {track.label}: {track.error} (attempt {track.attempts}, "
                  f"next at {track.next_attempt_at})")
    if state.failed_tracks:
        print("failed tracks:")
        for track in state.failed_tracks:
            print(f"  #{track.id} {track.label}: {track.error}")
    print(f"last backup: {state.last_backup or 'never'} ({len(state.backups)} kept)")
    return 0


async def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.device:
        settings = settings.model_copy(update={"device": args.device})
    # Progress of a long-running worker is the point of its output: INFO for the scheduler, whatever -v says.
    for name in ("moodtape.core.pipeline", "moodtape.worker"):
        logging.getLogger(name).setLevel(min(logging.getLogger(name).getEffectiveLevel(), logging.INFO))
    async with engine_for(settings) as engine:
        if args.once:
            summary = await engine.worker().tick()
            if args.json:
                print_json(summary)
            else:
                for job in summary["jobs"]:
                    print(f"job #{job['id']} {job['kind']}: {job['status']}"
                          + "".join(f", {len(v)} {k}" for k, v in job.items() if isinstance(v, list)))
                if not summary["jobs"]:
                    print("nothing to do")
            return 0
        from moodtape.core.pipeline.scheduler import start_scheduler  # APScheduler: only when it runs

        handle = start_scheduler(engine.worker(), on_queued=engine.on_queued)
        stop = stop_on_signals()
        log.info("worker running on %s (database %s); stop with Ctrl-C", engine.device, settings.db_path)
        print(f"worker running on {engine.device}; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            log.info("stopping: finishing the batch in flight")
            await handle.stop()
        print("worker stopped", file=sys.stderr, flush=True)
    return 0
