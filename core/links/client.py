"""The one guarded HTTP client that every download and API call goes through.

Links come from chat users, so every fetch is a server-side request forgery risk.  The defences live here,
in one place, so no caller can forget one:

* only http/https, no credentials in the URL;
* the host name is resolved by us and EVERY address it resolves to is checked (`links.addresses`);
* the connection goes to the exact address we checked (the URL's host is replaced by the IP, the Host header
  and the TLS SNI/certificate check keep the name), so DNS rebinding between check and connect is impossible;
  connections are never pooled, so one name can never ride on a connection opened for another;
* redirects are followed by hand, each hop re-checked, with a hop limit;
* the body is read as a stream and cut off at a byte cap (`links.body`), and the whole operation has a
  wall-clock limit;
* audio is sniffed by its magic bytes before anything is written for the decoder (`links.content`).

Every failure is a `NetError` (`links.errors`) that says whether trying again later could help.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from moodtape.core.config import Settings
from moodtape.core.links.addresses import (
    AddressPolicy,
    IPAddress,
    Resolver,
    host_name_problem,
    system_resolve,
)
from moodtape.core.links.body import (
    CappedBody,
    Download,
    Probe,
    content_length,
    disposition_filename,
)
from moodtape.core.links.content import SNIFF_BYTES, describe_content, sniff_audio
from moodtape.core.text import byte_size
from moodtape.core.links.errors import (
    BadLink,
    BadScheme,
    HttpStatusError,
    NotAudio,
    RefusedAddress,
    TimedOut,
    TooBig,
    TooManyRedirects,
    UnexpectedContent,
    Unreachable,
    host_of,
)

__all__ = ["GuardedClient", "USER_AGENT"]

USER_AGENT = "Moodtape/0.1 (music recommendation bot; link resolver)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _raw_host_of(url: str | httpx.URL) -> str | None:
    """The host part of a link httpx would not take, shown in a message (ASCII-safe, cut), or None."""
    text = str(url).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]  # no port
    shown = host.encode("ascii", "backslashreplace").decode("ascii")[:80]
    return shown or None


def _malformed_redirect(target: httpx.URL, detail: str | None = None) -> BadLink:
    """A redirect whose Location is not a usable link: one sentence naming the server that sent it."""
    return BadLink(f"{host_of(target)} gave a malformed redirect" + (f": {detail}" if detail else ""))


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
        """A URL we may fetch: http(s), a host name DNS could hold, no credentials.

        Everything that could make httpx or the resolver raise later is refused here, as a `BadLink` with a
        sentence: `.host` decodes IDNA (an invalid `xn--` label raises a codec error from deep in `idna`),
        and `host_name_problem` catches what the system's IDNA codec would refuse at lookup time.
        """
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url).strip())
            parsed.host  # noqa: B018 - decodes the IDNA labels: raises for one that is not valid
            raw_host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, TypeError, ValueError) as exc:  # UnicodeError (IDNA) is a ValueError
            host = _raw_host_of(url)
            if host is not None and (isinstance(exc, UnicodeError) or "IDNA" in str(exc)):
                raise BadLink(f"that link's host name is not valid: {host}") from exc
            raise BadLink(f"that is not a valid link: {str(url)[:100]}") from exc
        if parsed.scheme not in ("http", "https"):
            raise BadScheme(f"only http and https links are supported, not {parsed.scheme or 'this'}:")
        if not raw_host:
            raise BadLink(f"that link has no host name: {str(url)[:100]}")
        problem = host_name_problem(raw_host)
        if problem is not None:
            raise BadLink(f"that link's host name is not valid: {raw_host[:80]} ({problem})")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise BadLink(f"that link's port is not valid: {parsed.port}")
        if parsed.userinfo:
            raise BadLink("links with a user name or password in them are not accepted")
        return parsed

    async def check_url(self, url: str | httpx.URL) -> tuple[httpx.URL, str]:
        """Parse `url`, resolve its host and check every address; returns (url, the address to connect to).

        Also the guard for the fetcher we cannot route through this client (yt-dlp): its link is checked
        here first, and every connection it opens after that is checked here again by the filtering proxy
        it is given (links/egress_proxy.py).
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
            except BadLink as exc:
                raise _malformed_redirect(target, str(exc)) from exc
            except (httpx.InvalidURL, ValueError) as exc:
                raise _malformed_redirect(target) from exc
        if response.status_code >= 400:
            raise HttpStatusError(response.status_code, response.reason_phrase, str(target))
        return None

    async def _send(self, request: httpx.Request, target: httpx.URL) -> httpx.Response:
        try:
            return await self._client.send(request, stream=True)
        except (httpx.InvalidURL, UnicodeError) as exc:
            # Our request URL was built from a checked one, so this is httpx reading the answer's Location
            # (it works out `response.next_request` even when it does not follow): `http:127.0.0.1:1/x`,
            # or an `xn--` host that its IDNA decoding refuses.
            raise _malformed_redirect(target) from exc
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
        async with self._deadline(f"fetching {host_of(url)}"):
            async with self._open(url, headers) as (response, final):
                declared = content_length(response)
                if declared is not None and declared > max_bytes:
                    raise TooBig(f"{host_of(url)} sent more than {byte_size(max_bytes)}")
                parts = [chunk async for chunk in CappedBody(response, max_bytes).chunks()]
                return b"".join(parts), response.headers.get("content-type"), final

    async def get_json(self, url: str | httpx.URL, *, max_bytes: int = 2_000_000) -> Any:
        body, content_type, _ = await self.fetch_bytes(url, max_bytes=max_bytes,
                                                       headers={"Accept": "application/json"})
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            kind = describe_content(body[:SNIFF_BYTES], content_type)
            raise UnexpectedContent(f"{host_of(url)} answered with {kind}, not JSON") from exc

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
        async with self._deadline(f"following {host_of(url)}"):
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
        async with self._deadline(f"checking {host_of(url)}"):
            async with self._open(url) as (response, final):
                declared = content_length(response)
                if declared is not None and declared > self.settings.download_max_bytes:
                    cap = self.settings.download_max_bytes
                    raise TooBig(f"the file is too big ({byte_size(declared)} > {byte_size(cap)})")
                head = bytearray()
                try:
                    async for chunk in CappedBody(response, self.settings.download_max_bytes).chunks():
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
                    filename=disposition_filename(response.headers.get("content-disposition")),
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
        async with self._deadline(f"downloading from {host_of(url)}"):
            async with self._open(url, headers) as (response, final):
                declared = content_length(response)
                if declared is not None and declared > limit:
                    raise TooBig(f"the file is too big ({byte_size(declared)} > {byte_size(limit)})")
                content_type = response.headers.get("content-type")
                digest = hashlib.sha256()
                head = bytearray()
                container: str | None = None
                path: Path | None = None
                handle = None
                size = 0
                try:
                    async for chunk in CappedBody(response, limit).chunks():
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

