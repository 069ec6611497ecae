"""The filtering proxy yt-dlp is given: real yt-dlp networking and raw sockets against local fakes.

A loopback address plays the "public" internet (`AddressPolicy.treat_as_public`, as in test_net.py) and a
second loopback address, 127.0.0.2, plays the private network that must never be reached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from yt_dlp import YoutubeDL
from yt_dlp.networking.exceptions import HTTPError, ProxyError, TransportError

from moodtape.core.links import AddressPolicy, GuardedClient
from moodtape.core.links.egress_proxy import EgressProxy, _ProxyRefusal, connect_url, parse_head
from tests.conftest import make_settings
from tests.fakes.dns import StubDNS
from tests.fakes.http_server import FakeWeb

PUBLIC = frozenset({ipaddress.ip_address("127.0.0.1")})


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_deezer(7, "Seven", "The Numbers")
        yield server


@pytest.fixture(scope="module")
def private_web() -> Iterator[FakeWeb]:
    """A server on the "private network": any request reaching it is a failure of the proxy."""
    with FakeWeb(host="127.0.0.2") as server:
        server.add_deezer(7, "Secret", "Intranet")
        yield server


def guarded(tmp_path: Path, dns: StubDNS) -> GuardedClient:
    settings = make_settings(tmp_path, allow_private_networks=False, download_timeout_s=5.0)
    return GuardedClient(settings, resolver=dns, policy=AddressPolicy(treat_as_public=PUBLIC))


def ytdlp_get(proxy: str, url: str) -> bytes:
    """One GET by yt-dlp's own networking stack (the one its extractors use), through `proxy`."""
    options = {"proxy": proxy, "quiet": True, "no_warnings": True, "socket_timeout": 5}
    with YoutubeDL(options) as ydl, ydl.urlopen(url) as response:  # type: ignore[arg-type]
        return response.read()


async def raw_exchange(proxy: EgressProxy, payload: bytes, *, read_until_close: bool = True) -> bytes:
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(payload)
    await writer.drain()
    try:
        if read_until_close:
            return await asyncio.wait_for(reader.read(), 10)
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()


async def test_ytdlp_requests_go_through_the_proxy_to_the_checked_address(tmp_path: Path, web: FakeWeb) -> None:
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        body = await asyncio.to_thread(ytdlp_get, proxy.url, f"http://api.music.test:{web.port}/deezer/track/7")
    assert json.loads(body)["title"] == "Seven"
    assert dns.calls == ["api.music.test"]  # the proxy resolved the name, yt-dlp did not
    assert ("/deezer/track/7", f"api.music.test:{web.port}") in web.requests  # Host header kept
    assert proxy.refusals == []


async def test_a_redirect_to_a_private_address_is_refused_and_never_reached(
    tmp_path: Path, web: FakeWeb, private_web: FakeWeb
) -> None:
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    secret = private_web.url("/deezer/track/7")
    before = len(private_web.requests)
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        url = f"http://api.music.test:{web.port}/redirect?to={secret}"
        with pytest.raises(HTTPError) as caught:
            await asyncio.to_thread(ytdlp_get, proxy.url, url)
    assert caught.value.status == 403
    assert len(private_web.requests) == before
    assert len(proxy.refusals) == 1 and "loopback" in proxy.refusals[0]
    error = proxy.refusal_error()
    assert error is not None and "127.0.0.2" in str(error)


async def test_a_name_that_resolves_to_a_private_address_is_refused(tmp_path: Path, web: FakeWeb) -> None:
    """What DNS rebinding needs: our check and the connection see one answer, because the proxy connects."""
    dns = StubDNS({"cdn.music.test": ["10.20.30.40"]})
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        with pytest.raises(HTTPError) as caught:
            await asyncio.to_thread(ytdlp_get, proxy.url, "http://cdn.music.test/segment1.ts")
    assert caught.value.status == 403
    assert "private address" in proxy.refusals[0]


async def test_https_tunnels_are_checked_before_they_open(tmp_path: Path) -> None:
    dns = StubDNS({"metadata.music.test": ["169.254.169.254"]})
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        with pytest.raises((ProxyError, TransportError)):
            await asyncio.to_thread(ytdlp_get, proxy.url, "https://metadata.music.test/latest/meta-data/")
    assert "metadata" in proxy.refusals[0]


async def test_a_connect_tunnel_carries_bytes_both_ways(tmp_path: Path, web: FakeWeb) -> None:
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        request = (f"CONNECT api.music.test:{web.port} HTTP/1.1\r\nHost: api.music.test:{web.port}\r\n\r\n"
                   f"GET /deezer/track/7 HTTP/1.1\r\nHost: api.music.test\r\nConnection: close\r\n\r\n")
        answer = await raw_exchange(proxy, request.encode())
    assert answer.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200")
    assert b'"title": "Seven"' in answer


async def test_a_kept_alive_connection_cannot_smuggle_a_second_host(
    tmp_path: Path, web: FakeWeb, private_web: FakeWeb
) -> None:
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    before = len(private_web.requests)
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        first = f"GET http://api.music.test:{web.port}/deezer/track/7 HTTP/1.1\r\nHost: api.music.test\r\n\r\n"
        second = f"GET {private_web.url('/deezer/track/7')} HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n"
        answer = await raw_exchange(proxy, (first + second).encode())
    assert answer.count(b"HTTP/1.1 ") == 1 and b"Seven" in answer
    assert len(private_web.requests) == before


async def test_a_server_that_keeps_the_connection_open_does_not_hold_the_proxy(tmp_path: Path) -> None:
    """The answer is marked `Connection: close`; when the client hangs up, the proxy lets the server go."""
    closed = asyncio.Event()

    async def keep_alive_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n"
                     b"Keep-Alive: timeout=600\r\n\r\nhello")
        await writer.drain()
        await reader.read()  # ignores the request's Connection: close and waits for the other side
        closed.set()
        writer.close()

    upstream = await asyncio.start_server(keep_alive_server, "127.0.0.1", 0)
    port = upstream.sockets[0].getsockname()[1]
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    try:
        async with guarded(tmp_path, dns) as client, EgressProxy(client, timeout_s=60) as proxy:
            host, proxy_port = proxy.url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(proxy_port))
            writer.write(f"GET http://api.music.test:{port}/x HTTP/1.1\r\nHost: api.music.test\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            body = await asyncio.wait_for(reader.readexactly(5), 10)
            writer.close()  # the client is done, as its Content-Length says
            await asyncio.wait_for(closed.wait(), 10)  # not the proxy's 60 s idle timeout
        assert body == b"hello"
        assert b"Connection: close" in head and b"keep-alive" not in head.lower()
    finally:
        upstream.close()


@pytest.mark.parametrize("payload, status", [
    (b"GET /relative/path HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
    (b"CONNECT no-port HTTP/1.1\r\n\r\n", b"400"),
    (b"nonsense\r\n\r\n", b"400"),
    (b"GET http://api.music.test/ HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", b"431"),
    (b"POST http://api.music.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
    (b"GET http://nowhere.music.test/ HTTP/1.1\r\n\r\n", b"502"),
])
async def test_requests_it_will_not_proxy_get_a_clear_status(tmp_path: Path, payload: bytes, status: bytes) -> None:
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})
    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        answer = await raw_exchange(proxy, payload)
    assert answer.split(b" ")[1] == status
    assert proxy.refusals == []  # malformed is not "refused address"


def test_request_heads_and_connect_targets_are_parsed_strictly() -> None:
    head = parse_head(b"GET http://a.test/x?y=1 HTTP/1.1\r\nHost: a.test\r\nProxy-Connection: keep-alive")
    assert (head.method, head.target, head.header("host")) == ("GET", "http://a.test/x?y=1", "a.test")
    assert connect_url("www.youtube.com:443") == "https://www.youtube.com:443/"
    assert connect_url("[2001:db8::1]:443") == "https://[2001:db8::1]:443/"
    for bad in ("www.youtube.com", "host:0", "host:99999", ":443"):
        with pytest.raises(_ProxyRefusal):
            connect_url(bad)
    with pytest.raises(_ProxyRefusal):
        parse_head(b"GET / HTTP/1.1\r\n Folded: header")


# ------------------------------------------------------------------ hostile targets (issue 13, item 11)
@pytest.mark.parametrize("payload", [
    b"CONNECT xn--localhost:443 HTTP/1.1\r\n\r\n",  # the input: the connection was dropped
    b"CONNECT xn--a.com:443 HTTP/1.1\r\n\r\n",
    b"CONNECT -bad-.com:443 HTTP/1.1\r\n\r\n",
    b"CONNECT a..b:443 HTTP/1.1\r\n\r\n",
    b"CONNECT " + b"a" * 64 + b".com:443 HTTP/1.1\r\n\r\n",
    b"CONNECT [zz]:443 HTTP/1.1\r\n\r\n",
    b"GET http://xn--a.com/x HTTP/1.1\r\n\r\n",
])
async def test_a_target_that_is_no_valid_host_gets_400(tmp_path: Path, payload: bytes,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    async with guarded(tmp_path, StubDNS({})) as client, EgressProxy(client) as proxy:
        answer = await raw_exchange(proxy, payload)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"valid" in answer  # "not (a) valid link/host name"
    assert proxy.refusals == []
    assert not [r for r in caplog.records if r.levelno >= 40], "asyncio logged an unhandled exception"


async def test_an_unforeseen_error_ends_one_connection_with_a_warning(
    tmp_path: Path, web: FakeWeb, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection handler is the boundary: a bug there costs one connection, never asyncio's traceback."""
    dns = StubDNS({"api.music.test": ["127.0.0.1"]})

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug in the proxy")

    async with guarded(tmp_path, dns) as client, EgressProxy(client) as proxy:
        with monkeypatch.context() as patch:
            patch.setattr(proxy, "_handle", broken)
            try:
                answer = await raw_exchange(proxy, b"CONNECT api.music.test:443 HTTP/1.1\r\n\r\n")
            except ConnectionResetError:  # closed with the request unread: the kernel may answer with a reset
                answer = b""
            assert answer == b""
        body = await asyncio.to_thread(ytdlp_get, proxy.url, f"http://api.music.test:{web.port}/deezer/track/7")
    assert json.loads(body)["title"] == "Seven"  # the proxy is still serving
    warnings = [r for r in caplog.records if "a bug in the proxy" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING" and not warnings[0].exc_info, caplog.text
    assert not [r for r in caplog.records if r.levelno >= 40]
