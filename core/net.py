"""The one guarded HTTP client that every download and API call goes through.

Links come from chat users, so every fetch is a server-side request forgery risk: a link (or a redirect it
leads to) could point at the host's own services, the LAN, or a cloud metadata endpoint.  The defences live
here, in one place, so no caller can forget one:

* only http/https, no credentials in the URL;
* the host name is resolved by us and EVERY address it resolves to is checked (private, loopback,
  link-local, CGNAT, multicast, reserved, unspecified, IPv4-mapped/NAT64/6to4 wrappers unwrapped); cloud
  metadata addresses are refused even when private networks are allowed;
* the connection goes to the exact address we checked (the URL's host is replaced by the IP, the Host header
  and the TLS SNI/certificate check keep the name), so DNS rebinding between check and connect is impossible;
  connections are never pooled, so one name can never ride on a connection opened for another;
* redirects are followed by hand, each hop re-checked, with a hop limit;
* the body is read as a stream and cut off at a byte cap (Content-Length is only a hint), compressed bodies
  are inflated with the same cap, and the whole operation has a wall-clock limit;
* audio is sniffed by its magic bytes before anything is written for the decoder, so a web page or a JSON
  error never reaches ffmpeg.

Every failure is a `NetError` (a `UserError`: its message is shown as is) that says whether trying again
later could help (`transient`), which the scheduler uses for retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.config import Settings
from core.errors import UserError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

USER_AGENT = "Moodtape/0.1 (music recommendation bot; link resolver)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Bytes read to recognise a format (the longest signature we check needs 12).
SNIFF_BYTES = 64


# ---------------------------------------------------------------------------------------------- errors
class NetError(UserError):
    """A link that could not be fetched; `transient` says whether a later retry may succeed."""

    transient = False


class BadLink(NetError):
    """Not a URL we can fetch (malformed, credentials in it)."""


class BadScheme(NetError):
    """A scheme other than http/https (file:, ftp:, gopher:, ...)."""


class RefusedAddress(NetError):
    """The host resolves to an address we never connect to (private, loopback, metadata, ...)."""


class TooBig(NetError):
    """The body is (or announces to be) over the byte cap."""


class TimedOut(NetError):
    transient = True


class NotAudio(NetError):
    """The content is not an audio container we recognise (a web page, JSON, an image, ...)."""


class UnexpectedContent(NetError):
    """An API answered with something we cannot read (not JSON, unsupported compression)."""


class TooManyRedirects(NetError):
    pass


class HttpStatusError(NetError):
    def __init__(self, status: int, reason: str, url: str) -> None:
        self.status = status
        self.transient = status in (408, 425, 429) or status >= 500
        super().__init__(f"{_host_of(url)} answered {status} {reason}".rstrip())


class Unreachable(NetError):
    transient = True


def _host_of(url: str | httpx.URL) -> str:
    try:
        return httpx.URL(str(url)).host or str(url)[:60]
    except Exception:  # a URL we could not parse: show a bit of it
        return str(url)[:60]


# ---------------------------------------------------------------------------------------------- addresses
#: Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS ECS, AWS IPv6, Alibaba, Oracle): refused always.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.253", "fd00:ec2::254", "100.100.100.200",
              "192.0.0.192")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv6 one (mapped, NAT64, 6to4, Teredo), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def address_problem(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why we refuse to connect to `ip` (a short phrase), or None when it is a public unicast address."""
    inner = _unwrap(ip)
    for candidate in {ip, inner}:
        if candidate in METADATA_ADDRESSES:
            return "a cloud metadata address"
    if allow_private:
        return None
    for candidate in {ip, inner}:
        if candidate.is_unspecified:
            return "an unspecified address"
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if isinstance(candidate, ipaddress.IPv4Address) and candidate in _CGNAT:
            return "a carrier-grade NAT address"
        if isinstance(candidate, ipaddress.IPv6Address) and candidate in _NAT64_LOCAL:
            return "a private address"
        if candidate.is_private:
            return "a private address"
        if candidate.is_reserved or not candidate.is_global:
            return "a reserved address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses we connect to.

    `treat_as_public` lists addresses to accept as if they were public.  Production code never sets it; the
    tests use it to play a "public" server on a loopback address (there is no public address in a sandbox),
    so redirects from it to 127.0.0.1 / 10.x / 169.254.169.254 can be shown to be refused by the real rules.
    """

    allow_private: bool = False
    treat_as_public: frozenset[IPAddress] = frozenset()

    def problem(self, ip: IPAddress) -> str | None:
        if ip in self.treat_as_public:
            return None
        return address_problem(ip, allow_private=self.allow_private)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (A and AAAA), in its order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise Unreachable(f"cannot look up {host} right now (DNS): try again later") from exc
        raise Unreachable(f"{host} does not exist (no DNS record)") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# ---------------------------------------------------------------------------------------------- sniffing
def sniff_audio(head: bytes) -> str | None:
    """The audio container `head` starts with ("mp3", "ogg", "flac", ...), or None.

    Checked before decoding so that only real containers reach ffmpeg: a link that serves a web page, an
    error in JSON or an image is refused with a clear reason instead of a decoder error.
    """
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "wma"
    if head.startswith(b"MAC ") or head.startswith(b"wvpk") or head.startswith(b"caff"):
        return {b"MAC ": "ape", b"wvpk": "wv", b"caff": "caf"}[head[:4]]
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0 and head[1] & 0x06 == 0:
        return "aac"  # ADTS: 12 sync bits, layer 00
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
        bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
        if version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "mp3"  # MPEG audio frame sync without an ID3 tag
    return None


def describe_content(head: bytes, content_type: str | None) -> str:
    """What a non-audio body looks like, in words for the refusal message."""
    text = head.lstrip()[:64].lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "a web page"
    if text.startswith((b"{", b"[")):
        return "JSON data"
    if text.startswith(b"#extm3u"):
        return "a streaming playlist"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "an image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b")):
        return "an archive"
    if not head:
        return "an empty response"
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and not declared.startswith(("audio/", "video/", "application/octet-stream")):
        return f"{declared} content"
    return "data in no audio format we know (a corrupt or mislabelled file)"


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Download:
    path: Path
    container: str
    size: int
    sha256: str
    url: str  # after redirects
    content_type: str | None


@dataclass(frozen=True)
class Probe:
    head: bytes  # the first bytes of the body (up to the probe size)
    container: str | None
    url: str  # after redirects
    content_type: str | None
    content_length: int | None
    filename: str | None = None


@dataclass
class _Body:
    """Streaming reader with a byte cap that also applies after inflating a compressed body."""

    response: httpx.Response
    limit: int
    received: int = 0
    _inflater: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        encoding = (self.response.headers.get("content-encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("identity", ""):
            raise UnexpectedContent(f"{_host_of(self.response.url)} sent {encoding}-compressed data we do not read")

    def _too_big(self) -> TooBig:
        return TooBig(f"the download is over the limit of {_mb(self.limit)}")

    async def chunks(self) -> AsyncIterator[bytes]:
        async for raw in self.response.aiter_raw():
            if self._inflater is None:
                data = raw
            else:
                room = self.limit - self.received + 1
                data = self._inflater.decompress(raw, room)
                if self._inflater.unconsumed_tail:
                    raise self._too_big()
            self.received += len(data)
            if self.received > self.limit:
                raise self._too_big()
            if data:
                yield data


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


# ---------------------------------------------------------------------------------------------- client
class GuardedClient:
    """Async HTTP GETs with the defences described in the module docstring.

    `resolver` and `policy` exist so tests can stand in for DNS and for a public address; by default the
    system resolver and `settings.allow_private_networks` decide.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        policy: AddressPolicy | None = None,
        max_redirects: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._resolver = resolver
        self.policy = policy or AddressPolicy(allow_private=settings.allow_private_networks)
        self.max_redirects = max_redirects if max_redirects is not None else settings.max_redirects
        total = settings.download_timeout_s
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # an environment proxy would connect to the name, not to the address we checked
            timeout=httpx.Timeout(total, connect=min(10.0, total)),
            limits=httpx.Limits(max_keepalive_connections=0, max_connections=20),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "GuardedClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -------------------------------------------------------------------------------- checks
    @staticmethod
    def parse(url: str | httpx.URL) -> httpx.URL:
        """A URL we may fetch: http(s), a host, no credentials."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url).strip())
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise BadLink(f"that is not a valid link: {str(url)[:100]}") from exc
        if parsed.scheme not in ("http", "https"):
            raise BadScheme(f"only http and https links are supported, not {parsed.scheme or 'this'}:")
        if not parsed.host:
            raise BadLink(f"that link has no host name: {str(url)[:100]}")
        if parsed.userinfo:
            raise BadLink("links with a user name or password in them are not accepted")
        return parsed

    async def check_url(self, url: str | httpx.URL) -> tuple[httpx.URL, str]:
        """Parse `url`, resolve its host and check every address; returns (url, the address to connect to).

        Also the guard for the fetcher we cannot route through this client (yt-dlp): its link is checked
        here first, and every connection it opens after that is checked here again by the filtering proxy
        it is given (core/egress_proxy.py).
        """
        parsed = self.parse(url)
        host = parsed.raw_host.decode("ascii").strip("[]")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            resolver = self._resolver or system_resolve
            addresses = await resolver(host, port)
        if not addresses:
            raise Unreachable(f"{host} has no address")
        for text in addresses:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
            problem = self.policy.problem(ip)
            if problem is not None:
                raise RefusedAddress(f"links to {host} are not allowed: it points to {problem}")
        return parsed, addresses[0].split("%", 1)[0]

    # -------------------------------------------------------------------------------- requests
    @asynccontextmanager
    async def _open(self, url: str | httpx.URL, headers: dict[str, str] | None = None
                    ) -> AsyncIterator[tuple[httpx.Response, str]]:
        """GET `url`, following redirects by hand (each hop checked).

        Yields the final streamed response and its URL as the user would write it (with the host name; the
        request itself went to the pinned address).
        """
        current = self.parse(url)
        for _hop in range(self.max_redirects + 1):
            response, target = await self._get(current, headers)
            try:
                following = self._redirect_target(response, target)
                if following is None:
                    yield response, str(target)
                    return
                current = following
            finally:
                await response.aclose()
                self._client.cookies.clear()
        raise TooManyRedirects(f"the link redirects more than {self.max_redirects} times")

    async def _get(self, url: httpx.URL, headers: dict[str, str] | None) -> tuple[httpx.Response, httpx.URL]:
        """One checked hop: resolve + check the host, connect to that very address, name kept for Host/SNI."""
        target, address = await self.check_url(url)
        pinned = target.copy_with(host=address)
        request_headers = dict(headers or {})
        request_headers["Host"] = target.netloc.decode("ascii")
        extensions = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
        request = self._client.build_request("GET", pinned, headers=request_headers, extensions=extensions)
        return await self._send(request, target), target

    def _redirect_target(self, response: httpx.Response, target: httpx.URL) -> httpx.URL | None:
        """Where a redirect leads (None for a final answer); error statuses raise."""
        if response.status_code in REDIRECT_STATUSES:
            location = response.headers.get("location")
            if not location:
                raise HttpStatusError(response.status_code, "redirect without a location", str(target))
            try:
                return self.parse(target.join(location))
            except BadScheme as exc:
                raise BadScheme(f"the link redirects to a non-web address ({exc})") from exc
        if response.status_code >= 400:
            raise HttpStatusError(response.status_code, response.reason_phrase, str(target))
        return None

    async def _send(self, request: httpx.Request, target: httpx.URL) -> httpx.Response:
        try:
            return await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise TimedOut(f"{target.host} did not answer in time") from exc
        except httpx.UnsupportedProtocol as exc:
            raise BadScheme(f"unsupported link: {exc}") from exc
        except (httpx.ConnectError, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Unreachable(f"cannot reach {target.host}: {type(exc).__name__}") from exc

    @asynccontextmanager
    async def _deadline(self, what: str, timeout_s: float | None = None) -> AsyncIterator[None]:
        """The wall-clock cap of a whole operation (all hops and the body), whatever the server does."""
        limit = timeout_s or self.settings.download_timeout_s
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as exc:
            raise TimedOut(f"{what} took longer than {limit:g} s") from exc
        except httpx.TimeoutException as exc:
            raise TimedOut(f"{what} timed out") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Unreachable(f"{what} failed: the connection broke ({type(exc).__name__})") from exc

    async def fetch_bytes(self, url: str | httpx.URL, *, max_bytes: int, headers: dict[str, str] | None = None
                          ) -> tuple[bytes, str | None, str]:
        """The whole (small) body: (bytes, content type, final URL)."""
        async with self._deadline(f"fetching {_host_of(url)}"):
            async with self._open(url, headers) as (response, final):
                declared = _content_length(response)
                if declared is not None and declared > max_bytes:
                    raise TooBig(f"{_host_of(url)} sent more than {_mb(max_bytes)}")
                parts = [chunk async for chunk in _Body(response, max_bytes).chunks()]
                return b"".join(parts), response.headers.get("content-type"), final

    async def get_json(self, url: str | httpx.URL, *, max_bytes: int = 2_000_000) -> Any:
        body, content_type, _ = await self.fetch_bytes(url, max_bytes=max_bytes,
                                                       headers={"Accept": "application/json"})
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            kind = describe_content(body[:SNIFF_BYTES], content_type)
            raise UnexpectedContent(f"{_host_of(url)} answered with {kind}, not JSON") from exc

    async def get_text(self, url: str | httpx.URL, *, max_bytes: int = 3_000_000) -> str:
        body, content_type, _ = await self.fetch_bytes(url, max_bytes=max_bytes, headers={"Accept": "text/html"})
        charset = "utf-8"
        if content_type and "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            return body.decode("utf-8", errors="replace")

    async def final_url(self, url: str | httpx.URL, *, stop_at: Callable[[httpx.URL], bool] | None = None) -> str:
        """Where a short link leads (every hop checked; no body read).

        `stop_at` ends the walk at the first URL it accepts, without fetching it (a short link's target page
        need not be downloaded once we can tell from its URL what it is).
        """
        async with self._deadline(f"following {_host_of(url)}"):
            current = self.parse(url)
            for _hop in range(self.max_redirects + 1):
                if stop_at is not None and stop_at(current):
                    return str(current)
                response, target = await self._get(current, None)
                try:
                    following = self._redirect_target(response, target)
                finally:
                    await response.aclose()
                    self._client.cookies.clear()
                if following is None:
                    return str(target)
                current = following
            raise TooManyRedirects(f"the link redirects more than {self.max_redirects} times")

    async def probe_audio(self, url: str | httpx.URL, *, probe_bytes: int = 256 * 1024) -> Probe:
        """The first bytes of a link, sniffed: is it audio, how big does it say it is. Reads no more."""
        async with self._deadline(f"checking {_host_of(url)}"):
            async with self._open(url) as (response, final):
                declared = _content_length(response)
                if declared is not None and declared > self.settings.download_max_bytes:
                    raise TooBig(f"the file is too big ({_mb(declared)} > {_mb(self.settings.download_max_bytes)})")
                head = bytearray()
                try:
                    async for chunk in _Body(response, self.settings.download_max_bytes).chunks():
                        head += chunk
                        if len(head) >= probe_bytes:
                            break
                except TooBig:
                    if len(head) < SNIFF_BYTES:
                        raise
                content_type = response.headers.get("content-type")
                return Probe(
                    head=bytes(head[:probe_bytes]), container=sniff_audio(bytes(head[:SNIFF_BYTES])),
                    url=final, content_type=content_type, content_length=declared,
                    filename=_disposition_filename(response.headers.get("content-disposition")),
                )

    async def download_audio(
        self,
        url: str | httpx.URL,
        folder: Path,
        *,
        name: str = "audio",
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Download:
        """Stream an audio file into `folder` (capped, timed, sniffed before the rest is written).

        The body is refused as soon as its first bytes show it is not audio, so a web page is never
        downloaded in full and nothing that is not audio is handed to the decoder.
        """
        limit = max_bytes or self.settings.download_max_bytes
        async with self._deadline(f"downloading from {_host_of(url)}"):
            async with self._open(url, headers) as (response, final):
                declared = _content_length(response)
                if declared is not None and declared > limit:
                    raise TooBig(f"the file is too big ({_mb(declared)} > {_mb(limit)})")
                content_type = response.headers.get("content-type")
                digest = hashlib.sha256()
                head = bytearray()
                container: str | None = None
                path: Path | None = None
                handle = None
                size = 0
                try:
                    async for chunk in _Body(response, limit).chunks():
                        digest.update(chunk)
                        size += len(chunk)
                        if handle is None:
                            head += chunk
                            if len(head) < SNIFF_BYTES:
                                continue
                            container = sniff_audio(bytes(head[:SNIFF_BYTES]))
                            if container is None:
                                raise NotAudio(f"the link gives {describe_content(bytes(head), content_type)}, "
                                               "not an audio file")
                            path = folder / f"{name}.{container}"
                            handle = await asyncio.to_thread(open, path, "wb")
                            await asyncio.to_thread(handle.write, bytes(head))
                        else:
                            await asyncio.to_thread(handle.write, chunk)
                    if handle is None:  # a body shorter than the sniff window
                        container = sniff_audio(bytes(head))
                        if container is None or len(head) < 16:
                            raise NotAudio(f"the link gives {describe_content(bytes(head), content_type)}, "
                                           "not an audio file")
                        path = folder / f"{name}.{container}"
                        await asyncio.to_thread(path.write_bytes, bytes(head))
                finally:
                    if handle is not None:
                        await asyncio.to_thread(handle.close)
                assert path is not None and container is not None
                return Download(path=path, container=container, size=size, sha256=digest.hexdigest(),
                                url=final, content_type=content_type)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return None


def _disposition_filename(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip().strip('"').replace("/", "_").replace("\\", "_")[:200] or None
    return None
