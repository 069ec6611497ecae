"""Files and folders -> pending catalogue rows (tags read, duplicates by content hash skipped).

Adding is split from embedding on purpose: rows land at once as `pending` (cheap, safe to re-run), and the
expensive embedding happens after (right away for `moodtape add`, or in the scheduler).  A file that cannot
be audio is still recorded, as `failed` with the reason, so `moodtape stats` and admins can see what went wrong.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodtape.core.audio.tags import AUDIO_EXTENSIONS, read_tags
from moodtape.core.progress import Progress
from moodtape.core.text import byte_size, match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

@dataclass
class AddReport:
    added: list[tuple[int, str]] = field(default_factory=list)  # (id, path)
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (existing id, path)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    skipped: list[str] = field(default_factory=list)  # files in folders without an audio extension

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [{"id": tid, "path": path} for tid, path in self.added],
            "duplicates": [{"id": tid, "path": path} for tid, path in self.duplicates],
            "failed": [{"path": path, "reason": reason} for path, reason in self.failed],
            "skipped": self.skipped,
        }


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """Expand folders recursively (audio extensions only, hidden entries ignored).

    Returns (files to try, files skipped for their extension, (path, reason) for arguments that do not exist).
    Files named explicitly are always tried: if one is not audio, the decoder says so.
    """
    files: list[Path] = []
    skipped: list[str] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def push(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(resolved)

    for path in paths:
        if path.is_dir():
            for found in _walk(path):
                if found.suffix.lower() in AUDIO_EXTENSIONS:
                    push(found)
                else:
                    skipped.append(str(found))
        elif path.is_file():
            push(path)
        else:
            missing.append((str(path), "no such file or folder"))
    return files, skipped, missing


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(root) / name


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _precheck(path: Path, max_file_bytes: int) -> str | None:
    """Reasons we can tell without decoding."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if size == 0:
        return "empty file"
    if size > max_file_bytes:
        return f"file is too big ({byte_size(size)} > {byte_size(max_file_bytes)})"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


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
    files, report.skipped, report.failed = collect_files(paths)
    for number, path in enumerate(files, start=1):
        reason = _precheck(path, max_file_bytes)
        digest = None
        if not (reason or "").startswith("cannot read"):
            try:
                digest = file_hash(path)
            except OSError as exc:
                reason = f"cannot read: {exc.strerror or exc}"
        tags = read_tags(path)
        track = NewTrack(
            title=tags.title, artist=tags.artist, album=tags.album, duration_s=tags.duration_s,
            source_kind="file", source=str(path), content_hash=digest, match_key=match_key(tags.artist, tags.title),
            licence=licence, added_by=added_by, status="failed" if reason else "pending", error=reason,
        )
        track_id, created = await store.add_track(track)
        if reason:
            report.failed.append((str(path), reason))
        elif created:
            report.added.append((track_id, str(path)))
        else:
            report.duplicates.append((track_id, str(path)))
        if progress is not None:
            progress(number, len(files), path.name)
    return report
