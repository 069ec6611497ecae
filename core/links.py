"""A shared link -> track metadata, and the audio to embed where the service offers one.

Supported: direct links to audio files; Deezer track links (and deezer.page.link / link.deezer.com short
links), whose public API gives metadata and a 30-second preview; Spotify track links, whose oEmbed answer and
page data give metadata but no audio any more (so the track is matched to a catalogue track or a Deezer
preview by artist + title, or kept metadata-only); and YouTube, SoundCloud, Bandcamp and the other sites
yt-dlp knows (core/ytdlp.py).  Every fetch goes through `core.net.GuardedClient`.

Audio is only ever kept as long as embedding needs it: it is downloaded into a temporary folder when a
track is embedded (again at each re-embedding; preview URLs expire anyway) and the folder is deleted right
after, as the services' terms expect.  The catalogue keeps the link, not the audio.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx

from core.audio.decode import AudioError
from core.audio.tags import read_tags
from core.config import Settings
from core.embedding import TransientError, open_file_source
from core.errors import UserError
from core.net import BadLink, GuardedClient, NetError, NotAudio, describe_content
from core.text import match_key, split_artist_title
from core.ytdlp import YtDlpFactory, YtDlpSource, extractor_for
from db.models import NewTrack, Track
from db.store import Store

DEEZER_HOSTS = frozenset({"deezer.com", "www.deezer.com"})
DEEZER_SHORT_HOSTS = frozenset({"deezer.page.link", "link.deezer.com", "dzr.page.link"})
SPOTIFY_HOSTS = frozenset({"open.spotify.com", "play.spotify.com"})
SPOTIFY_SHORT_HOSTS = frozenset({"spotify.link", "spotify.app.link"})
_DEEZER_PATH = re.compile(r"^/(?:[a-z]{2}(?:-[a-z]{2})?/)?(track|album|playlist|artist|episode|show)/(\d+)", re.I)
_SPOTIFY_PATH = re.compile(r"^/(?:intl-[a-z-]+/)?(track|album|playlist|artist|episode|show)/([A-Za-z0-9]{22})\b")
_SPOTIFY_URI = re.compile(r"^spotify:(track|album|playlist|artist|episode|show):([A-Za-z0-9]{22})$")
_META = re.compile(r"<meta\s+[^>]*?(?:property|name)\s*=\s*\"([^\"]+)\"[^>]*?content\s*=\s*\"([^\"]*)\"", re.I)
SUPPORTED = "a link to a track on Deezer, Spotify, YouTube, SoundCloud or Bandcamp, or straight to an audio file"


@dataclass(frozen=True)
class LinkInfo:
    """What a link is: enough for a catalogue row and for fetching the audio again later."""

    service: str  # "Deezer", "Spotify", "YouTube", ..., "the web" (a direct audio link)
    kind: str  # "direct" | "deezer" | "spotify" | "ytdlp"
    url: str  # the canonical link, kept as the track's source
    external_id: str
    title: str
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None
    has_audio: bool = True
    note: str | None = None

    @property
    def label(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title

    @property
    def match_key(self) -> str:
        return match_key(self.artist, self.title)

    def new_track(self, added_by: str | None) -> NewTrack:
        return NewTrack(
            title=self.title, artist=self.artist, album=self.album, duration_s=self.duration_s,
            source_kind="url", source=self.url, external_id=self.external_id, match_key=self.match_key,
            added_by=added_by, status="pending" if self.has_audio else "metadata_only",
            error=None if self.has_audio else self.note,
        )


@dataclass(frozen=True)
class LinkAddResult:
    """The answer to `/add <link>`: which track, in which state, and a sentence for the user."""

    track_id: int
    title: str
    artist: str | None
    status: str
    created: bool
    service: str
    source: str | None
    message: str

    @property
    def label(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title

    def to_json(self) -> dict[str, Any]:
        return {"id": self.track_id, "title": self.title, "artist": self.artist, "status": self.status,
                "created": self.created, "service": self.service, "source": self.source, "message": self.message}


def looks_like_link(text: str) -> bool:
    """Does the user mean a link (not a file path or a title)?  http(s):// or a spotify: URI, one word."""
    value = text.strip()
    if not value or any(ch.isspace() for ch in value):
        return False
    lowered = value.lower()
    return lowered.startswith(("http://", "https://")) or bool(_SPOTIFY_URI.match(value))


def _host(url: httpx.URL) -> str:
    return (url.host or "").lower().rstrip(".")


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


def _title_from_name(name: str) -> tuple[str | None, str]:
    stem = Path(unquote(name)).stem.replace("_", " ").strip() or "untitled"
    return split_artist_title(stem)


class LinkService:
    """Resolves links, adds them to a store, and opens their audio for embedding.

    One instance per engine; it owns the guarded HTTP client.  `client` and `ytdlp_factory` are there for
    tests (a stub resolver, a fake yt-dlp) and for callers that share one client.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client: GuardedClient | None = None,
        ytdlp_factory: YtDlpFactory | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or GuardedClient(settings)
        self.ytdlp = YtDlpSource(settings, self.client, ytdlp_factory)

    async def aclose(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ classification
    def parse(self, link: str) -> httpx.URL:
        text = link.strip()
        uri = _SPOTIFY_URI.match(text)
        if uri:
            return httpx.URL(f"https://open.spotify.com/{uri.group(1)}/{uri.group(2)}")
        if not looks_like_link(text):
            raise BadLink(f"that is not a link I can use; send {SUPPORTED}")
        return self.client.parse(text)

    async def resolve(self, link: str) -> LinkInfo:
        """Metadata of the track behind `link` (network: the service's API, a probe of the file, yt-dlp)."""
        url = self.parse(link)
        host = _host(url)
        if host in DEEZER_SHORT_HOSTS or host in SPOTIFY_SHORT_HOSTS:
            url = await self._follow_short_link(url)
            host = _host(url)
        if host in DEEZER_HOSTS:
            return await self._deezer(self._deezer_id(url))
        if host in SPOTIFY_HOSTS:
            return await self._spotify(self._spotify_id(url))
        if extractor_for(str(url)) is not None:
            return await self._ytdlp(str(url))
        return await self._direct(url)

    async def _follow_short_link(self, url: httpx.URL) -> httpx.URL:
        final = await self.client.final_url(url, stop_at=lambda u: _host(u) in DEEZER_HOSTS | SPOTIFY_HOSTS)
        target = httpx.URL(final)
        if _host(target) not in DEEZER_HOSTS | SPOTIFY_HOSTS:
            raise BadLink("that short link does not lead to a Deezer or Spotify track")
        return target

    @staticmethod
    def _deezer_id(url: httpx.URL) -> int:
        match = _DEEZER_PATH.match(url.path)
        if not match:
            raise BadLink(f"that Deezer link is not a track link; send {SUPPORTED}")
        if match.group(1).lower() != "track":
            raise BadLink(f"that is a Deezer {match.group(1).lower()}: send a link to one track")
        return int(match.group(2))

    @staticmethod
    def _spotify_id(url: httpx.URL) -> str:
        match = _SPOTIFY_PATH.match(url.path)
        if not match:
            raise BadLink(f"that Spotify link is not a track link; send {SUPPORTED}")
        if match.group(1) != "track":
            raise BadLink(f"that is a Spotify {match.group(1)}: send a link to one track")
        return match.group(2)

    # ------------------------------------------------------------------ services
    async def _deezer_json(self, track_id: int) -> dict[str, Any]:
        data = await self.client.get_json(f"{self.settings.deezer_api_url.rstrip('/')}/track/{track_id}")
        if not isinstance(data, dict):
            raise UserError("Deezer answered with something unexpected")
        error = data.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            if code == 800:
                raise UserError(f"Deezer has no track {track_id}")
            detail = error.get("message") if isinstance(error, dict) else error
            failure = NetError(f"Deezer refused the request: {detail}")
            failure.transient = code in (4, 700)  # quota exceeded, service busy
            raise failure
        if not data.get("title"):
            raise UserError("Deezer answered without a title for this track")
        return data

    def _deezer_info(self, data: dict[str, Any]) -> LinkInfo:
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

    async def _deezer(self, track_id: int) -> LinkInfo:
        return self._deezer_info(await self._deezer_json(track_id))

    async def _spotify(self, track_id: str) -> LinkInfo:
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
        artist, album = await self._spotify_page(track_id)
        return LinkInfo(
            service="Spotify", kind="spotify", url=canonical, external_id=f"spotify:track:{track_id}",
            title=html.unescape(str(title)), artist=artist, album=album, has_audio=False,
            note="Spotify offers no audio to analyse",
        )

    async def _spotify_page(self, track_id: str) -> tuple[str | None, str | None]:
        """Artist and album from the track page's meta tags; best effort (oEmbed has the title only)."""
        try:
            page = await self.client.get_text(f"{self.settings.spotify_open_url.rstrip('/')}/track/{track_id}")
        except NetError:
            return None, None
        return spotify_page_artist_album(page)

    async def _ytdlp(self, url: str) -> LinkInfo:
        from core.ytdlp import metadata

        info = await self.ytdlp.info(url)
        meta = metadata(info, url)
        return LinkInfo(service=meta["service"], kind="ytdlp", url=meta["url"], external_id=meta["external_id"],
                        title=meta["title"], artist=meta["artist"], album=meta["album"],
                        duration_s=meta["duration_s"])

    async def _direct(self, url: httpx.URL) -> LinkInfo:
        probe = await self.client.probe_audio(url)
        if probe.container is None:
            raise NotAudio(f"that link gives {describe_content(probe.head[:64], probe.content_type)}, not audio; "
                           f"send {SUPPORTED}")
        name = probe.filename or Path(unquote(httpx.URL(probe.url).path)).name or "audio"
        if not Path(name).suffix:
            name += f".{probe.container}"
        artist, title = _title_from_name(name)
        album = duration = None
        # Tags sit at the start of most files (ID3v2, FLAC and Vorbis comments): read them from the probe.
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="moodtape-probe-"))
        try:
            head_file = folder / re.sub(r"[^\w.\- ]", "_", name)[:120]
            await asyncio.to_thread(head_file.write_bytes, probe.head)
            tags = await asyncio.to_thread(read_tags, head_file)
            if tags.title and tags.title != head_file.stem.replace("_", " "):
                title, artist, album = tags.title, tags.artist or artist, tags.album
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        canonical = str(url.copy_with(fragment=None))
        return LinkInfo(service="the web", kind="direct", url=canonical, external_id=f"url:{canonical}",
                        title=title, artist=artist, album=album, duration_s=duration)

    async def alternative(self, info: LinkInfo) -> LinkInfo | None:
        """A Deezer track with exactly the same artist + title (for links without audio: Spotify)."""
        if not info.artist:
            return None
        query = f'artist:"{info.artist}" track:"{info.title}"'
        url = f"{self.settings.deezer_api_url.rstrip('/')}/search?q={quote(query)}&limit=10"
        try:
            data = await self.client.get_json(url)
        except NetError:
            return None
        for item in (data.get("data") or []) if isinstance(data, dict) else []:
            if not isinstance(item, dict) or not item.get("id") or not item.get("title"):
                continue
            candidate = self._deezer_info(item)
            if candidate.match_key == info.match_key and candidate.has_audio:
                return replace(candidate, note=f"{info.service} offers no audio, so the 30-second preview "
                                               "of the same song on Deezer is analysed")
        return None

    # ------------------------------------------------------------------ catalogue
    async def same_song(self, store: Store, info: LinkInfo) -> Track | None:
        """A catalogue track with audio (ready or pending) and the same artist + title, if any."""
        if not info.artist:
            return None  # a title alone is too weak to call two recordings the same
        found = await store.find_by_match_key([info.match_key])
        if info.match_key not in found:
            return None
        track = await store.get_track(found[info.match_key])
        return track if track is not None and track.status in ("ready", "pending") else None

    async def find_known(self, store: Store, info: LinkInfo) -> Track | None:
        """The catalogue track this link is (same external id) or, failing that, the same song with audio."""
        return await store.find_by_external_id(info.external_id) or await self.same_song(store, info)

    async def add(self, store: Store, link: str, *, added_by: str | None = None) -> LinkAddResult:
        """Record the link's track at once: pending (the scheduler embeds it), or metadata-only.

        Re-adding a known link changes nothing (or retries it, if it had failed); a song already in the
        catalogue from another source is not added twice; a link without audio (Spotify) is matched to the
        same song in the catalogue or on Deezer before it is kept as metadata-only.
        """
        info = await self.resolve(link)
        same = await store.find_by_external_id(info.external_id)
        if same is not None and same.status == "failed" and info.has_audio:
            await store.set_status(same.id, "pending", None)
            await store.enqueue_job("embed")
            retried = await store.get_track(same.id)
            assert retried is not None
            return self._result(retried, False, info, f"\"{same.label}\" had failed ({same.error}); "
                                                      "trying again")
        if same is not None and (info.has_audio or same.status in ("ready", "pending")):
            return self._result(same, False, info, self._known_message(same, info))
        song = await self.same_song(store, info)
        if song is not None:
            return self._result(song, False, info, self._known_message(song, info))
        note = info.note
        if not info.has_audio:
            alternative = await self.alternative(info)
            if alternative is not None:
                already = await store.find_by_external_id(alternative.external_id)
                if already is not None:
                    return self._result(already, False, alternative, self._known_message(already, alternative))
                info, note = alternative, alternative.note
            elif same is not None:
                return self._result(same, False, info, self._known_message(same, info))
        track_id, created = await store.add_track(info.new_track(added_by))
        track = await store.get_track(track_id)
        assert track is not None
        if not created:
            return self._result(track, False, info, self._known_message(track, info))
        if track.status == "pending":
            await store.enqueue_job("embed")
            message = f"added \"{track.label}\" from {info.service}; it will be recommendable once it is analysed"
            if note:
                message += f" ({note})"
        else:
            message = (f"added \"{track.label}\" as metadata only: {note or 'there is no audio to analyse'}; "
                       "add the song from a file or a Deezer, YouTube, SoundCloud or Bandcamp link to "
                       "make it recommendable by sound")
        return self._result(track, True, info, message)

    @staticmethod
    def _known_message(track: Track, info: LinkInfo) -> str:
        state = {"ready": "ready", "pending": "waiting to be analysed", "failed": f"failed: {track.error}",
                 "metadata_only": "metadata only"}.get(track.status, track.status)
        prefix = f"{info.note}; " if info.note and track.external_id != info.external_id else ""
        return f"{prefix}\"{track.label}\" is already in the catalogue as #{track.id} ({state})"

    @staticmethod
    def _result(track: Track, created: bool, info: LinkInfo, message: str) -> LinkAddResult:
        return LinkAddResult(track_id=track.id, title=track.title, artist=track.artist, status=track.status,
                             created=created, service=info.service, source=track.source, message=message)

    # ------------------------------------------------------------------ audio
    @asynccontextmanager
    async def audio(self, info_or_url: LinkInfo | str) -> AsyncIterator[Path]:
        """The link's audio in a temporary folder that is deleted when the block ends (whatever happens)."""
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="moodtape-link-"))
        try:
            yield await self._fetch(info_or_url, folder)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _fetch(self, info_or_url: LinkInfo | str, folder: Path) -> Path:
        if isinstance(info_or_url, str):
            url = self.parse(info_or_url)
            host = _host(url)
            if host in DEEZER_HOSTS:
                return await self._deezer_preview(self._deezer_id(url), folder)
            if host in SPOTIFY_HOSTS or host in DEEZER_SHORT_HOSTS or host in SPOTIFY_SHORT_HOSTS:
                info = await self.resolve(str(url))
            elif extractor_for(str(url)) is not None:
                return await self.ytdlp.download(str(url), folder)
            else:
                return (await self.client.download_audio(url, folder)).path
        else:
            info = info_or_url
        if info.kind == "deezer":
            return await self._deezer_preview(int(info.external_id.split(":", 1)[1]), folder)
        if info.kind == "ytdlp":
            return await self.ytdlp.download(info.url, folder)
        if info.kind == "direct":
            return (await self.client.download_audio(info.url, folder)).path
        raise UserError(f"{info.label}: {info.note or 'there is no audio to analyse'}")

    async def _deezer_preview(self, track_id: int, folder: Path) -> Path:
        data = await self._deezer_json(track_id)  # preview URLs are signed and expire: always ask again
        preview = data.get("preview")
        if not preview:
            raise UserError("Deezer offers no preview of this track, so it cannot be analysed")
        return (await self.client.download_audio(preview, folder)).path

    @asynccontextmanager
    async def open_track(self, track: Track) -> AsyncIterator[Path]:
        """The audio of a catalogue track, for `core.embedding.embed_tracks`.

        Files are used in place; links are downloaded into a temporary folder deleted after embedding.
        Network trouble that may pass becomes `TransientError` (retried with backoff by the caller); any
        other refusal (not audio, too big, gone) becomes `AudioError` and fails the track with the reason.
        """
        if track.source_kind != "url":
            async with open_file_source(track) as path:
                yield path
            return
        if not track.source:
            raise AudioError("no link to download the audio from")
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="moodtape-link-"))
        try:
            try:
                path = await self._fetch(track.source, folder)
            except NetError as exc:
                if exc.transient:
                    raise TransientError(str(exc)) from exc
                raise AudioError(str(exc)) from exc
            except UserError as exc:
                raise AudioError(str(exc)) from exc
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
