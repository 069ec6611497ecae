"""A filtering forward proxy on 127.0.0.1 for the one fetcher that cannot use `GuardedClient`: yt-dlp.

yt-dlp does its own networking: site API calls while extracting, their redirects, HLS/DASH segments.  A
check of the link's host before yt-dlp starts leaves all of those unchecked (an API call redirected to
169.254.169.254, a name that resolves to a public address for our check and to 10.0.0.1 for yt-dlp's
connect).  So every YoutubeDL we create is pointed at this proxy, which is the only way out it is given:

- `CONNECT host:port` (HTTPS) and absolute-form `GET http://host/...` (plain HTTP) are the only requests
  accepted;
- the host is resolved and every address checked with `GuardedClient.check_url` (the same rules as every
  other fetch), and the proxy connects to that very address, so a second DNS answer cannot change where
  the connection goes (no DNS rebinding);
- a refused target gets `403` and is recorded in `refusals`, so the caller can say "refused: it points to a
  private address" instead of yt-dlp's generic HTTP error; a target that is no valid host at all gets `400`,
  and anything unforeseen ends that one connection with a one-line warning, never the proxy;
- a plain-HTTP connection carries exactly one request: the client's later bytes are not forwarded, so a
  kept-alive connection cannot send a second request to another host through the first host's tunnel,
  and the answer is marked `Connection: close` so that well-behaved clients do not try;
- heads are capped in size and every read has a deadline.

TLS stays end to end (the proxy only sees host and port of HTTPS connections).  One proxy serves one
yt-dlp call (`async with EgressProxy(client) as proxy: ... proxy.url ...`) so that its `refusals` belong to
that call only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from moodtape.core.links.client import GuardedClient
from moodtape.core.links.errors import BadLink, BadScheme, NetError, RefusedAddress

__all__ = ["EgressProxy", "RequestHead", "parse_head", "connect_url"]

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 32 * 1024
#: Request headers that are for the proxy, not for the server.
HOP_HEADERS = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive"})


class _ProxyRefusal(Exception):
    """A request the proxy cannot serve; `status` is the HTTP status it answers yt-dlp's client with.

    Not a `MoodtapeError` on purpose: it never reaches a person.  It only carries a status line from deep in
    a request handler to the one place that writes it back on the socket; yt-dlp then fails, and what the
    person sees is the `RefusedAddress` recorded in `refusals` (or yt-dlp's own error).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class RequestHead:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def parse_head(raw: bytes) -> RequestHead:
    """The request line and headers of a proxy request (bytes up to and including the blank line)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise _ProxyRefusal(400, "undecodable request") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _ProxyRefusal(400, "malformed request line")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise _ProxyRefusal(400, "malformed header line")
        headers.append((name, value.strip()))
    return RequestHead(parts[0].upper(), parts[1], parts[2], headers)


def connect_url(target: str) -> str:
    """`host:port` of a CONNECT request -> the https URL `check_url` understands."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _ProxyRefusal(400, f"CONNECT needs host:port, got {target[:80]!r}")
    return f"https://{host}:{port}/"


class EgressProxy:
    """`async with EgressProxy(client) as proxy:` hand `proxy.url` to yt-dlp; read `proxy.refusals` after."""

    def __init__(self, client: GuardedClient, *, timeout_s: float | None = None) -> None:
        self.client = client
        self.timeout_s = timeout_s if timeout_s is not None else client.settings.download_timeout_s
        self.refusals: list[str] = []
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> EgressProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def refusal_error(self) -> RefusedAddress | None:
        """The first refusal of this proxy as the error the user sees, or None."""
        return RefusedAddress(self.refusals[0]) if self.refusals else None

    # ------------------------------------------------------------------------------------------ serving
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - the connection boundary: one hostile request, one warning
            # Left to asyncio, it would log "Unhandled exception in client_connected_cb" with a traceback.
            log.warning("egress proxy: dropped a connection: %s: %s", type(exc).__name__, str(exc)[:200])
        finally:
            writer.close()
            # Cancelled here too (the proxy closing): the task must end normally, because on Python 3.11
            # asyncio's done-callback calls `task.exception()`, which raises for a cancelled task.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _read_head(self, reader: asyncio.StreamReader) -> RequestHead:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout_s)
        except asyncio.LimitOverrunError as exc:
            raise _ProxyRefusal(431, "request head too large") from exc
        return parse_head(raw[:-4])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await self._read_head(reader)
            if head.method == "CONNECT":
                url = connect_url(head.target)
            elif head.target.lower().startswith("http://"):
                url = head.target
            else:
                raise _ProxyRefusal(400, "only CONNECT and absolute http:// requests are proxied")
            if head.header("transfer-encoding"):
                raise _ProxyRefusal(411, "chunked request bodies are not proxied")
            length = head.header("content-length")
            if length is not None and not length.isdigit():
                raise _ProxyRefusal(400, "bad Content-Length")
            upstream_reader, upstream_writer = await self._open(url)
        except _ProxyRefusal as exc:
            await self._answer(writer, exc.status, exc.reason)
            return
        try:
            if head.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await self._pipe_both(reader, writer, upstream_reader, upstream_writer)
            else:
                await self._forward_one(head, url, reader, upstream_writer)
                await self._relay_one_response(reader, writer, upstream_reader)
        except _ProxyRefusal as exc:  # raised before anything of the answer was sent
            await self._answer(writer, exc.status, exc.reason)
        finally:
            upstream_writer.close()
            with contextlib.suppress(Exception):
                await upstream_writer.wait_closed()

    async def _open(self, url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Check `url`'s host like every other fetch and connect to the address that passed."""
        try:
            parsed, address = await self.client.check_url(url)
        except RefusedAddress as exc:
            self.refusals.append(str(exc))
            log.warning("yt-dlp connection refused: %s", exc)
            raise _ProxyRefusal(403, str(exc)) from exc
        except (BadLink, BadScheme) as exc:  # the request named no usable host (`xn--localhost`, `-bad-.com`)
            raise _ProxyRefusal(400, str(exc)) from exc
        except NetError as exc:
            raise _ProxyRefusal(502, str(exc)) from exc
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            return await asyncio.wait_for(asyncio.open_connection(address, port), min(10.0, self.timeout_s))
        except (OSError, TimeoutError) as exc:
            raise _ProxyRefusal(502, f"cannot connect to {parsed.host}") from exc

    async def _forward_one(self, head: RequestHead, url: str, reader: asyncio.StreamReader,
                           upstream: asyncio.StreamWriter) -> None:
        """Send the one request in origin form, with its body (Content-Length only), `Connection: close`."""
        parsed = GuardedClient.parse(url)
        path = parsed.raw_path.decode("ascii") or "/"
        lines = [f"{head.method} {path} {head.version}"]
        lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in HOP_HEADERS]
        lines.append("Connection: close")
        upstream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        length = head.header("content-length")
        if length:
            upstream.write(await asyncio.wait_for(reader.readexactly(int(length)), self.timeout_s))
        await upstream.drain()

    async def _relay_one_response(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                  upstream: asyncio.StreamReader) -> None:
        """The server's answer, marked `Connection: close`, until the server or the client closes.

        The mark stops the client from sending a second request on this connection, which would otherwise
        wait for an answer that never comes (nothing after the first request is forwarded, on purpose); a
        server that keeps the connection open anyway is left as soon as the client, done reading, hangs up.
        """
        try:
            raw = await asyncio.wait_for(upstream.readuntil(b"\r\n\r\n"), self.timeout_s)
        except asyncio.LimitOverrunError as exc:
            raise _ProxyRefusal(502, "response head too large") from exc
        lines = raw[:-4].split(b"\r\n")
        kept = [line for line in lines[1:]
                if line.split(b":", 1)[0].strip().lower().decode("latin-1") not in HOP_HEADERS]
        writer.write(b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n")
        await writer.drain()

        async def client_hangs_up() -> None:
            while await reader.read(65536):  # anything more from the client is dropped, never forwarded
                pass

        watcher = asyncio.create_task(client_hangs_up())
        relay = asyncio.create_task(self._copy(upstream, writer))
        try:
            done, _ = await asyncio.wait({watcher, relay}, return_when=asyncio.FIRST_COMPLETED)
            if relay in done:
                relay.result()  # an idle timeout or a dropped connection ends the exchange the same way
        finally:
            for task in (watcher, relay):
                task.cancel()
            await asyncio.gather(watcher, relay, return_exceptions=True)

    async def _copy(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, idle: bool = True) -> None:
        """Bytes from `source` to `sink` until `source` ends (or, with `idle`, is silent for `timeout_s`)."""
        while True:
            read = source.read(65536)
            chunk = await (asyncio.wait_for(read, self.timeout_s) if idle else read)
            if not chunk:
                break
            sink.write(chunk)
            await sink.drain()

    async def _pipe_both(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         upstream_reader: asyncio.StreamReader, upstream_writer: asyncio.StreamWriter) -> None:
        """A CONNECT tunnel: lasts while the server keeps talking (a client waiting on a download is silent)."""

        async def client_to_server() -> None:
            await self._copy(reader, upstream_writer, idle=False)
            if upstream_writer.can_write_eof():
                with contextlib.suppress(Exception):
                    upstream_writer.write_eof()

        sending = asyncio.create_task(client_to_server())
        try:
            await self._copy(upstream_reader, writer)
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
        phrase = {400: "Bad Request", 403: "Forbidden", 411: "Length Required", 431: "Request Header Fields Too Large",
                  502: "Bad Gateway"}.get(status, "Error")
        body = (reason + "\n").encode("utf-8", "replace")
        writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body)
        with contextlib.suppress(Exception):
            await writer.drain()
