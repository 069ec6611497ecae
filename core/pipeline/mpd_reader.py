"""Million Playlist Dataset slices, read playlist by playlist: `{"info": {...}, "playlists": [...]}`.

`MpdReader` streams the raw playlist entries of a slice (plain or gzipped) in file order without holding
the document; `mpd_playlist` turns one entry into a name, pid, description and checked tracks, reporting
bad tracks (and the whole entry, when it is not a playlist) with their JSON index.  `read_mpd` gathers a
whole slice for the offline collaborative evaluation (`training/cf.py`), through the same reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtape.core.pipeline.documents import Document, ImportFormatError, open_document
from moodtape.core.pipeline.import_fields import BadEntry, ImportItem, duration, ident, kind, text
from moodtape.core.pipeline.import_report import ImportReport
from moodtape.core.pipeline.json_stream import JsonStream

__all__ = ["MpdPlaylist", "MpdReader", "MpdSlice", "mpd_playlist", "read_mpd"]


@dataclass(frozen=True)
class MpdSlice:
    """One Million Playlist Dataset file as its JSON has it: the `info` header and the raw playlist entries."""

    info: dict[str, Any]
    playlists: list[Any]


@dataclass(frozen=True)
class MpdPlaylist:
    index: int  # in the file's `playlists` list
    name: str
    pid: str | None
    description: str | None
    tracks: list[ImportItem]


class MpdReader:
    """The raw playlist entries of a slice, in file order; `info` is filled in as the reader meets it.

    A document that is not an object with a `playlists` list is an `ImportFormatError`; so is a JSON error
    anywhere, found when the reader gets there (the entries before it have been yielded by then).  A gzip
    stream cut off is refused before the first entry: the slice is damaged, and the user should fetch it
    again rather than import part of it.
    """

    def __init__(self, doc: Document, progress: Callable[[int], None] | None = None) -> None:
        self.doc = doc
        self.info: dict[str, Any] = {}
        self.count = 0  # entries yielded so far
        self._progress = progress

    def _shape_error(self) -> ImportFormatError:
        return ImportFormatError(f"{self.doc.name}: expected an MPD slice: {{\"info\": ..., \"playlists\": [...]}}")

    def playlists(self) -> Iterator[Any]:
        if self.doc.cut:
            raise ImportFormatError(f"{self.doc.name}: not valid JSON: the gzip file is truncated")
        stream = JsonStream(self.doc.name, self.doc.texts(self._progress))
        if stream.peek() != "{":
            if stream.peek() in ("[", ""):
                raise self._shape_error()
            stream.value()  # not JSON at all: the decoder says where
            raise self._shape_error()  # a number, a string, true ...
        found = False
        for key in stream.object_keys():
            if key == "playlists":
                if stream.peek() != "[":
                    stream.value()  # an error there is the better message
                    raise self._shape_error()
                found = True
                for entry in stream.array_items():
                    yield entry
                    self.count += 1
            elif key == "info":
                info = stream.value()
                self.info = dict(info) if isinstance(info, dict) else {}
            else:
                stream.value()
        stream.end()
        if not found:
            raise self._shape_error()


def read_mpd(path: Path) -> MpdSlice:
    """An MPD slice, plain or gzipped; anything else is an `ImportFormatError` saying what was expected.

    The whole slice in memory, for the offline evaluation; `moodtape import` streams through `MpdReader`.
    """
    reader = MpdReader(open_document(path))  # missing, not a regular file, too big: refused there
    playlists = list(reader.playlists())
    return MpdSlice(reader.info, playlists)


def _mpd_item(entry: Any) -> ImportItem:
    if not isinstance(entry, dict):
        raise BadEntry(f"{kind(entry)}, not a track object")
    title = text(entry, "track_name")
    if not title:
        raise BadEntry("no track_name")
    return ImportItem(
        title=title, artist=text(entry, "artist_name"), album=text(entry, "album_name"),
        duration_s=duration(entry, "duration_ms", 1000.0), external_id=ident(entry, "track_uri"),
    )


def _mpd_pid(playlist: dict[str, Any]) -> str | None:
    pid = playlist.get("pid")
    if type(pid) is int:  # not bool, not a float (nor the inf a 5,000-digit pid became)
        return str(pid)
    if pid is not None and not isinstance(pid, str):
        raise BadEntry(f"pid is {kind(pid)}, not an integer")
    return ident(playlist, "pid")


def mpd_playlist(index: int, playlist: Any, report: ImportReport) -> MpdPlaylist | None:
    """One playlist entry, its bad tracks reported and left out; None (reported) when the playlist is bad."""
    where = f"playlists[{index}]"
    try:
        if not isinstance(playlist, dict):
            raise BadEntry(f"{kind(playlist)}, not a playlist object")
        pid = _mpd_pid(playlist)
        name = text(playlist, "name") or f"playlist {pid}"
        description = text(playlist, "description")
        tracks = playlist.get("tracks")
        if tracks is not None and not isinstance(tracks, list):
            raise BadEntry(f"tracks is {kind(tracks)}, not a list")
    except BadEntry as bad:
        report.skip(where, str(bad))
        return None
    items = []
    for position, entry in enumerate(tracks or []):
        try:
            items.append(_mpd_item(entry))
        except BadEntry as bad:
            report.skip(f"{where}.tracks[{position}]", str(bad), track=True)
    return MpdPlaylist(index, name, pid, description, items)
