"""Metadata-only catalogues and playlists: Spotify Million Playlist Dataset slices and a simple CSV.

Imported tracks have no audio, so they land as `metadata_only`; they still matter because playlists give
collaborative signal, and a later file or link for the same recording (same normalised artist + title) is
matched to the same row instead of becoming a duplicate.

CSV format (UTF-8, header row, standard quoting): `title` (required), `artist`, `album`, `duration_s`,
`url`, `external_id`, `licence`, and optionally `playlist` (name) with `position`: rows that share a playlist
name become one playlist, ordered by position (or file order).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtape.core.errors import UserError
from moodtape.core.progress import Progress
from moodtape.core.text import match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

class ImportFormatError(UserError):
    """The file is not a format we import; the message says what we expected."""


@dataclass
class ImportReport:
    format: str
    tracks_new: int = 0
    tracks_matched: int = 0
    playlists_added: int = 0
    playlists_skipped: int = 0
    rows_skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Item:
    title: str
    artist: str | None
    album: str | None = None
    duration_s: float | None = None
    url: str | None = None
    external_id: str | None = None
    licence: str | None = None

    @property
    def key(self) -> str:
        return match_key(self.artist, self.title)

    @property
    def identity(self) -> str:
        return self.external_id or f"catalogue:{self.key}"


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def detect_format(path: Path) -> str:
    with _open_text(path) as handle:
        head = handle.read(4096).lstrip("\ufeff").lstrip()
    if head.startswith("{") or head.startswith("["):
        return "mpd"
    first_line = head.splitlines()[0] if head else ""
    if "title" in [c.strip().lower() for c in next(csv.reader([first_line]), [])]:
        return "csv"
    raise ImportFormatError(
        f"{path.name}: not a Million Playlist Dataset slice (JSON with 'playlists') "
        "nor a CSV with a 'title' column"
    )


@dataclass(frozen=True)
class MpdSlice:
    """One Million Playlist Dataset file as its JSON has it: the `info` header and the raw playlist entries."""

    info: dict[str, Any]
    playlists: list[Any]


def read_mpd(path: Path) -> MpdSlice:
    """An MPD slice, plain or gzipped; anything else is an `ImportFormatError` saying what was expected.

    The one reader of MPD files: `moodtape import` and the offline collaborative evaluation
    (`training/cf.py`) both read playlists through it.
    """
    if not path.is_file():
        raise ImportFormatError(f"{path}: no such file")
    try:
        with _open_text(path) as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ImportFormatError(f"{path.name}: not valid (gzipped) JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise ImportFormatError(f"{path.name}: expected an MPD slice: {{\"info\": ..., \"playlists\": [...]}}")
    return MpdSlice(dict(data.get("info") or {}), data["playlists"])


def _mpd_items(playlist: dict[str, Any]) -> list[_Item]:
    items = []
    for entry in playlist.get("tracks") or []:
        title = (entry.get("track_name") or "").strip()
        if not title:
            continue
        items.append(_Item(
            title=title, artist=(entry.get("artist_name") or "").strip() or None,
            album=(entry.get("album_name") or None),
            duration_s=(entry["duration_ms"] / 1000.0) if isinstance(entry.get("duration_ms"), (int, float)) else None,
            external_id=entry.get("track_uri") or None,
        ))
    return items


def _read_csv(path: Path) -> tuple[list[tuple[str | None, int, _Item]], int]:
    rows: list[tuple[str | None, int, _Item]] = []
    skipped = 0
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "title" not in [f.strip().lower() for f in reader.fieldnames]:
            raise ImportFormatError(f"{path.name}: the CSV needs a 'title' column")
        for number, raw in enumerate(reader):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
            if not row.get("title"):
                skipped += 1
                continue
            try:
                duration = float(row["duration_s"]) if row.get("duration_s") else None
                position = int(row["position"]) if row.get("position") else number
            except ValueError:
                skipped += 1
                continue
            rows.append((row.get("playlist") or None, position, _Item(
                title=row["title"], artist=row.get("artist") or None, album=row.get("album") or None,
                duration_s=duration, url=row.get("url") or None, external_id=row.get("external_id") or None,
                licence=row.get("licence") or row.get("license") or None,
            )))
    return rows, skipped


async def _resolve(
    store: Store, items: list[_Item], source_label: str, report: ImportReport, fresh: set[str]
) -> dict[str, int]:
    """identity -> track id, matching known tracks by external id, then normalised artist + title.

    `fresh` collects the identities this import created or already counted as matched, so tracks repeated
    across batches are counted once (not once per batch they appear in).
    """
    unique: dict[str, _Item] = {}
    for item in items:
        unique.setdefault(item.identity, item)
    ids = await store.find_by_external_ids(list(unique))
    missing = [identity for identity in unique if identity not in ids]
    by_key = await store.find_by_match_key([unique[identity].key for identity in missing])
    new: list[NewTrack] = []
    first_with_key: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for identity in missing:
        item = unique[identity]
        if item.key in by_key:
            ids[identity] = by_key[item.key]
            report.tracks_matched += int(identity not in fresh)
            fresh.add(identity)
            continue
        if item.key in first_with_key:  # same recording under another id in this batch
            aliases[identity] = first_with_key[item.key]
            report.tracks_matched += int(identity not in fresh)
            fresh.add(identity)
            continue
        first_with_key[item.key] = identity
        new.append(NewTrack(
            title=item.title, artist=item.artist, album=item.album, duration_s=item.duration_s,
            source_kind="catalogue", source=item.url or source_label, external_id=identity, match_key=item.key,
            licence=item.licence, added_by=f"import:{source_label}", status="metadata_only",
        ))
    report.tracks_matched += sum(1 for identity in unique if identity in ids and identity not in fresh
                                 and identity not in missing)
    fresh.update(identity for identity in unique if identity in ids and identity not in missing)
    created = await store.add_tracks_bulk(new)
    report.tracks_new += len(created)
    fresh.update(track.external_id for track in new if track.external_id)
    ids.update({track.external_id: tid for track, tid in zip(new, created)})  # type: ignore[misc]
    for identity, target in aliases.items():
        ids[identity] = ids[target]
    return ids


async def import_file(store: Store, path: Path, *, progress: Progress | None = None) -> ImportReport:
    fmt = detect_format(path)
    report = ImportReport(format=fmt)
    fresh: set[str] = set()
    if fmt == "mpd":
        playlists = read_mpd(path).playlists
        batch = 500
        for start in range(0, len(playlists), batch):
            chunk = playlists[start:start + batch]
            parsed = [(p, _mpd_items(p)) for p in chunk if isinstance(p, dict)]
            report.rows_skipped += len(chunk) - len(parsed)
            ids = await _resolve(store, [item for _, items in parsed for item in items], path.name, report, fresh)
            rows = [
                (str(p.get("name") or f"playlist {p.get('pid')}"), "mpd",
                 str(p["pid"]) if p.get("pid") is not None else None, p.get("description"),
                 [ids[item.identity] for item in items])
                for p, items in parsed if items
            ]
            added, skipped = await store.add_playlists_bulk(rows)
            report.playlists_added += added
            report.playlists_skipped += skipped
            if progress is not None:
                progress(min(start + batch, len(playlists)), len(playlists), "playlists")
        return report

    rows, report.rows_skipped = _read_csv(path)
    ids = await _resolve(store, [item for _, _, item in rows], path.name, report, fresh)
    grouped: dict[str, list[tuple[int, int]]] = {}
    for playlist, position, item in rows:
        if playlist:
            grouped.setdefault(playlist, []).append((position, ids[item.identity]))
    if grouped:
        added, skipped = await store.add_playlists_bulk([
            (name, "csv", f"{path.name}:{name}", None, [tid for _, tid in sorted(entries)])
            for name, entries in grouped.items()
        ])
        report.playlists_added, report.playlists_skipped = added, skipped
    if progress is not None:
        progress(len(rows), len(rows), "rows")
    return report
