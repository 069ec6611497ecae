"""A shared link -> track metadata, and the audio to embed where the service offers one.

`LinkService` is the one door: it recognises which provider a link belongs to and dispatches to it, adds the
track to the catalogue, and opens its audio for embedding.  The providers, one module each:

* `links.deezer`: Deezer track links (and deezer.page.link / link.deezer.com short links), whose public
  API gives metadata and a 30-second preview; Deezer playlist and album links are expanded into their tracks
  (`expand`, capped), each then added like a track link;
* `links.spotify`: Spotify track links, whose oEmbed answer and page data give metadata but no audio any
  more (so the track is matched to a catalogue track or a Deezer preview by artist + title, or kept
  metadata-only); `links.spotify_collections` reads Spotify playlists and albums from their embed page
  (unofficial), and each listed track is then matched the same way;
* `links.ytdlp`: YouTube, SoundCloud, Bandcamp and the other sites yt-dlp knows;
* `links.direct`: direct links to audio files.

Every fetch goes through `links.client.GuardedClient`.  Audio is only ever kept as long as embedding needs
it: it is downloaded into a temporary folder when a track is embedded (again at each re-embedding; preview
URLs expire anyway) and the folder is deleted right after, as the services' terms expect.  The catalogue
keeps the link, not the audio.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from moodtape.core.audio.decode import AudioError
from moodtape.core.audio.sources import open_file_source
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.deezer import (
    DEEZER_HOSTS,
    DEEZER_SHORT_HOSTS,
    Deezer,
    deezer_collection,
    deezer_track_id,
)
from moodtape.core.links.direct import DirectLinks
from moodtape.core.links.errors import BadLink, NetError
from moodtape.core.links.info import SUPPORTED, LinkInfo, host_name
from moodtape.core.links.spotify import (
    SPOTIFY_HOSTS,
    SPOTIFY_SHORT_HOSTS,
    Spotify,
    spotify_track_id,
    spotify_uri_link,
)
from moodtape.core.links.spotify_collections import SpotifyCollections, spotify_collection
from moodtape.core.links.ytdlp import YtDlpFactory, YtDlpSource, extractor_for
from moodtape.db.models import Track
from moodtape.db.store import Store

__all__ = ["LinkService", "LinkInfo", "LinkAddResult", "looks_like_link", "SUPPORTED"]

_SERVICE_HOSTS = DEEZER_HOSTS | SPOTIFY_HOSTS
_SHORT_HOSTS = DEEZER_SHORT_HOSTS | SPOTIFY_SHORT_HOSTS


def _youtube_playlist(url: httpx.URL) -> bool:
    """A youtube.com/playlist?list=... page (a watch link with &list= stays one video: `noplaylist`)."""
    host = host_name(url)
    return (host in ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com")
            and url.path.rstrip("/") == "/playlist" and bool(url.params.get("list")))


@dataclass(frozen=True)
class LinkCollection:
    """A playlist or album link's tracks, as far as the cap allowed (`total` is how many it holds)."""

    service: str
    kind: str  # "playlist" | "album"
    title: str
    tracks: list[LinkInfo]  # entries whose metadata came with the list (Deezer, Spotify)
    total: int
    links: list[str] = field(default_factory=list)  # entries known only by their link (YouTube)
    skipped: list[str] = field(default_factory=list)  # entries left out, each with why (Spotify)

    @property
    def size(self) -> int:
        """Entries that will be added (within the cap)."""
        return len(self.tracks) + len(self.links)

    @property
    def capped(self) -> bool:
        return self.total > self.size


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
    return value.lower().startswith(("http://", "https://")) or spotify_uri_link(value) is not None


class LinkService:
    """Resolves links, adds them to a store, and opens their audio for embedding.

    One instance per engine; it owns the guarded HTTP client that every provider shares.  `client` and
    `ytdlp_factory` are there for tests (a stub resolver, a fake yt-dlp) and for callers that share one client.
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
        self.deezer = Deezer(settings, self.client)
        self.spotify = Spotify(settings, self.client)
        self.spotify_lists = SpotifyCollections(settings, self.client)
        self.ytdlp = YtDlpSource(settings, self.client, ytdlp_factory)
        self.direct = DirectLinks(self.client)

    async def aclose(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ classification
    def parse(self, link: str) -> httpx.URL:
        text = link.strip()
        uri = spotify_uri_link(text)
        if uri is not None:
            return uri
        if not looks_like_link(text):
            raise BadLink(f"that is not a link I can use; send {SUPPORTED}")
        return self.client.parse(text)

    async def _service_url(self, link: str) -> httpx.URL:
        """The link parsed, short links (deezer.page.link, spotify.link) followed to the service's page."""
        url = self.parse(link)
        if host_name(url) in _SHORT_HOSTS:
            url = await self._follow_short_link(url)
        return url

    async def expand(self, link: str, limit: int) -> LinkCollection | None:
        """The tracks of a playlist or album link (at most `limit`, de-duplicated); None for a one-song link.

        Deezer playlists and albums (their API gives every track's metadata), Spotify playlists and albums
        (their embed page lists each track's metadata; each is then matched like a Spotify track link) and
        YouTube playlists (one flat yt-dlp extraction; each video is then resolved like a link of its own)
        are expanded.
        """
        url = await self._service_url(link)
        if host_name(url) in DEEZER_HOSTS:
            found = deezer_collection(url)
            if found is not None:
                title, tracks, total = await self.deezer.collection(found[0], found[1], limit)
                return LinkCollection("Deezer", found[0], title, tracks, total)
        if host_name(url) in SPOTIFY_HOSTS:
            spotify = spotify_collection(url)
            if spotify is not None:
                listed = await self.spotify_lists.collection(spotify[0], spotify[1], limit)
                return LinkCollection("Spotify", spotify[0], listed.title, listed.tracks, listed.total,
                                      skipped=listed.skipped)
        if _youtube_playlist(url):
            title, links, total = await self.ytdlp.playlist(str(url), limit)
            return LinkCollection("YouTube", "playlist", title, [], total, links=links)
        return None

    async def resolve(self, link: str) -> LinkInfo:
        """Metadata of the track behind `link` (network: the service's API, a probe of the file, yt-dlp)."""
        url = await self._service_url(link)
        host = host_name(url)
        if host in DEEZER_HOSTS:
            return await self.deezer.resolve(deezer_track_id(url))
        if host in SPOTIFY_HOSTS:
            return await self.spotify.resolve(spotify_track_id(url))
        if extractor_for(str(url)) is not None:
            return await self.ytdlp.resolve(str(url))
        return await self.direct.resolve(url)

    async def _follow_short_link(self, url: httpx.URL) -> httpx.URL:
        final = await self.client.final_url(url, stop_at=lambda u: host_name(u) in _SERVICE_HOSTS)
        target = httpx.URL(final)
        if host_name(target) not in _SERVICE_HOSTS:
            raise BadLink("that short link does not lead to a Deezer or Spotify track")
        return target

    async def alternative(self, info: LinkInfo) -> LinkInfo | None:
        """A Deezer track with exactly the same artist + title (for links without audio: Spotify)."""
        return await self.deezer.same_song(info)

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
        return await self.add_info(store, await self.resolve(link), added_by=added_by)

    async def add_info(self, store: Store, info: LinkInfo, *, added_by: str | None = None) -> LinkAddResult:
        """`add` for a track whose metadata is known already (one entry of an expanded playlist)."""
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
            host = host_name(url)
            if host in DEEZER_HOSTS:
                return await self.deezer.preview(deezer_track_id(url), folder)
            if host in SPOTIFY_HOSTS or host in _SHORT_HOSTS:
                info = await self.resolve(str(url))
            elif extractor_for(str(url)) is not None:
                return await self.ytdlp.download(str(url), folder)
            else:
                return await self.direct.download(url, folder)
        else:
            info = info_or_url
        if info.kind == "deezer":
            return await self.deezer.preview(int(info.external_id.split(":", 1)[1]), folder)
        if info.kind == "ytdlp":
            return await self.ytdlp.download(info.url, folder)
        if info.kind == "direct":
            return await self.direct.download(info.url, folder)
        raise UserError(f"{info.label}: {info.note or 'there is no audio to analyse'}")

    @asynccontextmanager
    async def open_track(self, track: Track) -> AsyncIterator[Path]:
        """The audio of a catalogue track, for `pipeline.embedding.embed_tracks`.

        Files are used in place; links are downloaded into a temporary folder deleted after embedding.
        Network trouble that may pass stays a transient `NetError` (retried with backoff by the caller); any
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
                if exc.transient:  # kept as is: the scheduler retries transient errors with backoff
                    raise
                raise AudioError(str(exc)) from exc
            except UserError as exc:
                raise AudioError(str(exc)) from exc
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
