"""Files and folders -> pending catalogue rows (tags read, duplicates by content hash skipped).

Adding is split from embedding on purpose: rows land at once as `pending` (cheap, safe to re-run), and the
expensive embedding happens after (right away for `moodtape add`, or in the scheduler).  A file that was
read but cannot be audio is still recorded, as `failed` with the reason, so `moodtape stats` and admins can see
what went wrong.  What cannot be read at all is reported and skipped, never opened, and not recorded (there
is no content to recognise it by on a re-run): a missing file, a symbolic link loop, anything that is not a
regular file (a FIFO would block the read, `/dev/zero` would never end), a file over the size cap (checked
on the stat, before a byte is hashed).  One bad entry never stops the rest of a folder.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodtape.core.audio.decode import AudioError, check_file, path_error, printable
from moodtape.core.audio.sources import file_digest, path_to_source
from moodtape.core.audio.tags import AUDIO_EXTENSIONS, read_tags
from moodtape.core.progress import Progress
from moodtape.core.text import match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

__all__ = ["AddReport", "add_files", "collect_files"]


@dataclass
class AddReport:
    """What `add` did; every path is `printable` (a name that is not UTF-8 shows U+FFFD, never a codec error)."""

    added: list[tuple[int, str]] = field(default_factory=list)  # (id, path)
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (existing id, path)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    skipped: list[str] = field(default_factory=list)  # files in folders without an audio extension
    #: Known tracks given again that were still pending (a crash, `--no-embed`): embedded or queued now.
    resumed: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [{"id": tid, "path": path} for tid, path in self.added],
            "duplicates": [{"id": tid, "path": path} for tid, path in self.duplicates],
            "failed": [{"path": path, "reason": reason} for path, reason in self.failed],
            "skipped": self.skipped,
            "resumed": self.resumed,
        }


def collect_files(
    paths: Iterable[Path], max_file_bytes: int | None = None
) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """Expand folders recursively (audio extensions only, hidden entries ignored).

    Returns (regular files to try, resolved; files skipped for their extension; (path, reason) for what
    cannot be tried: missing, a link loop, not a regular file, over `max_file_bytes`, an unreadable folder).
    Files named explicitly are always tried: if one is not audio, the decoder says so.
    """
    files: list[Path] = []
    skipped: list[str] = []
    refused: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def push(path: Path) -> None:
        try:
            resolved = path.resolve(strict=True)
            check_file(resolved, max_file_bytes)
        except AudioError as exc:
            refused.append((printable(path), exc.reason))
            return
        except (OSError, RuntimeError, ValueError) as exc:  # resolve(): a loop is a RuntimeError before 3.13
            refused.append((printable(path), path_error(exc)))
            return
        if resolved not in seen:
            seen.add(resolved)
            files.append(resolved)

    for path in paths:
        try:
            folder = path.is_dir()
            present = folder or path.exists() or path.is_symlink()  # a FIFO, a device, a loop: push() says
        except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
            refused.append((printable(path), path_error(exc)))
            continue
        if folder:
            for found in _walk(path, refused):
                if found.suffix.lower() in AUDIO_EXTENSIONS:
                    push(found)
                else:
                    skipped.append(printable(found))
        elif present:
            push(path)
        else:
            refused.append((printable(path), "no such file or folder"))
    return files, skipped, refused


def _walk(folder: Path, refused: list[tuple[str, str]]) -> Iterator[Path]:
    def unreadable(exc: OSError) -> None:
        refused.append((printable(exc.filename or folder), f"cannot read the folder: {path_error(exc)}"))

    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(root) / name


async def add_files(
    store: Store,
    paths: Iterable[Path],
    *,
    added_by: str | None = None,
    licence: str | None = None,
    max_file_bytes: int = 200 * 1024 * 1024,
    progress: Progress | None = None,
) -> AddReport:
    """Record every file as a pending track (or failed with a reason); re-adding known audio adds nothing."""
    report = AddReport()
    files, report.skipped, report.failed = collect_files(paths, max_file_bytes)
    for number, path in enumerate(files, start=1):
        await _add_one(store, report, path, max_file_bytes, added_by=added_by, licence=licence)
        if progress is not None:
            progress(number, len(files), printable(path.name))
    return report


async def _add_one(store: Store, report: AddReport, path: Path, max_file_bytes: int, *,
                   added_by: str | None, licence: str | None) -> None:
    name = printable(path)
    try:  # checked again on the open file: it may have changed since it was collected
        digest, size = await asyncio.to_thread(file_digest, path, max_file_bytes)
    except AudioError as exc:
        report.failed.append((name, exc.reason))
        return
    reason = "empty file" if size == 0 else None
    tags = read_tags(path)
    track = NewTrack(
        title=tags.title, artist=tags.artist, album=tags.album, duration_s=tags.duration_s,
        source_kind="file", source=path_to_source(path), content_hash=digest,
        match_key=match_key(tags.artist, tags.title), licence=licence, added_by=added_by,
        status="failed" if reason else "pending", error=reason,
    )
    track_id, created = await store.add_track(track)
    if reason:
        report.failed.append((name, reason))
    elif created:
        report.added.append((track_id, name))
    else:
        report.duplicates.append((track_id, name))
