"""YouTube, SoundCloud, Bandcamp and the other sites yt-dlp knows, with yt-dlp used as a library.

yt-dlp does its own networking (its own resolver, redirects and site API calls), so it cannot be routed
through `links.client.GuardedClient` directly.  What we do instead, in this order:

1. the link's host is resolved and checked against the same address rules as every other fetch BEFORE
   yt-dlp sees the link (`GuardedClient.check_url`);
2. only dedicated site extractors run: the generic extractor, which would fetch any page and follow links
   embedded in it, is disabled (`allowed_extractors`);
3. every connection yt-dlp opens (player pages, site API calls, their redirects, HLS/DASH segments) goes
   through a filtering proxy on 127.0.0.1 (`links/egress_proxy.py`) that checks each host with the same rules
   and connects to the very address it checked, so a redirect to a private address or a DNS answer that
   changes between checks is refused; a refusal is reported as such (`RefusedAddress`);
4. extraction is metadata-only and flat for playlists; a playlist given where one track is expected, live
   streams and tracks over the duration cap are refused before anything is downloaded (`playlist` lists a
   playlist's entries, capped by `playlistend`, for `/add <playlist>`: each entry is then checked on its own);
5. the chosen audio-only format's URL is checked again; a plain HTTP(S) format is downloaded through the
   guarded client (size cap while streaming, time cap, every redirect re-checked, content sniffed);
   only segmented formats (HLS/DASH) are downloaded by yt-dlp itself (its native downloader, through the
   proxy), with its own `max_filesize`, a socket timeout and the duration filter, and the result is
   size-checked and sniffed afterwards.

What stays open: TLS is end to end, so the proxy sees hosts, not URLs or bodies.  Formats on protocols that
would need an external program (RTMP, RTSP, ...) are never chosen, so nothing fetches around the proxy.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from moodtape.core.config import Settings
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.content import SNIFF_BYTES, sniff_audio
from moodtape.core.links.egress_proxy import EgressProxy
from moodtape.core.links.errors import NetError, NotAudio, ServiceError, TooBig
from moodtape.core.links.info import LinkInfo
from moodtape.core.text import byte_size, split_artist_title

__all__ = [
    "YtDlpSource", "YtDlpFactory", "ServiceError", "extractor_for", "service_name", "duration_filter",
    "audio_format", "ytdlp_options", "link_info",
]

#: Extractors never used: the generic one fetches arbitrary pages; the "known DRM/piracy" ones only refuse.
SKIPPED_EXTRACTORS = frozenset({"Generic", "KnownDRM", "KnownPiracy", "KnownLiability"})
#: Friendly names for the services people share most.
SERVICE_NAMES = {"youtube": "YouTube", "soundcloud": "SoundCloud", "bandcamp": "Bandcamp", "vimeo": "Vimeo",
                 "mixcloud": "Mixcloud", "audiomack": "Audiomack"}

YtDlpFactory = Callable[[dict[str, Any]], Any]
T = TypeVar("T")


@functools.lru_cache(maxsize=1)
def _extractor_classes() -> tuple[Any, ...]:
    from yt_dlp.extractor import gen_extractor_classes

    return tuple(ie for ie in gen_extractor_classes()
                 if ie.ie_key() not in SKIPPED_EXTRACTORS and getattr(ie, "_ENABLED", True))


@functools.lru_cache(maxsize=1)
def _skipped_names() -> tuple[str, ...]:
    """yt-dlp's `allowed_extractors` matches IE_NAMEs ("generic", "DRM", ...), not keys."""
    from yt_dlp.extractor import gen_extractor_classes

    return tuple(sorted(ie.IE_NAME.lower() for ie in gen_extractor_classes() if ie.ie_key() in SKIPPED_EXTRACTORS))


def extractor_for(url: str) -> str | None:
    """The key of the dedicated yt-dlp extractor for `url` ("Youtube", "Soundcloud", ...), or None.

    Pure URL matching: no network.
    """
    for ie in _extractor_classes():
        try:
            if ie.suitable(url):
                return str(ie.ie_key())
        except Exception:  # a broken extractor regex must not break link handling
            continue
    return None


def service_name(extractor_key: str | None) -> str:
    if not extractor_key:
        return "the web"
    base = extractor_key.lower()
    for prefix, name in SERVICE_NAMES.items():
        if base.startswith(prefix):
            return name
    return extractor_key


def duration_filter(max_duration_s: float) -> Callable[..., str | None]:
    """yt-dlp `match_filter`: refuse live streams and anything longer than the cap (None = accept)."""

    def check(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
            return "live streams cannot be added"
        duration = info.get("duration")
        if isinstance(duration, (int, float)) and duration > max_duration_s:
            return f"too long ({duration / 60:.0f} min > {max_duration_s / 60:.0f} min)"
        return None

    return check


def audio_format(max_bytes: int) -> str:
    """Audio only, a plain HTTP(S) download first (it can go through the guarded client), under the cap."""
    cap = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    # then HLS, then DASH: both fetched by yt-dlp's native downloaders (through the proxy); formats on other
    # protocols (RTMP, RTSP, MMS, ...) would need an external program and are never chosen
    return (f"bestaudio[protocol^=http][protocol!*=dash]{cap}/bestaudio[protocol^=m3u8]{cap}"
            f"/bestaudio[protocol^=http]{cap}")


def ytdlp_options(settings: Settings, folder: Path | None = None, proxy: str = "") -> dict[str, Any]:
    """The options every YoutubeDL we create gets (tests assert on them).

    `proxy` is the filtering proxy's URL; "" (no proxy, not even one from the environment) only where no
    connection is made.
    """
    return {
        "format": audio_format(settings.download_max_bytes),
        "noplaylist": True,
        "extract_flat": "in_playlist",  # a playlist link is seen as one (refused), its entries never resolved
        "max_filesize": settings.download_max_bytes,
        "match_filter": duration_filter(settings.max_duration_s),
        "allowed_extractors": ["default", *(f"-{re.escape(name)}" for name in _skipped_names())],
        "socket_timeout": settings.download_timeout_s,
        "retries": 1,
        "fragment_retries": 1,
        "extractor_retries": 1,
        "proxy": proxy,  # never an environment proxy: connections go through our checks or nowhere
        "external_downloader": {"default": "native"},  # segments fetched by yt-dlp itself, through the proxy
        "cachedir": False,
        "noprogress": True,
        "quiet": True,
        "no_warnings": True,
        "logger": logging.getLogger(__name__ + ".yt_dlp"),
        "writethumbnail": False,
        "writesubtitles": False,
        "postprocessors": [],
        "overwrites": True,
        "outtmpl": {"default": str((folder or Path(tempfile.gettempdir())) / "audio.%(ext)s")},
        "color": "never",
    }


def _is_transient(exc: BaseException) -> bool:
    """Network trouble somewhere in yt-dlp's exception chain (worth a retry), as opposed to a refusal."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TransportError) or isinstance(current, (TimeoutError, ConnectionError)):
            return True
        if isinstance(current, HTTPError) and (current.status >= 500 or current.status == 429):
            return True
        info = getattr(current, "exc_info", None)
        if isinstance(info, tuple) and len(info) > 1 and isinstance(info[1], BaseException):
            stack.append(info[1])
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            stack.append(cause)
        stack.extend([current.__cause__, current.__context__])
    return False


def _clean_message(exc: BaseException) -> str:
    text = str(exc).strip()
    text = re.sub(r"^(ERROR:\s*)+", "", text)
    text = re.sub(r"^\[[^\]]+\]\s*[^:]*:\s*", "", text)  # "[youtube] abc123: Video unavailable"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def link_info(info: dict[str, Any], url: str) -> LinkInfo:
    """Title, artist, album, duration and ids from a yt-dlp info dict (music tags first, then the title)."""
    title = (info.get("track") or info.get("title") or "").strip() or url
    artist = info.get("artist") or (info.get("artists") or [None])[0] or info.get("creator")
    if not artist and not info.get("track"):
        guessed_artist, guessed_title = split_artist_title(title)
        if guessed_artist:
            artist, title = guessed_artist, guessed_title
    if not artist:
        uploader = info.get("uploader") or info.get("channel")
        artist = re.sub(r"\s+-\s+Topic$", "", uploader).strip() if isinstance(uploader, str) else None
    duration = info.get("duration")
    key = str(info.get("extractor_key") or info.get("ie_key") or "web")
    return LinkInfo(
        service=service_name(key), kind="ytdlp", url=info.get("webpage_url") or url,
        external_id=f"{key.lower()}:{info.get('id') or url}", title=title, artist=artist or None,
        album=info.get("album") or None, duration_s=float(duration) if isinstance(duration, (int, float)) else None,
    )


class YtDlpSource:
    """Metadata and audio from sites yt-dlp supports, inside the limits described in the module docstring."""

    def __init__(self, settings: Settings, client: GuardedClient, factory: YtDlpFactory | None = None) -> None:
        self.settings = settings
        self.client = client
        self._factory = factory

    def _ydl(self, folder: Path | None, proxy: str, playlist_end: int | None = None) -> Any:
        options = ytdlp_options(self.settings, folder, proxy)
        if playlist_end is not None:
            options["playlistend"] = playlist_end  # a long playlist's later pages are never fetched
        if self._factory is not None:
            return self._factory(options)
        from yt_dlp import YoutubeDL

        return YoutubeDL(options)  # type: ignore[arg-type]

    def _extract_sync(self, url: str, proxy: str, playlist_end: int | None = None) -> dict[str, Any]:
        from yt_dlp.utils import YoutubeDLError

        try:
            with self._ydl(None, proxy, playlist_end) as ydl:
                info = ydl.extract_info(url, download=False)
        except YoutubeDLError as exc:
            raise ServiceError(f"{service_name(extractor_for(url))}: {_clean_message(exc)}",
                               transient=_is_transient(exc)) from exc
        if not isinstance(info, dict):
            raise ServiceError("the site gave no information about this link")
        return info

    async def info(self, url: str) -> dict[str, Any]:
        """Checked, extracted and validated info of one track (format URLs included, valid for a while)."""
        await self.client.check_url(url)
        try:
            async with asyncio.timeout(self.settings.download_timeout_s * 2):
                info = await self._behind_proxy(self._extract_sync, url)
        except TimeoutError as exc:
            raise ServiceError(f"{service_name(extractor_for(url))} took too long to answer",
                               transient=True) from exc
        if info.get("_type") in ("playlist", "multi_video") or info.get("entries") is not None:
            raise ServiceError("that link is a playlist or an album: share a link to one track")
        refusal = duration_filter(self.settings.max_duration_s)(info)
        if refusal:
            raise ServiceError(f"cannot add this: {refusal}")
        return info

    async def playlist(self, url: str, limit: int) -> tuple[str, list[str], int]:
        """(title, the first `limit` entries' links, how many it holds) of a playlist link, from one flat,
        checked extraction (entries are not resolved here: each is added later like a link of its own)."""
        await self.client.check_url(url)
        try:
            async with asyncio.timeout(self.settings.download_timeout_s * 2):
                info = await self._behind_proxy(functools.partial(self._extract_sync, playlist_end=limit), url)
        except TimeoutError as exc:
            raise ServiceError(f"{service_name(extractor_for(url))} took too long to answer",
                               transient=True) from exc
        entries = info.get("entries")
        if info.get("_type") not in ("playlist", "multi_video") or entries is None:
            raise ServiceError("that link is not a playlist")
        links: list[str] = []
        total = 0
        for entry in entries:
            total += 1
            link = entry.get("url") if isinstance(entry, dict) else None
            if (isinstance(link, str) and link.startswith(("https://", "http://")) and link not in links
                    and len(links) < limit and extractor_for(link) is not None):
                links.append(link)
        count = info.get("playlist_count")
        return str(info.get("title") or "playlist"), links, count if isinstance(count, int) else total

    async def resolve(self, url: str) -> LinkInfo:
        """What the link is, from a checked extraction (nothing is downloaded)."""
        return link_info(await self.info(url), url)

    async def download(self, url: str, folder: Path) -> Path:
        """The track's audio in `folder` (fresh format URLs: they expire, so extraction runs again)."""
        info = await self.info(url)
        if info.get("requested_formats") or info.get("acodec") == "none":
            raise ServiceError("no audio-only format is offered for this link")
        fmt = info
        media_url = fmt.get("url")
        if not media_url:
            raise ServiceError("the site offered no downloadable audio")
        protocol = str(fmt.get("protocol") or "https")
        if protocol in ("http", "https"):
            headers = {k: v for k, v in (fmt.get("http_headers") or info.get("http_headers") or {}).items()
                       if k.lower() not in ("host", "cookie")}
            return (await self.client.download_audio(media_url, folder, headers=headers)).path
        await self.client.check_url(media_url)  # segmented: the manifest host first, then every segment's
        return await self._behind_proxy(self._download_sync, info, folder)

    async def _behind_proxy(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args, proxy_url)` in a worker thread, with a filtering proxy as yt-dlp's only way out; when
        yt-dlp fails because the proxy refused an address, the refusal is the error the user sees."""
        async with EgressProxy(self.client) as proxy:
            try:
                return await asyncio.to_thread(work, *args, proxy.url)
            except NetError as exc:
                refused = proxy.refusal_error()
                if refused is not None:
                    raise refused from exc
                raise

    def _download_sync(self, info: dict[str, Any], folder: Path, proxy: str) -> Path:
        from yt_dlp import YoutubeDL
        from yt_dlp.utils import YoutubeDLError

        # an extracted info dict, processed a second time: yt-dlp's "load info JSON" path, which expects the
        # dict as `sanitize_info` leaves it (else it warns about the fields it filled in the first pass)
        prepared = YoutubeDL.sanitize_info(dict(info))
        try:
            with self._ydl(folder, proxy) as ydl:
                ydl.process_ie_result(prepared, download=True)
        except YoutubeDLError as exc:
            raise ServiceError(f"download failed: {_clean_message(exc)}", transient=_is_transient(exc)) from exc
        files = sorted(p for p in folder.glob("audio.*") if p.is_file() and not p.name.endswith(".part"))
        if not files:
            raise ServiceError("the download was refused (too big or too long)")
        path = files[0]
        size = path.stat().st_size
        if size > self.settings.download_max_bytes:
            raise TooBig(f"the download is over the limit of {byte_size(self.settings.download_max_bytes)}")
        with open(path, "rb") as handle:
            if sniff_audio(handle.read(SNIFF_BYTES)) is None:
                raise NotAudio("the site sent something that is not audio")
        return path
