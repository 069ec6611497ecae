"""Metadata-only catalogues and playlists: Spotify Million Playlist Dataset slices and a simple CSV.

Imported tracks have no audio, so they land as `metadata_only`; they still matter because playlists give
collaborative signal, and a later file or link for the same recording (same normalised artist + title) is
matched to the same row instead of becoming a duplicate.

CSV format (UTF-8, header row, standard quoting): `title` (required), `artist`, `album`, `duration_s`,
`url`, `external_id`, `licence`, and optionally `playlist` (name) with `position`: rows that share a playlist
name become one playlist, ordered by position (or file order).

Files come from anywhere, so nothing in them is trusted: a document that cannot be read as a whole (not
UTF-8, not JSON, a gzip cut off before the first row, a regular file too big) is one `ImportFormatError`
naming the file; a bad CSV row, MPD playlist or MPD track (wrong type, impossible duration, an extra field)
is skipped and reported with its line or JSON index, and the good ones around it are imported.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodtape.core.pipeline.documents import Document, ImportFormatError, load_document
from moodtape.core.progress import Progress
from moodtape.core.text import byte_size, clean_text, match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

#: Titles, artists, albums and names are cut here; URLs and ids longer than MAX_ID_CHARS are refused.
MAX_TEXT_CHARS = 1000
MAX_ID_CHARS = 4096
#: A track length above a week is not a track length.
MAX_DURATION_S = 7 * 24 * 3600.0
#: How many skip reasons a report keeps (the counts are always complete).
MAX_PROBLEMS = 10


class _Bad(Exception):
    """One row, playlist or track is unusable; the message is the reason shown in the report."""


@dataclass
class ImportReport:
    format: str
    tracks_new: int = 0
    tracks_matched: int = 0
    playlists_added: int = 0
    playlists_skipped: int = 0  # already imported before (not a failure)
    rows_skipped: int = 0  # CSV rows or MPD playlists that were bad
    tracks_skipped: int = 0  # MPD track entries that were bad (their playlist is imported without them)
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS reasons, "where: why"

    @property
    def failed(self) -> int:
        """Items of the file that were not imported because they were bad: non-zero means exit status 1."""
        return self.rows_skipped + self.tracks_skipped

    def skip(self, where: str, reason: str, *, track: bool = False) -> None:
        """Count one bad row (or MPD track) and keep its reason while there is room."""
        if track:
            self.tracks_skipped += 1
        else:
            self.rows_skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}")

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": list(self.problems), "failed": self.failed}


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


def _detect(doc: Document) -> str:
    head = doc.text[:4096].lstrip()
    if head.startswith(("{", "[")):
        return "mpd"
    if not head:
        raise ImportFormatError(f"{doc.name}: the file is empty")
    try:
        first = next(csv.reader([head.splitlines()[0]]), [])
    except csv.Error:
        first = []
    if "title" in [c.strip().lower() for c in first]:
        return "csv"
    raise ImportFormatError(
        f"{doc.name}: not a Million Playlist Dataset slice (JSON with 'playlists') "
        "nor a CSV with a 'title' column"
    )


def detect_format(path: Path) -> str:
    return _detect(load_document(path))


# --------------------------------------------------------------------------------------------- field values
_KINDS = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}


def _kind(value: Any) -> str:
    """What a JSON value is, in words, for a skip reason (never the value: it may be huge or hostile)."""
    return _KINDS.get(type(value), "null")


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _text(fields: dict[str, Any], key: str) -> str | None:
    """A text field, cleaned (controls and lone surrogates gone, cut to MAX_TEXT_CHARS); blank -> None."""
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{key} is {_kind(value)}, not text")
    return clean_text(value, MAX_TEXT_CHARS).strip() or None


def _ident(fields: dict[str, Any], key: str) -> str | None:
    """A URL or external id: cutting one would make it a different id, so a too long one is refused."""
    value = fields.get(key)
    if isinstance(value, str) and len(value) > MAX_ID_CHARS:
        raise _Bad(f"{key} is longer than {MAX_ID_CHARS} characters")
    return _text(fields, key)


def _duration(fields: dict[str, Any], key: str, per_second: float) -> float | None:
    """A track length in seconds from a number or numeric text in `per_second` units; absent -> None."""
    value = fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if type(value) not in (str, int, float):
        raise _Bad(f"{key} is {_kind(value)}, not a number")
    try:
        seconds = float(value) / per_second
    except ValueError:
        raise _Bad(f"{key} {_show(value)} is not a number") from None
    except OverflowError:  # an int beyond float range
        seconds = math.inf
    if not 0 <= seconds <= MAX_DURATION_S:  # also false for NaN
        shown = f" {_show(value)}" if isinstance(value, str) else ""
        raise _Bad(f"{key}{shown} is not a track length (0 to {MAX_DURATION_S / 86400:.0f} days)")
    return seconds


def _json_int(digits: str) -> int | float:
    """JSON integers; one too long for Python's int parsing (10**5000) becomes ±inf, refused where used."""
    try:
        return int(digits)
    except ValueError:
        return -math.inf if digits.startswith("-") else math.inf


# ---------------------------------------------------------------------------------------------- MPD slices
@dataclass(frozen=True)
class MpdSlice:
    """One Million Playlist Dataset file as its JSON has it: the `info` header and the raw playlist entries."""

    info: dict[str, Any]
    playlists: list[Any]


def _mpd_slice(doc: Document) -> MpdSlice:
    try:
        data = json.loads(doc.text, parse_int=_json_int)
    except RecursionError as exc:
        raise ImportFormatError(f"{doc.name}: not valid JSON: nested too deeply for an MPD slice") from exc
    except ValueError as exc:  # JSONDecodeError, and any value the decoder refuses
        if doc.cut:
            raise ImportFormatError(f"{doc.name}: not valid JSON: the gzip file is truncated") from exc
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ImportFormatError(f"{doc.name}: not valid JSON{where}: {reason}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
        raise ImportFormatError(f"{doc.name}: expected an MPD slice: {{\"info\": ..., \"playlists\": [...]}}")
    info = data.get("info")
    return MpdSlice(dict(info) if isinstance(info, dict) else {}, data["playlists"])


def read_mpd(path: Path) -> MpdSlice:
    """An MPD slice, plain or gzipped; anything else is an `ImportFormatError` saying what was expected.

    The one reader of MPD files: `moodtape import` and the offline collaborative evaluation
    (`training/cf.py`) both read playlists through it.
    """
    return _mpd_slice(load_document(path))  # missing, not a regular file, too big: refused there


def _mpd_item(entry: Any) -> _Item:
    if not isinstance(entry, dict):
        raise _Bad(f"{_kind(entry)}, not a track object")
    title = _text(entry, "track_name")
    if not title:
        raise _Bad("no track_name")
    return _Item(
        title=title, artist=_text(entry, "artist_name"), album=_text(entry, "album_name"),
        duration_s=_duration(entry, "duration_ms", 1000.0), external_id=_ident(entry, "track_uri"),
    )


def _mpd_pid(playlist: dict[str, Any]) -> str | None:
    pid = playlist.get("pid")
    if type(pid) is int:  # not bool, not a float (nor the inf a 5,000-digit pid became)
        return str(pid)
    if pid is not None and not isinstance(pid, str):
        raise _Bad(f"pid is {_kind(pid)}, not an integer")
    return _ident(playlist, "pid")


_MpdPlaylist = tuple[str, str | None, str | None, list[_Item]]  # name, pid, description, tracks


def _mpd_playlist(index: int, playlist: Any, report: ImportReport) -> _MpdPlaylist | None:
    """One playlist entry, its bad tracks reported and left out; None (reported) when the playlist is bad."""
    where = f"playlists[{index}]"
    try:
        if not isinstance(playlist, dict):
            raise _Bad(f"{_kind(playlist)}, not a playlist object")
        pid = _mpd_pid(playlist)
        name = _text(playlist, "name") or f"playlist {pid}"
        description = _text(playlist, "description")
        tracks = playlist.get("tracks")
        if tracks is not None and not isinstance(tracks, list):
            raise _Bad(f"tracks is {_kind(tracks)}, not a list")
    except _Bad as bad:
        report.skip(where, str(bad))
        return None
    items = []
    for position, entry in enumerate(tracks or []):
        try:
            items.append(_mpd_item(entry))
        except _Bad as bad:
            report.skip(f"{where}.tracks[{position}]", str(bad), track=True)
    return name, pid, description, items


# ----------------------------------------------------------------------------------------------------- CSV
_CsvRow = tuple[str | None, int, _Item]  # playlist name, position, track


def _csv_row(row: dict[str, str], number: int) -> _CsvRow:
    title = _text(row, "title")
    if not title:
        raise _Bad("no title")
    position_text = (row.get("position") or "").strip()
    try:
        position = int(position_text) if position_text else number
    except ValueError:
        raise _Bad(f"position {_show(position_text)} is not a whole number") from None
    return _text(row, "playlist"), position, _Item(
        title=title, artist=_text(row, "artist"), album=_text(row, "album"),
        duration_s=_duration(row, "duration_s", 1.0), url=_ident(row, "url"),
        external_id=_ident(row, "external_id"), licence=_text(row, "licence") or _text(row, "license"),
    )


def _csv_error(exc: csv.Error) -> str:
    big = "field limit" in str(exc)
    return f"a field is longer than {byte_size(csv.field_size_limit())}" if big else f"not valid CSV ({exc})"


def _read_csv(doc: Document, report: ImportReport) -> list[_CsvRow]:
    """The good rows; bad ones (no title, a bad number, more fields than the header) reported by line.

    A cut file's last line is incomplete, so it is dropped (and reported) rather than imported half.
    """
    text = doc.text[:max(doc.text.rfind("\n"), doc.text.rfind("\r"), 0)] if doc.cut else doc.text
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[_CsvRow] = []
    number, start = 0, 1  # records seen (the default position), first line of the next record
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if header is None:
                raise ImportFormatError(f"{doc.name}: the header line is not valid CSV: {_csv_error(exc)}") from exc
            report.skip(f"line {start}", _csv_error(exc))
            number, start = number + 1, reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not fields:  # a blank line
            continue
        if header is None:
            header = [name.strip().lower() for name in fields]
            if "title" not in header:
                break
            continue
        number += 1
        if len(fields) > len(header):
            report.skip(f"line {line}", f"{len(fields)} fields, but the header has {len(header)}")
            continue
        try:
            rows.append(_csv_row(dict(zip(header, fields)), number - 1))
        except _Bad as bad:
            report.skip(f"line {line}", str(bad))
    if header is None or "title" not in header:
        if doc.cut:
            raise ImportFormatError(f"{doc.name}: the gzip file is truncated before its first row")
        raise ImportFormatError(f"{doc.name}: the CSV needs a 'title' column")
    if doc.cut:
        report.skip(f"line {start}", "the gzip file is truncated here; the rest of the file is lost")
    return rows


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


async def _import_mpd(
    store: Store, doc: Document, report: ImportReport, progress: Progress | None
) -> None:
    playlists = _mpd_slice(doc).playlists
    fresh: set[str] = set()
    batch = 500
    for start in range(0, len(playlists), batch):
        parsed = [
            entry for index, playlist in enumerate(playlists[start:start + batch], start)
            if (entry := _mpd_playlist(index, playlist, report)) is not None
        ]
        ids = await _resolve(store, [item for *_, items in parsed for item in items], doc.name, report, fresh)
        added, skipped = await store.add_playlists_bulk([
            (name, "mpd", pid, description, [ids[item.identity] for item in items])
            for name, pid, description, items in parsed if items
        ])
        report.playlists_added += added
        report.playlists_skipped += skipped
        if progress is not None:
            progress(min(start + batch, len(playlists)), len(playlists), "playlists")


async def _import_csv(
    store: Store, doc: Document, report: ImportReport, progress: Progress | None
) -> None:
    rows = _read_csv(doc, report)
    ids = await _resolve(store, [item for _, _, item in rows], doc.name, report, set())
    grouped: dict[str, list[tuple[int, int]]] = {}
    for playlist, position, item in rows:
        if playlist:
            grouped.setdefault(playlist, []).append((position, ids[item.identity]))
    if grouped:
        added, skipped = await store.add_playlists_bulk([
            (name, "csv", f"{doc.name}:{name}", None, [tid for _, tid in sorted(entries)])
            for name, entries in grouped.items()
        ])
        report.playlists_added, report.playlists_skipped = added, skipped
    if progress is not None:
        progress(len(rows), len(rows), "rows")


async def import_file(store: Store, path: Path, *, progress: Progress | None = None) -> ImportReport:
    """Import an MPD slice or a CSV; bad rows are skipped and counted in the report (`failed`, `problems`)."""
    doc = load_document(path)
    report = ImportReport(format=_detect(doc))
    importer = _import_mpd if report.format == "mpd" else _import_csv
    await importer(store, doc, report, progress)
    return report
