"""Scheduler commands: `moodtape jobs` (what is queued, running, failed) and `moodtape worker` (the GPU host)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from bot.commands.common import engine_for, print_json
from core.config import Settings
from core.jobs import Worker, overview, start_scheduler

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


def _job_line(job: dict[str, Any]) -> str:
    line = f"  #{job['id']} {job['kind']}"
    if job["status"] == "running":
        line += f" by {job['locked_by']} since {job['locked_at']}"
    elif job["status"] == "queued":
        line += f" (due {job['run_after']})"
    if job["attempts"]:
        line += f", attempt {job['attempts']}"
    if job["last_error"]:
        line += f": {job['last_error']}"
    return line


async def run_jobs(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    async with engine_for(settings) as engine:
        data = await overview(engine.store, settings, limit=args.limit)
    if args.json:
        print_json(data)
        return 0
    tracks = data["tracks"]
    print(f"tracks: {tracks['pending']} pending ({tracks['due']} due now, {tracks['retrying']} retrying later), "
          f"{tracks['failed']} failed")
    for title, key in (("running", "running"), ("queued", "queued"), ("failed jobs", "failed")):
        print(f"{title}: {len(data[key]) or 'none'}")
        for job in data[key]:
            print(_job_line(job))
    if data["retrying_tracks"]:
        print("retrying tracks:")
        for track in data["retrying_tracks"]:
            print(f"  #{track['id']} {track['track']}: {track['error']} (attempt {track['attempts']}, "
                  f"next at {track['next_attempt_at']})")
    if data["failed_tracks"]:
        print("failed tracks:")
        for track in data["failed_tracks"]:
            print(f"  #{track['id']} {track['track']}: {track['error']}")
    print(f"last backup: {data['last_backup'] or 'never'} ({len(data['backups'])} kept)")
    return 0


async def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.device:
        settings = settings.model_copy(update={"device": args.device})
    # Progress of a long-running worker is the point of its output: INFO for the scheduler, whatever -v says.
    for name in ("core.jobs", "moodtape.worker"):
        logging.getLogger(name).setLevel(min(logging.getLogger(name).getEffectiveLevel(), logging.INFO))
    async with engine_for(settings) as engine:
        if args.once:
            summary = await Worker(engine).tick()
            if args.json:
                print_json(summary)
            else:
                for job in summary["jobs"]:
                    print(f"job #{job['id']} {job['kind']}: {job['status']}"
                          + "".join(f", {len(v)} {k}" for k, v in job.items() if isinstance(v, list)))
                if not summary["jobs"]:
                    print("nothing to do")
            return 0
        handle = start_scheduler(engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - platforms without signal support
                signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        log.info("worker running on %s (database %s); stop with Ctrl-C", engine.device, settings.db_path)
        print(f"worker running on {engine.device}; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            log.info("stopping: finishing the batch in flight")
            await handle.stop()
        print("worker stopped", file=sys.stderr, flush=True)
    return 0
