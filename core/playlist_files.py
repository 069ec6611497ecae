"""Saved answers: the songs of a reply written as JSPF, XSPF or M3U8, so they open in other players and tools.

JSPF is the JSON form of XSPF that ListenBrainz and troi exchange playlists in; XSPF is its XML original (VLC,
Strawberry, foobar2000 read it); M3U8 is the UTF-8 M3U that every player and ffmpeg understand.  Each track
carries a link a person can follow: where it came from (a link it was added by, the audio file on this machine),
else a Deezer and a YouTube search for its artist and title (imported and demo tracks have no audio of their
own).  `moodtape import` reads JSPF back (`core.pipeline.jspf_reader`), so saved playlists round-trip.

Titles come from anywhere (imports, tags of uploaded files), so every text is made safe for its format:
characters XML 1.0 cannot hold are dropped, and M3U8's one-line fields lose their line breaks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, quote_plus, unquote_to_bytes
from xml.etree import ElementTree

from moodtape.core.audio.sources import source_path
from moodtape.core.recommend.continuation import ContinueResult
from moodtape.core.results import ChatResult, RecommendedTrack, SimilarResult

__all__ = ["FORMATS", "PlaylistFormat", "SavedTrack", "answer_title", "format_for_path", "playlist_text", "saved_tracks",
           "search_links", "to_jspf", "to_m3u8", "to_xspf"]

PlaylistFormat = Literal["jspf", "xspf", "m3u8"]
FORMATS: tuple[PlaylistFormat, ...] = ("jspf", "xspf", "m3u8")
#: Who made the playlist, as the formats' `creator` says.
CREATOR = "Moodtape"
XSPF_NAMESPACE = "http://xspf.org/ns/0/"

_SUFFIXES: dict[str, PlaylistFormat] = {".jspf": "jspf", ".json": "jspf", ".xspf": "xspf", ".m3u8": "m3u8",
                                        ".m3u": "m3u8"}
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates, U+FFFE and U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


@dataclass(frozen=True)
class SavedTrack:
    """One song as the playlist files hold it: what it is and where to find it (best link first)."""

    title: str
    artist: str | None
    album: str | None
    duration_s: float | None
    locations: tuple[str, ...]
    identifier: str | None  # a URI the catalogue knows the song by (a Spotify or Deezer id), when it has one
    annotation: str | None  # why it was chosen


def search_links(artist: str | None, title: str) -> tuple[str, str]:
    """A Deezer and a YouTube search for the song: the link of a song we hold no audio or page for."""
    words = f"{artist} {title}" if artist else title
    return (f"https://www.deezer.com/search/{quote(words, safe='')}",
            f"https://www.youtube.com/results?search_query={quote_plus(words)}")


def _locations(track: RecommendedTrack) -> tuple[str, ...]:
    source = track.source or ""
    if source.startswith(("https://", "http://")):
        return (source,)
    if track.source_kind == "file" and source:
        path = source_path(source)
        return (path.as_uri() if path.is_absolute() else path.resolve().as_uri(),)
    return search_links(track.artist, track.title)


def _locations_with_search(track: RecommendedTrack) -> tuple[str, ...]:
    """Where the song is; a catalogue song's page (e.g. its Debian package) is followed by searches for it."""
    found = _locations(track)
    if track.source_kind == "catalogue" and found[0].startswith(("https://", "http://")):
        searches = search_links(track.artist, track.title)
        return tuple(dict.fromkeys(found + searches))
    return found


def _identifier(track: RecommendedTrack) -> str | None:
    ident = track.external_id or ""
    # only ids that are URIs (spotify:track:..., https://...): a content hash or an import's key is not one
    if re.match(r"^[a-z][a-z0-9+.-]*:[^\s]+$", ident) and not ident.startswith(("catalogue:", "debian:")):
        return ident
    return None


def _clean(text: str | None) -> str | None:
    """Text every format can hold: no lone surrogates (not UTF-8) and no control characters XML 1.0 forbids."""
    return None if text is None else (_NOT_XML.sub("", text) or None)


def saved_tracks(tracks: Sequence[RecommendedTrack]) -> list[SavedTrack]:
    saved = []
    for track in tracks:
        clean = replace(track, title=_clean(track.title) or "?", artist=_clean(track.artist),
                        album=_clean(track.album), reason=_clean(track.reason) or "")
        saved.append(SavedTrack(title=clean.title, artist=clean.artist, album=clean.album,
                                duration_s=clean.duration_s, locations=_locations_with_search(clean),
                                identifier=_identifier(clean), annotation=clean.reason or None))
    return saved


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _one_line(text: str) -> str:
    return _NOT_XML.sub("", _LINE_BREAKS.sub(" ", text)).strip()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _milliseconds(seconds: float | None) -> int | None:
    return None if seconds is None else max(0, round(seconds * 1000))


def to_jspf(title: str, annotation: str | None, tracks: Sequence[SavedTrack], *, date: str | None = None) -> str:
    """JSPF (xspf.org/jspf): `{"playlist": {..., "track": [...]}}`; absent values are left out, not null."""
    entries = []
    for track in tracks:
        entry: dict[str, object] = {"location": list(track.locations)}
        if track.identifier:
            entry["identifier"] = [track.identifier]
        entry["title"] = track.title
        if track.artist:
            entry["creator"] = track.artist
        if track.annotation:
            entry["annotation"] = track.annotation
        if track.album:
            entry["album"] = track.album
        duration = _milliseconds(track.duration_s)
        if duration is not None:
            entry["duration"] = duration
        entries.append(entry)
    playlist: dict[str, object] = {"title": title, "creator": CREATOR}
    if annotation:
        playlist["annotation"] = annotation
    playlist["date"] = date or _now()
    playlist["track"] = entries
    return json.dumps({"playlist": playlist}, ensure_ascii=False, indent=2) + "\n"


def to_xspf(title: str, annotation: str | None, tracks: Sequence[SavedTrack], *, date: str | None = None) -> str:
    """XSPF version 1, elements in the order the specification lists them."""
    ElementTree.register_namespace("", XSPF_NAMESPACE)

    def child(parent: ElementTree.Element, name: str, text: str) -> None:
        ElementTree.SubElement(parent, f"{{{XSPF_NAMESPACE}}}{name}").text = _xml_text(text)

    root = ElementTree.Element(f"{{{XSPF_NAMESPACE}}}playlist", {"version": "1"})
    child(root, "title", title)
    child(root, "creator", CREATOR)
    if annotation:
        child(root, "annotation", annotation)
    child(root, "date", date or _now())
    track_list = ElementTree.SubElement(root, f"{{{XSPF_NAMESPACE}}}trackList")
    for track in tracks:
        element = ElementTree.SubElement(track_list, f"{{{XSPF_NAMESPACE}}}track")
        for location in track.locations:
            child(element, "location", location)
        if track.identifier:
            child(element, "identifier", track.identifier)
        child(element, "title", track.title)
        if track.artist:
            child(element, "creator", track.artist)
        if track.annotation:
            child(element, "annotation", track.annotation)
        if track.album:
            child(element, "album", track.album)
        duration = _milliseconds(track.duration_s)
        if duration is not None:
            child(element, "duration", str(duration))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=False).join(
        ('<?xml version="1.0" encoding="UTF-8"?>\n', "\n"))


def to_m3u8(title: str, annotation: str | None, tracks: Sequence[SavedTrack], *, date: str | None = None) -> str:
    """Extended M3U in UTF-8: `#EXTINF:<seconds>,<artist> - <title>` then the first location of each song.

    Local files are written as paths (what players and ffmpeg's concat-free M3U reading expect), links as URLs.
    """
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(title)}"]
    for track in tracks:
        seconds = -1 if track.duration_s is None else max(0, round(track.duration_s))
        label = f"{track.artist} - {track.title}" if track.artist else track.title
        lines.append(f"#EXTINF:{seconds},{_one_line(label)}")
        lines.append(_file_path(track.locations[0]))
    return "\n".join(lines) + "\n"


def _file_path(location: str) -> str:
    """A `file://` URI as a path (Python 3.11/3.12 have no `Path.from_uri`); other locations unchanged.

    A path that is not UTF-8 stays a URI: an M3U8 line is UTF-8 text.
    """
    if not location.startswith("file://"):
        return location
    path = unquote_to_bytes(location[len("file://"):])
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        return location


_WRITERS: dict[PlaylistFormat, Callable[..., str]] = {"jspf": to_jspf, "xspf": to_xspf, "m3u8": to_m3u8}


def playlist_text(fmt: PlaylistFormat, title: str, annotation: str | None, tracks: Sequence[RecommendedTrack],
                  *, date: str | None = None) -> str:
    """The whole file for `tracks` in format `fmt`."""
    return _WRITERS[fmt](_clean(title) or CREATOR, _clean(annotation), saved_tracks(tracks), date=date)


def format_for_path(path: Path) -> PlaylistFormat | None:
    """The format a file name asks for by its suffix (`.jspf`/`.json`, `.xspf`, `.m3u8`/`.m3u`), if any."""
    return _SUFFIXES.get(path.suffix.lower())


def _cut(text: str, most: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def answer_title(result: ChatResult | SimilarResult | ContinueResult) -> tuple[str, str]:
    """A saved answer's title and annotation: what was asked, in words a person recognises in a player."""
    if isinstance(result, ChatResult):
        annotation = (f"Songs for a message read as {result.mood.label} ({result.strategy}), "
                      f"from Moodtape's {result.catalogue} catalogue")
        return f"Moodtape: “{_cut(result.mood.text)}”", annotation
    if isinstance(result, SimilarResult):
        return (f"Moodtape: like {_cut(result.query.track.label if result.query.track else result.query.text)}",
                f"Songs that sound like the query, from Moodtape's {result.query.catalogue} catalogue")
    seeds = ", ".join(seed.label for seed in result.seeds)
    return (f"Moodtape: after {_cut(seeds)}",
            f"Songs to continue a playlist, from Moodtape's {result.catalogue} catalogue")
