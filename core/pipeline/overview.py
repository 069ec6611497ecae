"""What `moodtape jobs` shows: the job queue, what runs and what failed, and the tracks still waiting.

Read straight from the database, so it shows the state every worker process shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.pipeline.backups import LAST_BACKUP, list_backups
from moodtape.db.models import Job, Track
from moodtape.db.store import Store


@dataclass(frozen=True)
class TrackBacklog:
    """Tracks not embedded yet: pending (due now, or retrying later after a passing failure) and failed."""

    pending: int
    due: int
    retrying: int
    failed: int

    def to_json(self) -> dict[str, int]:
        return {"pending": self.pending, "due": self.due, "retrying": self.retrying, "failed": self.failed}


@dataclass(frozen=True)
class JobsOverview:
    queued: list[Job]  # oldest first: the order they run in
    running: list[Job]
    failed: list[Job]
    done_recently: list[Job]
    tracks: TrackBacklog
    retrying_tracks: list[Track]
    failed_tracks: list[Track]
    last_backup: str | None
    backups: list[Path]

    def to_json(self) -> dict[str, Any]:
        return {
            "queued": [_job_json(j) for j in self.queued],
            "running": [_job_json(j) for j in self.running],
            "failed": [_job_json(j) for j in self.failed],
            "done_recently": [_job_json(j) for j in self.done_recently],
            "tracks": self.tracks.to_json(),
            "retrying_tracks": [_track_json(t) for t in self.retrying_tracks],
            "failed_tracks": [_track_json(t) for t in self.failed_tracks],
            "last_backup": self.last_backup,
            "backups": [str(p) for p in self.backups],
        }


def _job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
            "last_error": job.last_error, "run_after": job.run_after, "locked_by": job.locked_by,
            "locked_at": job.locked_at, "created_at": job.created_at, "updated_at": job.updated_at}


def _track_json(track: Track) -> dict[str, Any]:
    return {"id": track.id, "track": track.label, "source": track.source, "attempts": track.attempts,
            "error": track.error, "next_attempt_at": track.next_attempt_at}


async def jobs_overview(store: Store, settings: Settings, *, limit: int = 20) -> JobsOverview:
    """The queue, what runs, what failed, and the tracks waiting or failed (each list at most `limit`)."""
    pending, due, failed = await store.backlog()
    return JobsOverview(
        queued=list(reversed(await store.jobs("queued", limit))),
        running=await store.jobs("running", limit),
        failed=await store.jobs("failed", limit),
        done_recently=await store.jobs("done", 5),
        tracks=TrackBacklog(pending=pending, due=due, retrying=pending - due, failed=failed),
        retrying_tracks=await store.waiting_tracks(limit),
        failed_tracks=await store.latest_failed(limit),
        last_backup=await store.get_meta(LAST_BACKUP),
        backups=list_backups(settings.backup_dir),
    )
