"""The guarded HTTP client against a local server: addresses, redirects, caps, timeouts, sniffing.

What is simulated, honestly: there is no public address in a sandbox.  Address rules are tested on the
classifier directly and through a stub DNS resolver (a host "resolving" to 10.x or 169.254.169.254 is
refused before any connection is made).  To show that a redirect is re-checked with the allowance OFF, one
server runs on 127.0.0.2 and the client's policy is told to treat exactly that address as public
(`AddressPolicy.treat_as_public`); everything else, including the redirect targets, goes through the real rules.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from moodtape.core.links import (
    AddressPolicy,
    BadLink,
    BadScheme,
    GuardedClient,
    HttpStatusError,
    NotAudio,
    RefusedAddress,
    TimedOut,
    TooBig,
    TooManyRedirects,
    UnexpectedContent,
    Unreachable,
)
from moodtape.core.links.addresses import address_problem, system_resolve
from moodtape.core.links.content import sniff_audio
from tests.conftest import AUDIO, GOOD_AUDIO, make_settings
from tests.fakes.dns import StubDNS
from tests.fakes.http_server import FakeWeb


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        yield server


@pytest.fixture(scope="module")
def public_web() -> Iterator[FakeWeb]:
    """A server on 127.0.0.2 that the tests' policy treats as a public address."""
    with FakeWeb(host="127.0.0.2") as server:
        yield server


def client_for(tmp_path: Path, **overrides: object) -> GuardedClient:
    values: dict[str, object] = {"allow_private_networks": True, "download_timeout_s": 5.0}
    values.update(overrides)
    resolver = values.pop("resolver", None)
    policy = values.pop("policy", None)
    return GuardedClient(make_settings(tmp_path, **values), resolver=resolver, policy=policy)  # type: ignore[arg-type]


def no_network() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a connection was attempted to {request.url}")

    return httpx.MockTransport(handler)


# ------------------------------------------------------------------ sniffing
@pytest.mark.parametrize("name", GOOD_AUDIO)
def test_every_audio_fixture_is_recognised(name: str) -> None:
    assert sniff_audio((AUDIO / name).read_bytes()[:64]) is not None


@pytest.mark.parametrize("head", [
    (AUDIO / "corrupt.mp3").read_bytes()[:64], (AUDIO / "notes.txt").read_bytes(), b"",
    b"<!DOCTYPE html><html>", b'{"error": "nope"}', b"\x89PNG\r\n\x1a\n0000", b"#EXTM3U\n#EXT-X-VERSION:3",
])
def test_non_audio_is_not_recognised(head: bytes) -> None:
    assert sniff_audio(head) is None


# ------------------------------------------------------------------ address rules
@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.1.1", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "fd00:ec2::254",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::", "ff02::1", "::",
])
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_the_allowance_never_opens_cloud_metadata() -> None:
    assert address_problem(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
    for metadata in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "100.100.100.200"):
        assert address_problem(ipaddress.ip_address(metadata), allow_private=True) == "a cloud metadata address"


@pytest.mark.parametrize("table", [
    {"evil.test": ["10.0.0.5"]},
    {"evil.test": ["169.254.169.254"]},
    {"evil.test": ["fd00:ec2::254"]},
    {"evil.test": ["93.184.216.34", "192.168.0.10"]},  # one bad answer among good ones is enough
])
async def test_hosts_resolving_to_private_addresses_are_refused_before_connecting(
    tmp_path: Path, table: dict[str, list[str]]
) -> None:
    dns = StubDNS(table)
    client = GuardedClient(make_settings(tmp_path), resolver=dns, transport=no_network())
    async with client:
        with pytest.raises(RefusedAddress, match="not allowed"):
            await client.download_audio("https://evil.test/song.mp3", tmp_path)
    assert dns.calls == ["evil.test"]
    assert list(tmp_path.glob("*.mp3")) == []


async def test_numeric_host_tricks_are_refused(tmp_path: Path) -> None:
    async with GuardedClient(make_settings(tmp_path), transport=no_network()) as client:
        for url in ("http://2130706433/x.mp3", "http://0x7f.1/x.mp3", "http://[::ffff:7f00:1]/x.mp3",
                    "http://127.1/x.mp3"):
            with pytest.raises(RefusedAddress):
                await client.download_audio(url, tmp_path)


@pytest.mark.parametrize("url, error", [
    ("file:///etc/passwd", BadScheme), ("ftp://example.com/a.mp3", BadScheme), ("gopher://x/", BadScheme),
    ("http://user:secret@example.com/a.mp3", BadLink), ("http:///nohost", BadLink), ("not a link", BadScheme),
])
async def test_bad_links_are_refused_with_a_reason(tmp_path: Path, url: str, error: type[Exception]) -> None:
    async with GuardedClient(make_settings(tmp_path), transport=no_network()) as client:
        with pytest.raises(error):
            await client.download_audio(url, tmp_path)


# ------------------------------------------------------------------ local servers
async def test_loopback_is_refused_without_the_allowance(tmp_path: Path, web: FakeWeb) -> None:
    before = len(web.requests)
    async with client_for(tmp_path, allow_private_networks=False) as client:
        with pytest.raises(RefusedAddress, match="loopback"):
            await client.download_audio(web.url("/audio/pad_a.mp3"), tmp_path)
    assert len(web.requests) == before  # not even a connection


async def test_download_follows_redirects_and_keeps_the_audio(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path) as client:
        download = await client.download_audio(web.url("/chain/3"), tmp_path)
    assert download.path.read_bytes() == (AUDIO / "pad_b.mp3").read_bytes()
    assert download.container == "mp3" and download.url.endswith("/audio/pad_b.mp3")


async def test_too_many_redirects(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path, max_redirects=3) as client:
        with pytest.raises(TooManyRedirects):
            await client.download_audio(web.url("/chain/4"), tmp_path)


async def test_connection_goes_to_the_checked_address_with_the_name_kept(tmp_path: Path, web: FakeWeb) -> None:
    """DNS is asked once per hop and the socket goes to that answer: httpx never resolves the name itself
    (it could not: `music.test` exists only in the stub), so a rebinding DNS cannot slip in between."""
    dns = StubDNS({"music.test": ["127.0.0.1"]})
    async with client_for(tmp_path, resolver=dns) as client:
        download = await client.download_audio(f"http://music.test:{web.port}/audio/beat_a.ogg", tmp_path)
    assert download.container == "ogg" and download.url.startswith("http://music.test:")
    assert dns.calls == ["music.test"]
    assert ("/audio/beat_a.ogg", f"music.test:{web.port}") in web.requests


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{port}/audio/pad_a.mp3",
    "http://10.20.30.40/internal",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://internal.test/admin",
])
async def test_redirects_to_private_addresses_are_refused(
    tmp_path: Path, web: FakeWeb, public_web: FakeWeb, target: str
) -> None:
    dns = StubDNS({"internal.test": ["10.0.0.7"]})
    policy = AddressPolicy(allow_private=False, treat_as_public=frozenset({ipaddress.ip_address("127.0.0.2")}))
    before = len(web.requests)
    location = target.format(port=web.port)
    async with client_for(tmp_path, allow_private_networks=False, resolver=dns, policy=policy) as client:
        # Control: the "public" server itself is reachable under this policy, redirects included.
        ok = await client.download_audio(public_web.url("/chain/1"), tmp_path)
        assert ok.container == "mp3"
        with pytest.raises(RefusedAddress, match="not allowed"):
            await client.download_audio(public_web.url(f"/redirect?to={location}"), tmp_path)
    assert len(web.requests) == before  # the loopback server never saw a request


async def test_redirect_to_another_scheme_is_refused(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path) as client:
        with pytest.raises(BadScheme, match="non-web"):
            await client.download_audio(web.url("/redirect?to=file:///etc/passwd"), tmp_path)


async def test_two_gigabytes_announced_is_refused_without_reading_it(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path, download_max_bytes=1_000_000) as client:
        started = time.monotonic()
        with pytest.raises(TooBig, match="too big"):
            await client.download_audio(web.url("/huge"), tmp_path)
    assert time.monotonic() - started < 3
    assert web.sent["/huge"] < 64 * 1024 * 1024  # what the socket buffers took, not 2 GB
    assert list(tmp_path.iterdir()) == []


async def test_an_endless_body_is_cut_off_at_the_cap(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path, download_max_bytes=1_000_000) as client:
        with pytest.raises(TooBig, match="over the limit"):
            await client.download_audio(web.url("/endless"), tmp_path)
    assert 1_000_000 < web.sent["/endless"] < 64 * 1024 * 1024


async def test_a_compressed_bomb_is_capped_after_inflating(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path, download_max_bytes=1_000_000) as client:
        with pytest.raises(TooBig):
            await client.download_audio(web.url("/gzip-bomb"), tmp_path)


@pytest.mark.parametrize("path", ["/slow", "/stall"])
async def test_a_slow_server_times_out(tmp_path: Path, web: FakeWeb, path: str) -> None:
    async with client_for(tmp_path, download_timeout_s=1.0) as client:
        started = time.monotonic()
        with pytest.raises(TimedOut) as caught:
            await client.download_audio(web.url(path), tmp_path)
    assert time.monotonic() - started < 3
    assert caught.value.transient


@pytest.mark.parametrize("path", ["/page.html", "/page.mp3"])
async def test_web_pages_are_not_audio(tmp_path: Path, web: FakeWeb, path: str) -> None:
    async with client_for(tmp_path) as client:
        with pytest.raises(NotAudio, match="web page"):
            await client.download_audio(web.url(path), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing was written for the decoder


async def test_http_errors_say_whether_a_retry_can_help(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path) as client:
        with pytest.raises(HttpStatusError, match="404") as missing:
            await client.download_audio(web.url("/status/404"), tmp_path)
        with pytest.raises(HttpStatusError, match="503") as busy:
            await client.download_audio(web.url("/status/503"), tmp_path)
        with pytest.raises(UnexpectedContent, match="web page"):
            await client.get_json(web.url("/page.html"))
    assert not missing.value.transient and busy.value.transient


async def test_a_closed_port_is_unreachable_and_transient(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client_for(tmp_path) as client:
        with pytest.raises(Unreachable) as caught:
            await client.download_audio(f"http://127.0.0.1:{port}/a.mp3", tmp_path)
    assert caught.value.transient


async def test_short_link_walk_stops_at_a_recognised_url(tmp_path: Path, web: FakeWeb) -> None:
    async with client_for(tmp_path) as client:
        final = await client.final_url(
            web.url("/redirect?to=https://www.deezer.com/en/track/3135556"),
            stop_at=lambda url: url.host == "www.deezer.com",
        )
    assert final == "https://www.deezer.com/en/track/3135556"  # reached without connecting to deezer.com


# ------------------------------------------------------------------ malformed links (issue 13, item 11)
@pytest.mark.parametrize("location", [
    "http:127.0.0.1:18777/x.mp3",  # the input: httpx raised InvalidURL from inside `send`
    "https:127.0.0.1:18777/x.mp3",
    "http://xn--a.com/x.mp3",  # an IDNA label that does not decode
    "http://-bad-.com/x.mp3",
    "http://" + "a" * 64 + ".com/x.mp3",
    "http://x:99999/x.mp3",
])
async def test_a_malformed_redirect_is_a_clear_net_error(tmp_path: Path, web: FakeWeb, location: str) -> None:
    async with client_for(tmp_path) as client:
        for fetch in (lambda url: client.download_audio(url, tmp_path), client.final_url):
            with pytest.raises(BadLink, match=r"^127\.0\.0\.1 gave a malformed redirect") as caught:
                await fetch(web.url("/redirect?to=" + quote(location, safe="")))
            assert "codec" not in str(caught.value) and "InvalidURL" not in str(caught.value)


@pytest.mark.parametrize("link, problem", [
    ("http://xn--a.com/", ""),
    ("http://xn--localhost/", ""),
    ("http://" + "a" * 64 + ".com/", "longer than 63 characters"),
    ("http://-bad-.com", "starts or ends with a hyphen"),
    ("http://a..b/", "empty part"),
    ("http://\u2488.com/", ""),  # a character IDNA 2008 refuses
    ("http://%zz/", "characters that host names cannot have"),
])
async def test_host_names_no_dns_could_hold_are_a_bad_link(tmp_path: Path, link: str, problem: str) -> None:
    dns = StubDNS({})
    async with client_for(tmp_path, resolver=dns) as client:
        with pytest.raises(BadLink, match="host name is not valid") as caught:
            await client.check_url(link)
    assert problem in str(caught.value)
    assert "codec" not in str(caught.value) and "Codepoint" not in str(caught.value)
    assert dns.calls == []  # refused before any lookup


async def test_the_system_resolver_turns_a_codec_refusal_into_a_bad_link() -> None:
    with pytest.raises(BadLink, match="is not a valid host name"):
        await system_resolve("a" * 64 + ".com", 80)


@pytest.mark.parametrize("link", ["http://example.com/", "http://ex_ample.com./a", "http://[2001:db8::1]/",
                                  "https://b\u00fccher.example/x", "http://xn--bcher-kva.example/"])
def test_ordinary_host_names_still_parse(link: str) -> None:
    assert GuardedClient.parse(link).raw_host
