"""JSPF playlists (xspf.org/jspf; what ListenBrainz, troi and `moodtape export` write), read for `moodtape import`.

A JSPF file is one playlist: `{"playlist": {"title": ..., "track": [{"title", "creator", "album", "duration",
"location": [...], "identifier": [...]}, ...]}}`.  Tracks land like the other imports' (metadata only, matched to
songs already known by id or by artist + title), so a playlist saved from an answer and imported again points at
the same songs.  A bad track is skipped and reported with its index; a file that is not a JSPF playlist is one
`ImportFormatError`.  JSPF files are small, so the document is parsed whole, up to `MAX_JSPF_CHARS`.
"""

from __future__ import annotations

import json
from typing import Any

from moodtape.core.pipeline.documents import Document, ImportFormatError
from moodtape.core.pipeline.import_fields import BadEntry, ImportItem, duration, ident, kind, text
from moodtape.core.pipeline.import_report import ImportReport
from moodtape.core.pipeline.mpd_reader import MpdPlaylist

__all__ = ["MAX_JSPF_CHARS", "looks_like_jspf", "read_jspf"]

#: A JSPF of 100,000 songs is about 30 MB; larger is not a playlist a person saved.
MAX_JSPF_CHARS = 64 * 1024 * 1024
# links that only search for a song are not where it is: they are not kept as the song's source
_SEARCH_PREFIXES = ("https://www.deezer.com/search/", "https://www.youtube.com/results?")


def looks_like_jspf(head: str) -> bool:
    """Whether a JSON document's first characters open a JSPF playlist (`{"playlist": {`), not an MPD slice."""
    body = head.lstrip()
    if not body.startswith("{"):
        return False
    rest = body[1:].lstrip()
    return rest.startswith('"playlist"') and rest[len('"playlist"'):].lstrip().startswith(":")


def _whole_text(doc: Document) -> str:
    parts: list[str] = []
    size = 0
    for chunk in doc.texts():
        size += len(chunk)
        if size > MAX_JSPF_CHARS:
            raise ImportFormatError(f"{doc.name}: a JSPF playlist larger than {MAX_JSPF_CHARS // (1024 * 1024)} MB "
                                    "is not supported; split it")
        parts.append(chunk)
    return "".join(parts)


def _first_text(entry: dict[str, Any], key: str, usable: Any = None) -> str | None:
    """The first usable string of a JSPF list field (`location`, `identifier`); a bare string is accepted too."""
    values = entry.get(key)
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise BadEntry(f"{key} is {kind(values)}, not a list")
    for value in values:
        if isinstance(value, str):
            found = ident({key: value}, key)
            if found and (usable is None or usable(found)):
                return found
    return None


def _web_page(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not url.startswith(_SEARCH_PREFIXES)


def _track(entry: Any) -> ImportItem:
    if not isinstance(entry, dict):
        raise BadEntry(f"{kind(entry)}, not a track object")
    title = text(entry, "title")
    if not title:
        raise BadEntry("no title")
    return ImportItem(
        title=title, artist=text(entry, "creator"), album=text(entry, "album"),
        duration_s=duration(entry, "duration", 1000.0), url=_first_text(entry, "location", _web_page),
        external_id=_first_text(entry, "identifier"),
    )


def read_jspf(doc: Document, report: ImportReport) -> MpdPlaylist:
    """The playlist of a JSPF document, its bad tracks reported (`playlist.track[i]`) and left out."""
    if doc.cut:
        raise ImportFormatError(f"{doc.name}: not valid JSON: the gzip file is truncated")
    try:
        data = json.loads(_whole_text(doc))
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{doc.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
                                ) from None
    except RecursionError:
        raise ImportFormatError(f"{doc.name}: JSON nested too deeply") from None
    playlist = data.get("playlist") if isinstance(data, dict) else None
    if not isinstance(playlist, dict):
        raise ImportFormatError(f"{doc.name}: expected a JSPF playlist: {{\"playlist\": {{\"track\": [...]}}}}")
    tracks = playlist.get("track", [])
    if not isinstance(tracks, list):
        raise ImportFormatError(f"{doc.name}: playlist.track is {kind(tracks)}, not a list")
    try:
        name = text(playlist, "title") or doc.name
        description = text(playlist, "annotation")
        identifier = ident(playlist, "identifier")
    except BadEntry as bad:
        raise ImportFormatError(f"{doc.name}: {bad}") from None
    items = []
    for position, entry in enumerate(tracks):
        try:
            items.append(_track(entry))
        except BadEntry as bad:
            report.skip(f"playlist.track[{position}]", str(bad), track=True)
    return MpdPlaylist(0, name, identifier or f"{doc.name}:{name}", description, items)
