"""Metadata-only catalogues and playlists: Million Playlist Dataset slices, JSPF playlists and a simple CSV.

Imported tracks have no audio, so they land as `metadata_only`; they still matter because playlists give
collaborative signal, and a later file or link for the same recording (same normalised artist + title) is
matched to the same row instead of becoming a duplicate.

Imports stream: the file is read a chunk at a time (`documents`), playlists or rows are parsed one by one
(`mpd_reader`, `csv_reader`) and written BATCH at a time (`import_writer`), each batch committed before the
next is read, so memory does not grow with the file.  What that means when a file is bad:

* bytes that cannot be read (not gzip after a gzip header, not UTF-8, over the size cap, a missing file
  or a FIFO) are found by a first pass over the file, before anything is written: one `ImportFormatError`;
* a bad CSV row, MPD playlist or MPD track (wrong type, impossible duration, an extra field) is skipped and
  reported with its line or JSON index, and the good ones around it are imported;
* a JSON syntax error or a wrong shape found mid-file is an `ImportFormatError` naming the line and column;
  every playlist before it has been written (whole batches, each in its own transactions), and the message
  says how many.  Importing the file again, fixed, skips the playlists already there (by pid) and reuses the
  tracks, so an import stopped by an error or a crash is resumed by running it again;
* a gzip stream cut off: a CSV keeps its rows up to the cut (the last, incomplete line reported); an MPD
  slice is refused before anything is written.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from moodtape.core.pipeline.csv_reader import CsvRow, csv_rows
from moodtape.core.pipeline.documents import Document, ImportFormatError, open_document
from moodtape.core.pipeline.import_report import MAX_PROBLEMS, ImportReport
from moodtape.core.pipeline.import_writer import TrackWriter
from moodtape.core.pipeline.jspf_reader import looks_like_jspf, read_jspf
from moodtape.core.pipeline.mpd_reader import MpdPlaylist, MpdReader, MpdSlice, mpd_playlist, read_mpd
from moodtape.core.progress import Progress
from moodtape.db.store import Store

__all__ = ["BATCH_PLAYLISTS", "BATCH_ROWS", "MAX_PROBLEMS", "ImportFormatError", "ImportReport", "MpdSlice",
           "detect_format", "import_file", "read_mpd"]

#: MPD playlists (about 65 tracks each) and CSV rows written per batch.
BATCH_PLAYLISTS = 500
BATCH_ROWS = 20_000


def _detect(doc: Document) -> str:
    head = doc.head.lstrip()
    if looks_like_jspf(head):
        return "jspf"
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
        f"{doc.name}: not a Million Playlist Dataset slice (JSON with 'playlists'), a JSPF playlist "
        "(JSON with 'playlist') nor a CSV with a 'title' column"
    )


def detect_format(path: Path) -> str:
    return _detect(open_document(path))


class _Progress:
    """Tells `progress` how far through the file (in KB) the import is, once per batch written."""

    def __init__(self, doc: Document, progress: Progress | None, unit: str) -> None:
        self.doc, self.progress, self.unit = doc, progress, unit
        self.position = 0

    def read(self, position: int) -> None:
        self.position = position

    def written(self, count: int, *, done: bool = False) -> None:
        if self.progress is not None:
            total = max(1, self.doc.size // 1024)
            self.progress(total if done else min(self.position // 1024, total), total, f"{count} {self.unit}")


async def _write_playlists(store: Store, writer: TrackWriter, batch: list[MpdPlaylist], source: str = "mpd"
                          ) -> None:
    if not batch:
        return
    ids = await writer.resolve([item for playlist in batch for item in playlist.tracks])
    added, skipped = await store.add_playlists_bulk([
        (p.name, source, p.pid, p.description, [ids[item.identity] for item in p.tracks])
        for p in batch if p.tracks
    ])
    writer.report.playlists_added += added
    writer.report.playlists_skipped += skipped


async def _import_mpd(store: Store, doc: Document, report: ImportReport, progress: _Progress) -> None:
    writer = TrackWriter(store, doc.name, report)
    reader = MpdReader(doc, progress.read)
    batch: list[MpdPlaylist] = []
    try:
        for index, entry in enumerate(reader.playlists()):
            playlist = mpd_playlist(index, entry, report)
            if playlist is not None:
                batch.append(playlist)
            if len(batch) >= BATCH_PLAYLISTS:
                await _write_playlists(store, writer, batch)
                batch = []
                progress.written(index + 1)
    except ImportFormatError as exc:
        if not reader.count:
            raise
        await _write_playlists(store, writer, batch)  # the good playlists before the error land too
        raise ImportFormatError(
            f"{exc}; the {reader.count} playlist entries before it were imported (importing the file "
            "again, once fixed, adds only the rest)") from exc
    await _write_playlists(store, writer, batch)
    progress.written(reader.count, done=True)


async def _import_csv(store: Store, doc: Document, report: ImportReport, progress: _Progress) -> None:
    """Rows are written in batches; playlist memberships (two ints a row) are kept to order them at the end.

    (So a CSV's memory grows with its playlist rows, ~100 bytes each; catalogue CSVs are small.)
    """
    writer = TrackWriter(store, doc.name, report)
    members: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    batch: list[CsvRow] = []
    rows = 0

    async def flush() -> None:
        ids = await writer.resolve([row.item for row in batch])
        for row in batch:
            if row.playlist:
                members[row.playlist].append((row.position, ids[row.item.identity]))
        batch.clear()
        progress.written(rows)

    for row in csv_rows(doc, report, progress.read):
        batch.append(row)
        rows += 1
        if len(batch) >= BATCH_ROWS:
            await flush()
    await flush()
    if members:
        added, skipped = await store.add_playlists_bulk([
            (name, "csv", f"{doc.name}:{name}", None, [tid for _, tid in sorted(entries)])
            for name, entries in members.items()
        ])
        report.playlists_added, report.playlists_skipped = added, skipped
    progress.written(rows, done=True)


async def _import_jspf(store: Store, doc: Document, report: ImportReport, progress: _Progress) -> None:
    playlist = read_jspf(doc, report)
    await _write_playlists(store, TrackWriter(store, doc.name, report), [playlist], source="jspf")
    progress.written(1, done=True)


async def import_file(store: Store, path: Path, *, progress: Progress | None = None) -> ImportReport:
    """Import an MPD slice, a JSPF playlist or a CSV; bad rows are skipped and counted in the report."""
    doc = open_document(path)
    report = ImportReport(format=_detect(doc))
    if report.format == "jspf":
        await _import_jspf(store, doc, report, _Progress(doc, progress, "playlists"))
    elif report.format == "mpd":
        await _import_mpd(store, doc, report, _Progress(doc, progress, "playlists"))
    else:
        await _import_csv(store, doc, report, _Progress(doc, progress, "rows"))
    return report
