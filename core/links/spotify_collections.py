"""Spotify playlist and album links: their track list, read from Spotify's public embed page (no API key).

Spotify's Web API needs registered credentials, but the embed player page
(`https://open.spotify.com/embed/playlist/<id>`, `/embed/album/<id>`) is server-rendered by Next.js and
carries the list in `<script id="__NEXT_DATA__" type="application/json">`.  What we rely on, as public code
that parses these pages reads it too (Python, Swift, TypeScript and Rust projects found by code search in
2026, several noting the structure was "verified against a live response"):

* `props.pageProps.state.data.entity` holds `name` (or `title`), `type` ("playlist" | "album"), `uri`
  ("spotify:playlist:<id>") and `trackList`;
* `trackList` is a list of items with `uri` ("spotify:track:<22 chars>"), `title`, `subtitle` (the artists,
  comma-separated) and `duration` (milliseconds); one parser also met `{"items": [...], "totalCount": n}`,
  and `entity.totalCount`, so both are read;
* the page renders only the first part of a long playlist (50 to 100 tracks, by those projects' accounts),
  so a longer playlist is added as far as the page lists it, and the collection says so.

This format is unofficial and undocumented: Spotify may change it at any time.  When the page no longer has
that shape the link fails with a sentence saying so (never a traceback), and one malformed entry (no uri, no
title, a podcast episode, a local file) is left out with its reason while the rest goes on.  Each listed
track becomes the same metadata-only `LinkInfo` a single Spotify track link gives, so `LinkService` matches
it to a catalogue song or a Deezer preview by artist + title exactly as it does for one track.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.errors import NetError
from moodtape.core.links.info import LinkInfo
from moodtape.core.links.spotify import spotify_kind_and_id

__all__ = ["SpotifyCollections", "SpotifyList", "parse_embed_page", "spotify_collection"]

_TRACK_URI = re.compile(r"^spotify:track:([A-Za-z0-9]{22})$")
#: Why an entry whose uri is not a track is left out, by the uri's kind.
_NOT_A_SONG = {
    "episode": "a podcast episode, not a song",
    "show": "a podcast, not a song",
    "chapter": "an audiobook chapter, not a song",
    "local": "a local file of the playlist's owner, which is not on Spotify",
}
#: What an entity's `type` may say; another kind than the link's is refused (an unknown word is not).
_KINDS = frozenset({"track", "album", "playlist", "artist", "episode", "show"})
#: Longest title or artist kept (a hostile page could send megabytes in one field).
_MAX_TEXT = 500
#: Reasons kept one by one; beyond this many they are counted (a 10,000-entry page must not flood a message).
_MAX_REASONS = 20
#: Said whenever the page is not what we expect: the format is unofficial, so it is the likely cause.
_CHANGED = "Spotify may have changed its unofficial embed page; send links to single tracks instead"


@dataclass(frozen=True)
class SpotifyList:
    """A Spotify playlist or album as its embed page lists it (within the cap)."""

    title: str
    tracks: list[LinkInfo]
    total: int  # entries the playlist holds, as far as the page tells
    skipped: list[str] = field(default_factory=list)  # entries left out, each with why


def spotify_collection(url: httpx.URL) -> tuple[str, str] | None:
    """("playlist" | "album", id) for an open.spotify.com playlist or album link; None for anything else."""
    found = spotify_kind_and_id(url)
    return found if found is not None and found[0] in ("playlist", "album") else None


def _next_data(page: str) -> str | None:
    """The text of the `__NEXT_DATA__` script, found with plain searches (linear on any page: a regular
    expression over a hostile 3 MB page of unclosed tags could take minutes)."""
    at = max(page.find('id="__NEXT_DATA__"'), page.find("id='__NEXT_DATA__'"))
    start = page.find(">", at) if at >= 0 else -1
    end = page.find("</script>", start) if start >= 0 else -1
    return page[start + 1:end] if end >= 0 else None


def _entity(page: str, kind: str) -> dict[str, Any]:
    """`props.pageProps.state.data.entity` of an embed page, or a `UserError` that says what was missing."""
    script = _next_data(page)
    if script is None:
        raise UserError(f"Spotify's page for that {kind} has no track list I can read ({_CHANGED})")
    try:
        data = json.loads(script)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"Spotify's page for that {kind} has track data I cannot read ({_CHANGED})") from exc
    entity: Any = data
    for key in ("props", "pageProps", "state", "data", "entity"):
        entity = entity.get(key) if isinstance(entity, dict) else None
    if not isinstance(entity, dict):
        raise UserError(f"Spotify's page for that {kind} has no {kind} data in it ({_CHANGED})")
    return entity


def _items_and_total(entity: dict[str, Any], kind: str) -> tuple[list[Any], int | None]:
    listed = entity.get("trackList")
    total = entity.get("totalCount")
    if isinstance(listed, dict):  # {"items": [...], "totalCount": n}, met by one parser
        total = listed.get("totalCount", total)
        listed = listed.get("items")
    if not isinstance(listed, list):
        raise UserError(f"Spotify's page for that {kind} has no track list in it ({_CHANGED})")
    return listed, total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None


def _entry_info(item: Any, album: str | None) -> LinkInfo | str:
    """The metadata-only track an entry stands for, or why it is left out."""
    if not isinstance(item, dict):
        return "not a track entry"
    uri = item.get("uri")
    if not isinstance(uri, str) or not uri:
        return "no Spotify track id"
    match = _TRACK_URI.match(uri)
    if match is None:
        kind = uri.split(":")[1] if uri.count(":") >= 2 else ""
        return _NOT_A_SONG.get(kind, f"not a Spotify track ({uri[:60]})")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        return "no title"
    subtitle = item.get("subtitle")
    artist = subtitle.strip()[:_MAX_TEXT] if isinstance(subtitle, str) and subtitle.strip() else None
    duration = item.get("duration")
    seconds = duration / 1000 if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
    track_id = match.group(1)
    return LinkInfo(
        service="Spotify", kind="spotify", url=f"https://open.spotify.com/track/{track_id}",
        external_id=f"spotify:track:{track_id}", title=title.strip()[:_MAX_TEXT], artist=artist, album=album,
        duration_s=seconds if seconds and 0 < seconds < 24 * 3600 else None, has_audio=False,
        note="Spotify offers no audio to analyse",
    )


def _label(item: Any, index: int) -> str:
    title = item.get("title") if isinstance(item, dict) else None
    return f"entry {index} (\"{title.strip()[:80]}\")" if isinstance(title, str) and title.strip() else f"entry {index}"


def parse_embed_page(page: str, kind: str, collection_id: str, limit: int) -> SpotifyList:
    """The first `limit` distinct tracks of a Spotify embed page (entries past the cap are not looked at).

    Raises `UserError` when the page is not a track list we can read, is the list of another playlist or
    album than the one asked for (a cache or redirect mix-up must not add the wrong songs), or lists no
    song we can add (an empty success would hide why nothing happened).
    """
    entity = _entity(page, kind)
    uri = entity.get("uri")
    if isinstance(uri, str) and uri and uri != f"spotify:{kind}:{collection_id}":
        raise UserError(f"Spotify answered with another list than the {kind} asked for ({_CHANGED})")
    declared = entity.get("type")
    if isinstance(declared, str) and declared.lower() in _KINDS and declared.lower() != kind:
        raise UserError(f"that Spotify link is a {declared.lower()}, not a {kind} ({_CHANGED})")
    items, total = _items_and_total(entity, kind)
    name = entity.get("name") or entity.get("title")
    title = name.strip()[:_MAX_TEXT] if isinstance(name, str) and name.strip() else f"Spotify {kind} {collection_id}"
    tracks: dict[str, LinkInfo] = {}
    skipped: list[str] = []
    left_out = 0
    for index, item in enumerate(items, start=1):
        if len(tracks) >= limit:
            break
        info = _entry_info(item, title if kind == "album" else None)
        if isinstance(info, str):
            left_out += 1
            if len(skipped) < _MAX_REASONS:
                skipped.append(f"{_label(item, index)}: {info}")
            continue
        tracks.setdefault(info.external_id, info)
    if not tracks:  # nothing to add: say why rather than report an empty success
        if not items:
            raise UserError(f"that Spotify {kind} is empty")
        why = f" ({skipped[0]})" if left_out == 1 else f" (first: {skipped[0]})"
        raise UserError(f"none of the {len(items)} entries of that Spotify {kind} is a song I can add{why}")
    if left_out > len(skipped):
        skipped.append(f"and {left_out - len(skipped)} more entries without a usable track")
    if total is not None and total > len(items) and len(tracks) < limit:
        skipped.append(f"Spotify's page lists only the first {len(items)} of the {total} tracks")
    return SpotifyList(title, list(tracks.values()), max(total or 0, len(items)), skipped)


class SpotifyCollections:
    """Spotify's embed pages through the guarded client (the root is the `spotify_open_url` setting)."""

    def __init__(self, settings: Settings, client: GuardedClient) -> None:
        self.settings = settings
        self.client = client

    async def collection(self, kind: str, collection_id: str, limit: int) -> SpotifyList:
        """The tracks of a Spotify playlist or album (at most `limit`, each once), from its embed page."""
        url = f"{self.settings.spotify_open_url.rstrip('/')}/embed/{kind}/{collection_id}"
        try:
            page = await self.client.get_text(url)
        except NetError as exc:
            if getattr(exc, "status", None) in (400, 404):
                raise UserError(f"Spotify has no {kind} {collection_id} (or it is private)") from exc
            raise
        return parse_embed_page(page, kind, collection_id, limit)
