"""Spotify track links: metadata only, because Spotify no longer offers any audio to analyse.

The title comes from Spotify's oEmbed API; artist and album from the track page's meta tags (best effort:
oEmbed has the title only).  `LinkService` then looks for the same song in the catalogue or on Deezer.
Spotify playlist and album links are read from Spotify's embed page by `links.spotify_collections`.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx

from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.errors import BadLink, NetError
from moodtape.core.links.info import SUPPORTED, LinkInfo

__all__ = [
    "SPOTIFY_HOSTS", "SPOTIFY_SHORT_HOSTS", "Spotify", "spotify_track_id", "spotify_uri_link",
    "spotify_page_artist_album", "spotify_kind_and_id",
]

SPOTIFY_HOSTS = frozenset({"open.spotify.com", "play.spotify.com"})
SPOTIFY_SHORT_HOSTS = frozenset({"spotify.link", "spotify.app.link"})
_SPOTIFY_PATH = re.compile(r"^/(?:intl-[a-z-]+/)?(track|album|playlist|artist|episode|show)/([A-Za-z0-9]{22})\b")
_SPOTIFY_URI = re.compile(r"^spotify:(track|album|playlist|artist|episode|show):([A-Za-z0-9]{22})$")
_META = re.compile(r"<meta\s+[^>]*?(?:property|name)\s*=\s*\"([^\"]+)\"[^>]*?content\s*=\s*\"([^\"]*)\"", re.I)


def spotify_uri_link(text: str) -> httpx.URL | None:
    """The open.spotify.com link a `spotify:track:...` URI (as the desktop app copies it) stands for."""
    uri = _SPOTIFY_URI.match(text)
    return httpx.URL(f"https://open.spotify.com/{uri.group(1)}/{uri.group(2)}") if uri else None


def spotify_kind_and_id(url: httpx.URL) -> tuple[str, str] | None:
    """("track" | "album" | "playlist" | ..., id) of an open.spotify.com link; None for any other page."""
    match = _SPOTIFY_PATH.match(url.path)
    return (match.group(1), match.group(2)) if match else None


def spotify_track_id(url: httpx.URL) -> str:
    """The track id of an open.spotify.com link; albums, playlists and the like are refused."""
    match = _SPOTIFY_PATH.match(url.path)
    if not match:
        raise BadLink(f"that Spotify link is not a track link; send {SUPPORTED}")
    if match.group(1) != "track":
        raise BadLink(f"that is a Spotify {match.group(1)}: send a link to one track")
    return match.group(2)


def spotify_page_artist_album(page: str) -> tuple[str | None, str | None]:
    """Artist and album from a Spotify track page's meta tags, tolerant of the formats seen over time:
    `music:musician_description`, og:description "Artist · Album · Song · 2001" or "Artist · Song · 2001",
    and the title "Song - song and lyrics by Artist | Spotify"."""
    meta = {key.lower(): html.unescape(value).strip() for key, value in _META.findall(page)}
    artist = meta.get("music:musician_description") or None
    parts = [p.strip() for p in meta.get("og:description", "").split("·")]
    parts = [p for p in parts if p and p.lower() not in ("song", "single", "ep") and not re.fullmatch(r"\d{4}", p)]
    album = parts[1] if len(parts) >= 2 and "·" in meta.get("og:description", "") else None
    if not artist and parts and "·" in meta.get("og:description", ""):
        artist = parts[0]
    if not artist:
        title = re.search(r"<title>[^<]*?\bby (.+?) \| Spotify</title>", page, re.I)
        artist = html.unescape(title.group(1)).strip() if title else None
    return artist or None, album or None


class Spotify:
    """Spotify's oEmbed API and track pages through the guarded client (roots from the settings)."""

    def __init__(self, settings: Settings, client: GuardedClient) -> None:
        self.settings = settings
        self.client = client

    async def resolve(self, track_id: str) -> LinkInfo:
        canonical = f"https://open.spotify.com/track/{track_id}"
        oembed = f"{self.settings.spotify_oembed_url}?url={quote(canonical, safe='')}"
        try:
            data = await self.client.get_json(oembed)
        except NetError as exc:
            if getattr(exc, "status", None) in (400, 404):
                raise UserError("Spotify does not know that track") from exc
            raise
        title = data.get("title") if isinstance(data, dict) else None
        if not title:
            raise UserError("Spotify answered without a title for this track")
        artist, album = await self._page_artist_album(track_id)
        return LinkInfo(
            service="Spotify", kind="spotify", url=canonical, external_id=f"spotify:track:{track_id}",
            title=html.unescape(str(title)), artist=artist, album=album, has_audio=False,
            note="Spotify offers no audio to analyse",
        )

    async def _page_artist_album(self, track_id: str) -> tuple[str | None, str | None]:
        """Artist and album from the track page's meta tags; best effort (oEmbed has the title only)."""
        try:
            page = await self.client.get_text(f"{self.settings.spotify_open_url.rstrip('/')}/track/{track_id}")
        except NetError:
            return None, None
        return spotify_page_artist_album(page)
