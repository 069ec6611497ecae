"""Deezer links: a track's metadata and 30-second preview from Deezer's public API, a same-song search, and
the tracks of a playlist or album (`collection`, for `/add <playlist link>`).

The search is what gives a Spotify link (which has no audio) something to analyse: the preview of exactly
the same artist + title on Deezer.  Preview URLs are signed and expire, so they are asked for again at
every download rather than stored.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.errors import BadLink, NetError
from moodtape.core.links.info import SUPPORTED, LinkInfo

__all__ = ["DEEZER_HOSTS", "DEEZER_SHORT_HOSTS", "Deezer", "deezer_collection", "deezer_track_id"]

DEEZER_HOSTS = frozenset({"deezer.com", "www.deezer.com"})
DEEZER_SHORT_HOSTS = frozenset({"deezer.page.link", "link.deezer.com", "dzr.page.link"})
_DEEZER_PATH = re.compile(r"^/(?:[a-z]{2}(?:-[a-z]{2})?/)?(track|album|playlist|artist|episode|show)/(\d+)", re.I)
#: Deezer API error codes that pass: quota exceeded, service busy.
_TRANSIENT_CODES = (4, 700)
_NO_SUCH_TRACK = 800


def deezer_track_id(url: httpx.URL) -> int:
    """The track id of a deezer.com link; other Deezer pages are refused (playlists and albums are expanded
    into their tracks before this, by `LinkService.expand`)."""
    match = _DEEZER_PATH.match(url.path)
    if not match:
        raise BadLink(f"that Deezer link is not a track link; send {SUPPORTED}")
    if match.group(1).lower() != "track":
        raise BadLink(f"that is a Deezer {match.group(1).lower()}: send a link to one track")
    return int(match.group(2))


def deezer_collection(url: httpx.URL) -> tuple[str, int] | None:
    """("playlist" | "album", id) for a deezer.com playlist or album link; None for anything else."""
    match = _DEEZER_PATH.match(url.path)
    if match and match.group(1).lower() in ("playlist", "album"):
        return match.group(1).lower(), int(match.group(2))
    return None


#: Tracks asked for per page of a playlist or album (Deezer's own maximum is larger; 100 keeps pages small).
_PAGE = 100


class Deezer:
    """Deezer's public API through the guarded client (its root is the `deezer_api_url` setting)."""

    def __init__(self, settings: Settings, client: GuardedClient) -> None:
        self.settings = settings
        self.client = client

    @property
    def api(self) -> str:
        return self.settings.deezer_api_url.rstrip("/")

    async def resolve(self, track_id: int) -> LinkInfo:
        return self._info(await self._track_json(track_id))

    async def preview(self, track_id: int, folder: Path) -> Path:
        """The track's 30-second preview, downloaded into `folder`."""
        data = await self._track_json(track_id)  # preview URLs are signed and expire: always ask again
        preview = data.get("preview")
        if not preview:
            raise UserError("Deezer offers no preview of this track, so it cannot be analysed")
        return (await self.client.download_audio(preview, folder)).path

    async def same_song(self, info: LinkInfo) -> LinkInfo | None:
        """A Deezer track with a preview and exactly the same artist + title as `info` (best effort)."""
        if not info.artist:
            return None
        query = f'artist:"{info.artist}" track:"{info.title}"'
        try:
            data = await self.client.get_json(f"{self.api}/search?q={quote(query)}&limit=10")
        except NetError:
            return None
        for item in (data.get("data") or []) if isinstance(data, dict) else []:
            if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
                continue
            candidate = self._info(item)
            if candidate.match_key == info.match_key and candidate.has_audio:
                return replace(candidate, note=f"{info.service} offers no audio, so the 30-second preview "
                                               "of the same song on Deezer is analysed")
        return None

    async def collection(self, kind: str, collection_id: int, limit: int) -> tuple[str, list[LinkInfo], int]:
        """(title, the first `limit` distinct tracks, how many the playlist or album holds) of a Deezer
        playlist or album, read page by page from the API (never following the `next` links it returns:
        every request goes to the configured API root).  Entries without an id or title are left out."""
        about = await self._json(f"{self.api}/{kind}/{collection_id}", f"{kind} {collection_id}")
        title = str(about.get("title") or f"Deezer {kind} {collection_id}")
        album = title if kind == "album" else None
        tracks: dict[int, LinkInfo] = {}
        total = about.get("nb_tracks") if isinstance(about.get("nb_tracks"), int) else None
        index = 0
        while len(tracks) < limit:
            page = await self._json(f"{self.api}/{kind}/{collection_id}/tracks?index={index}&limit={_PAGE}",
                                    f"{kind} {collection_id}")
            items = page.get("data") if isinstance(page.get("data"), list) else []
            if isinstance(page.get("total"), int):
                total = page["total"]
            for item in items:
                if len(tracks) >= limit:
                    break
                if isinstance(item, dict) and isinstance(item.get("id"), int) and item.get("title"):
                    if album and not item.get("album"):  # an album's track list leaves its own album out
                        item = {**item, "album": {"title": album}}
                    try:
                        tracks.setdefault(item["id"], self._info(item))
                    except (TypeError, ValueError, AttributeError):  # a malformed entry: left out, not fatal
                        continue
            index += len(items)
            if not items or (total is not None and index >= total):
                break
        return title, list(tracks.values()), total if total is not None else len(tracks)

    async def _track_json(self, track_id: int) -> dict[str, Any]:
        data = await self._json(f"{self.api}/track/{track_id}", f"track {track_id}")
        if not data.get("title"):
            raise UserError("Deezer answered without a title for this track")
        return data

    async def _json(self, url: str, what: str) -> dict[str, Any]:
        data = await self.client.get_json(url)
        if not isinstance(data, dict):
            raise UserError("Deezer answered with something unexpected")
        error = data.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            if code == _NO_SUCH_TRACK:
                raise UserError(f"Deezer has no {what}")
            detail = error.get("message") if isinstance(error, dict) else error
            raise NetError(f"Deezer refused the request: {detail}", transient=code in _TRANSIENT_CODES)
        return data

    @staticmethod
    def _info(data: dict[str, Any]) -> LinkInfo:
        track_id = int(data["id"])
        preview = data.get("preview") or None
        artist = (data.get("artist") or {}).get("name") or None
        album = (data.get("album") or {}).get("title") or None
        duration = data.get("duration")
        return LinkInfo(
            service="Deezer", kind="deezer", url=f"https://www.deezer.com/track/{track_id}",
            external_id=f"deezer:{track_id}", title=str(data["title"]), artist=artist, album=album,
            duration_s=float(duration) if isinstance(duration, (int, float)) and duration > 0 else None,
            has_audio=bool(preview),
            note=None if preview else "Deezer offers no preview of this track, so it cannot be analysed",
        )
