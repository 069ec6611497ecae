"""Links -> tracks: Deezer, Spotify, direct audio and yt-dlp sites, against local fakes (no internet).

Deezer's API and Spotify's oEmbed/page are played by `tests/fakes/http_server.py` (their base URLs are
settings); YouTube is played by a fake `YoutubeDL` (tests/fakes/ytdlp.py) so everything around yt-dlp runs
for real.  Host names such as www.youtube.com resolve through a stub DNS to the local server.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import ipaddress

import pytest
from yt_dlp import YoutubeDL

from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import QueryError, UserError
from moodtape.core.links import (
    AddressPolicy,
    BadLink,
    GuardedClient,
    LinkService,
    NotAudio,
    RefusedAddress,
    ServiceError,
    TooBig,
    looks_like_link,
)
from moodtape.core.links.spotify import spotify_page_artist_album
from moodtape.core.links.ytdlp import YtDlpSource, ytdlp_options
from tests.conftest import AUDIO, make_settings
from tests.fakes.dns import StubDNS
from tests.fakes.http_server import FakeWeb
from tests.fakes.ytdlp import FakeYoutubeDL, factory

SPOTIFY_ID = "4uLU6hMCjMI75M1A2tKUQC"
YOUTUBE = "https://www.youtube.com/watch?v=abcdefghijk"
LOOPBACK_AS_PUBLIC = frozenset({ipaddress.ip_address("127.0.0.1")})


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_deezer(3135556, "Harder Better Faster Stronger", "Daft Punk", album="Discovery")
        server.add_deezer(1109731, "Windowlicker", "Aphex Twin", preview="/audio/beat_b.mp3")
        server.add_deezer(424242, "Silent Track", "Nobody", preview=None)
        server.add_spotify(SPOTIFY_ID, "Harder, Better, Faster, Stronger", "Daft Punk", "Discovery")
        server.add_spotify("1111111111111111111111", "A Song Only Spotify Has", "Obscure Band")
        server.add_spotify("2222222222222222222222", "Windowlicker", "Aphex Twin")
        yield server


def link_settings(tmp_path: Path, web: FakeWeb, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_networks": True, "demo": "never", "download_timeout_s": 5.0,
        "deezer_api_url": web.url("/deezer"), "spotify_oembed_url": web.url("/spotify/oembed"),
        "spotify_open_url": web.url("/spotify"),
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


def youtube_info(web: FakeWeb, **extra: Any) -> dict[str, Any]:
    info = {"id": "abcdefghijk", "title": "Daft Punk - One More Time (Official Video)", "duration": 320,
            "extractor_key": "Youtube", "webpage_url": YOUTUBE, "url": web.url("/audio/beat_a.ogg"),
            "protocol": "https", "acodec": "opus", "vcodec": "none", "ext": "ogg",
            "http_headers": {"User-Agent": "yt-dlp-ua", "Cookie": "must-not-be-forwarded"}}
    info.update(extra)
    return info


def make_service(settings: Settings, dns: StubDNS | None = None, ytdlp: Any = None) -> LinkService:
    return LinkService(settings, client=GuardedClient(settings, resolver=dns), ytdlp_factory=ytdlp)


@pytest.fixture
async def engine(tmp_path: Path, web: FakeWeb, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engine]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where downloads land: checked for leftovers
    opened = await Engine.open(link_settings(tmp_path, web))
    dns = StubDNS({"www.youtube.com": ["127.0.0.1"], "deezer.page.link": ["127.0.0.1"]})
    opened.links = make_service(opened.settings, dns, factory({YOUTUBE: youtube_info(web)}))
    try:
        yield opened
    finally:
        await opened.close()
    assert list(scratch.iterdir()) == []  # no audio (or probe) left behind


# ------------------------------------------------------------------ recognising links
@pytest.mark.parametrize("text, expected", [
    ("https://www.deezer.com/track/1", True), ("http://example.com/a.mp3", True), (f"spotify:track:{SPOTIFY_ID}", True),
    ("HTTPS://EXAMPLE.COM/X", True), ("Daft Punk - One More Time", False), ("/music/a.mp3", False),
    ("ftp://example.com/a.mp3", False), ("https://example.com/a b.mp3", False), ("42", False), ("", False),
])
def test_what_counts_as_a_link(text: str, expected: bool) -> None:
    assert looks_like_link(text) is expected


# ------------------------------------------------------------------ Deezer
@pytest.mark.parametrize("link", [
    "https://www.deezer.com/en/track/3135556", "https://deezer.com/track/3135556?utm_source=x",
    "https://www.deezer.com/pt-br/track/3135556#top",
])
async def test_deezer_track_links_give_metadata(engine: Engine, link: str) -> None:
    info = await engine.links.resolve(link)
    assert (info.service, info.title, info.artist, info.album) == (
        "Deezer", "Harder Better Faster Stronger", "Daft Punk", "Discovery")
    assert info.external_id == "deezer:3135556" and info.url == "https://www.deezer.com/track/3135556"
    assert info.duration_s == 215 and info.has_audio


async def test_deezer_errors_are_clear(engine: Engine) -> None:
    with pytest.raises(BadLink, match="Deezer album"):
        await engine.links.resolve("https://www.deezer.com/fr/album/302127")
    with pytest.raises(UserError, match="Deezer has no track 999"):
        await engine.links.resolve("https://www.deezer.com/track/999")


async def test_deezer_short_link_is_followed_through_the_guarded_client(engine: Engine, web: FakeWeb) -> None:
    short = f"http://deezer.page.link:{web.port}/redirect?to=https://www.deezer.com/fr/track/1109731%3Fhost%3D1"
    info = await engine.links.resolve(short)
    assert info.external_id == "deezer:1109731" and info.artist == "Aphex Twin"
    assert "www.deezer.com" not in engine.links.client._resolver.calls  # type: ignore[union-attr]


async def test_a_deezer_link_becomes_pending_then_ready(engine: Engine, web: FakeWeb) -> None:
    result = await engine.add_link("https://www.deezer.com/en/track/1109731", added_by="tg:1")
    assert result.created and result.status == "pending" and "Aphex Twin - Windowlicker" in result.message
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.source_kind == "url" and track.added_by == "tg:1"
    assert [j.kind for j in await engine.store.jobs("queued")] == ["embed"]
    previews_before = web.hits["/audio/beat_b.mp3"]
    summary = await engine.worker().tick()
    assert summary["jobs"][0]["ready"] == [result.track_id]
    assert web.hits["/audio/beat_b.mp3"] == previews_before + 1  # downloaded once, for embedding
    assert (await engine.store.get_track(result.track_id)).status == "ready"  # type: ignore[union-attr]
    again = await engine.add_link("https://deezer.com/track/1109731")
    assert not again.created and again.track_id == result.track_id and "already in the catalogue" in again.message


async def test_a_deezer_track_without_preview_is_metadata_only(engine: Engine) -> None:
    result = await engine.add_link("https://www.deezer.com/track/424242")
    assert result.status == "metadata_only" and "no preview" in result.message


# ------------------------------------------------------------------ Spotify
async def test_spotify_gives_metadata_only_and_says_so(engine: Engine) -> None:
    result = await engine.add_link("https://open.spotify.com/intl-de/track/1111111111111111111111?si=abc")
    assert result.created and result.status == "metadata_only" and result.service == "Spotify"
    assert "Spotify offers no audio" in result.message and "metadata only" in result.message
    track = await engine.store.get_track(result.track_id)
    assert track is not None and (track.title, track.artist) == ("A Song Only Spotify Has", "Obscure Band")
    assert track.external_id == "spotify:track:1111111111111111111111"
    assert await engine.store.jobs("queued") == []  # nothing to embed
    again = await engine.add_link("spotify:track:1111111111111111111111")
    assert not again.created and again.track_id == result.track_id


async def test_spotify_is_matched_to_the_same_song_on_deezer(engine: Engine) -> None:
    result = await engine.add_link(f"https://open.spotify.com/track/{SPOTIFY_ID}")
    assert result.created and result.status == "pending" and result.service == "Deezer"
    assert "Spotify offers no audio" in result.message and "Deezer" in result.message
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.external_id == "deezer:3135556"


async def test_spotify_is_matched_to_the_catalogue_first(engine: Engine) -> None:
    deezer = await engine.add_link("https://www.deezer.com/track/1109731")
    result = await engine.add_link("https://open.spotify.com/track/2222222222222222222222")
    assert not result.created and result.track_id == deezer.track_id
    assert "already in the catalogue" in result.message
    assert await engine.store.count_tracks() == 1


async def test_spotify_album_links_are_refused(engine: Engine) -> None:
    with pytest.raises(BadLink, match="Spotify album"):
        await engine.add_link(f"https://open.spotify.com/album/{SPOTIFY_ID}")


# ------------------------------------------------------------------ direct audio
async def test_a_direct_audio_link_is_added_with_its_name(engine: Engine, web: FakeWeb) -> None:
    result = await engine.add_link(web.url("/audio/pad_b.mp3"))
    assert result.created and result.status == "pending" and result.title == "pad b"
    track = await engine.store.get_track(result.track_id)
    assert track is not None and track.external_id == f"url:{web.url('/audio/pad_b.mp3')}"
    report = await engine.embed_pending()
    assert report.ready == [result.track_id]


@pytest.mark.parametrize("link, error, message", [
    ("hello there", BadLink, "not a link"),
    ("ftp://example.com/song.mp3", BadLink, "not a link"),
    ("/page.html", NotAudio, "web page"),
    ("/status/404", UserError, "404"),
    ("/huge", TooBig, "too big"),
])
async def test_unusable_links_get_a_clear_message_and_add_nothing(
    engine: Engine, web: FakeWeb, link: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await engine.add_link(web.url(link) if link.startswith("/") else link)
    assert await engine.store.count_tracks() == 0


# ------------------------------------------------------------------ yt-dlp sites
async def test_a_youtube_link_goes_through_ytdlp_and_the_guarded_download(engine: Engine, web: FakeWeb) -> None:
    FakeYoutubeDL.built.clear()
    result = await engine.add_link(YOUTUBE)
    assert result.created and result.service == "YouTube" and result.status == "pending"
    track = await engine.store.get_track(result.track_id)
    assert track is not None and (track.artist, track.title) == ("Daft Punk", "One More Time (Official Video)")
    assert track.external_id == "youtube:abcdefghijk" and track.duration_s == 320
    before = [r for r in web.requests if r[0] == "/audio/beat_a.ogg"]
    summary = await engine.worker().tick()
    assert summary["jobs"][0]["ready"] == [result.track_id]
    fetched = [r for r in web.requests if r[0] == "/audio/beat_a.ogg"][len(before):]
    assert len(fetched) == 1  # the media URL was downloaded by our client, not by yt-dlp
    assert all(params["max_filesize"] == engine.settings.download_max_bytes for params in FakeYoutubeDL.built)


async def test_ytdlp_never_sees_a_link_whose_host_is_private(tmp_path: Path, web: FakeWeb) -> None:
    settings = link_settings(tmp_path, web, allow_private_networks=False)
    FakeYoutubeDL.built.clear()
    service = make_service(settings, StubDNS({"www.youtube.com": ["10.1.2.3"]}), factory({YOUTUBE: youtube_info(web)}))
    async with service.client:
        with pytest.raises(RefusedAddress, match="www.youtube.com"):
            await service.resolve(YOUTUBE)
    assert FakeYoutubeDL.built == []  # refused before yt-dlp was even created


async def test_ytdlp_media_urls_are_checked_too(tmp_path: Path, web: FakeWeb) -> None:
    settings = link_settings(tmp_path, web)
    info = youtube_info(web, url="http://169.254.169.254/latest/meta-data/")
    service = make_service(settings, StubDNS({"www.youtube.com": ["127.0.0.1"]}), factory({YOUTUBE: info}))
    async with service.client:
        with pytest.raises(RefusedAddress, match="metadata"):
            async with service.audio(YOUTUBE):
                pass


@pytest.mark.parametrize("extra, message", [
    ({"_type": "playlist", "entries": [{"id": "x"}]}, "playlist"),
    ({"duration": 4 * 3600}, "too long"),
    ({"is_live": True}, "live"),
])
async def test_ytdlp_refuses_playlists_long_tracks_and_streams(
    tmp_path: Path, web: FakeWeb, extra: dict[str, Any], message: str
) -> None:
    settings = link_settings(tmp_path, web)
    service = make_service(settings, StubDNS({"www.youtube.com": ["127.0.0.1"]}),
                           factory({YOUTUBE: youtube_info(web, **extra)}))
    async with service.client:
        with pytest.raises(ServiceError, match=message):
            await service.resolve(YOUTUBE)


async def test_ytdlp_segmented_downloads_are_sniffed_and_capped(tmp_path: Path, web: FakeWeb) -> None:
    """HLS formats are fetched by yt-dlp itself; what it leaves is size-checked and sniffed afterwards."""
    settings = link_settings(tmp_path, web, download_max_bytes=60_000)
    hls = youtube_info(web, protocol="m3u8_native", url=web.url("/audio/index.m3u8"))
    for source, error in ((AUDIO / "beat_a.ogg", None), (AUDIO / "notes.txt", NotAudio), (AUDIO / "pad_a.wav", TooBig)):
        service = make_service(settings, StubDNS({"www.youtube.com": ["127.0.0.1"]}),
                               factory({YOUTUBE: hls}, {"abcdefghijk": source}))
        async with service.client:
            if error is None:
                async with service.audio(YOUTUBE) as path:
                    assert path.read_bytes() == source.read_bytes()
                assert not path.exists()  # deleted after use
            else:
                with pytest.raises(error):
                    async with service.audio(YOUTUBE):
                        pass


def test_ytdlp_options_cap_size_duration_and_sources(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, download_max_bytes=12_345_678, max_duration_s=600, download_timeout_s=20)
    options = ytdlp_options(settings, tmp_path)
    assert options["max_filesize"] == 12_345_678 and "12345678" in options["format"]
    assert options["format"].startswith("bestaudio") and "/best/" not in options["format"]
    assert options["noplaylist"] is True and options["extract_flat"] == "in_playlist"
    assert options["socket_timeout"] == 20 and options["proxy"] == ""  # no proxy from the environment either
    assert ytdlp_options(settings, tmp_path, "http://127.0.0.1:9")["proxy"] == "http://127.0.0.1:9"
    assert options["external_downloader"] == {"default": "native"}  # segments through the proxy, not ffmpeg
    loaded = YoutubeDL(options)  # the real yt-dlp accepts them and drops the generic extractor
    names = {name.lower() for name in loaded._ies}  # noqa: SLF001
    assert "youtube" in names and "generic" not in names

    def chosen(formats: list[dict[str, Any]]) -> list[str]:
        selector = loaded.build_format_selector(options["format"])
        ctx = {"formats": formats, "has_merged_format": False, "incomplete_formats": False}
        return [f["format_id"] for f in selector(ctx)]

    def audio(fid: str, protocol: str, abr: int) -> dict[str, Any]:
        return {"format_id": fid, "protocol": protocol, "acodec": "opus", "vcodec": "none", "abr": abr,
                "url": f"{protocol}://media.example/{fid}", "ext": "webm"}

    rtmp, hls, dash, plain = (audio("rtmp", "rtmp", 320), audio("hls", "m3u8_native", 128),
                              audio("dash", "http_dash_segments", 160), audio("plain", "https", 96))
    assert chosen([rtmp, hls, dash, plain]) == ["plain"]  # the guarded client can fetch it
    assert chosen([rtmp, dash, hls]) == ["hls"]  # then yt-dlp's native downloaders, through the proxy
    assert chosen([rtmp, dash]) == ["dash"]
    assert chosen([rtmp]) == []  # an external program (rtmpdump, ffmpeg) would fetch around the proxy
    check = options["match_filter"]
    assert check({"duration": 599}) is None and "too long" in check({"duration": 601})
    assert "live" in check({"duration": 10, "is_live": True})
    assert options["outtmpl"]["default"].startswith(str(tmp_path))


def fake_site_ytdlp(api: str, hls: str | None = None) -> Any:
    """Real yt-dlp with one real extractor added, for an invented site whose track API is `api`.

    Everything yt-dlp's networking does (the API call, its redirects) happens for real, through the proxy.
    """
    from yt_dlp.extractor.common import InfoExtractor

    class FakeSiteIE(InfoExtractor):
        IE_NAME = "fakesite"
        _VALID_URL = r"https?://tracks\.music\.test/t/(?P<id>\d+)"

        def _real_extract(self, url: str) -> dict[str, Any]:
            track_id = self._match_id(url)
            data = self._download_json(f"{api}/deezer/track/{track_id}", track_id)
            audio = {"url": data["preview"], "ext": "mp3", "acodec": "mp3", "protocol": "http"}
            if hls is not None:  # a segmented format: fetched by yt-dlp's own downloader
                audio = {"url": hls, "ext": "ogg", "acodec": "vorbis", "protocol": "m3u8_native"}
            return {"id": track_id, "title": data["title"], "artists": [data["artist"]["name"]],
                    "duration": data["duration"], "vcodec": "none", **audio}

    def make(params: dict[str, Any]) -> YoutubeDL:
        ydl = YoutubeDL(params)  # type: ignore[arg-type]
        ydl.add_info_extractor(FakeSiteIE())
        return ydl

    return make


async def test_real_ytdlp_extraction_runs_through_the_address_checks(tmp_path: Path, web: FakeWeb) -> None:
    settings = link_settings(tmp_path, web, allow_private_networks=False)
    dns = StubDNS({"tracks.music.test": ["127.0.0.1"], "api.music.test": ["127.0.0.1"]})
    client = GuardedClient(settings, resolver=dns, policy=AddressPolicy(treat_as_public=LOOPBACK_AS_PUBLIC))
    source = YtDlpSource(settings, client, fake_site_ytdlp(f"http://api.music.test:{web.port}"))
    async with client:
        info = await source.info("http://tracks.music.test/t/3135556")
        path = await source.download("http://tracks.music.test/t/3135556", tmp_path)
    assert (info["title"], info["artist"]) == ("Harder Better Faster Stronger", "Daft Punk")
    assert path.read_bytes() == (AUDIO / "pad_a.mp3").read_bytes()
    assert "api.music.test" in dns.calls  # the API host was checked, by the proxy


async def test_real_ytdlp_extraction_redirected_to_a_private_address_is_refused(tmp_path: Path, web: FakeWeb) -> None:
    with FakeWeb(host="127.0.0.2") as private:
        private.add_deezer(3135556, "Internal", "Intranet")
        settings = link_settings(tmp_path, web, allow_private_networks=False)
        dns = StubDNS({"tracks.music.test": ["127.0.0.1"], "api.music.test": ["127.0.0.1"]})
        client = GuardedClient(settings, resolver=dns, policy=AddressPolicy(treat_as_public=LOOPBACK_AS_PUBLIC))
        api = f"http://api.music.test:{web.port}/redirect?to={private.base}"
        source = YtDlpSource(settings, client, fake_site_ytdlp(api))
        async with client:
            with pytest.raises(RefusedAddress, match="127.0.0.2.*loopback"):
                await source.info("http://tracks.music.test/t/3135556")
        assert private.requests == []  # the private server never saw a request


async def test_real_ytdlp_segment_fetches_are_checked_one_by_one(tmp_path: Path, web: FakeWeb) -> None:
    """HLS segments are fetched by yt-dlp itself: through the proxy, so a segment on a private host is refused."""
    with FakeWeb(host="127.0.0.2") as private:
        web.playlists["good.m3u8"] = [f"http://media.music.test:{web.port}/audio/beat_a.ogg"]
        web.playlists["sneaky.m3u8"] = [private.url("/audio/beat_a.ogg")]
        settings = link_settings(tmp_path, web, allow_private_networks=False)
        dns = StubDNS({name: ["127.0.0.1"] for name in ("tracks.music.test", "api.music.test", "media.music.test")})
        client = GuardedClient(settings, resolver=dns, policy=AddressPolicy(treat_as_public=LOOPBACK_AS_PUBLIC))
        api = f"http://api.music.test:{web.port}"
        async with client:
            good = YtDlpSource(settings, client, fake_site_ytdlp(api, f"http://media.music.test:{web.port}/hls/good.m3u8"))
            path = await good.download("http://tracks.music.test/t/3135556", tmp_path / "good")
            assert path.read_bytes() == (AUDIO / "beat_a.ogg").read_bytes()
            sneaky = YtDlpSource(settings, client, fake_site_ytdlp(api, f"http://media.music.test:{web.port}/hls/sneaky.m3u8"))
            with pytest.raises(RefusedAddress, match="127.0.0.2"):
                await sneaky.download("http://tracks.music.test/t/3135556", tmp_path / "sneaky")
        assert private.requests == []


# ------------------------------------------------------------------ similar <link>
async def test_similar_to_a_link_embeds_on_the_fly_and_keeps_nothing(engine: Engine, web: FakeWeb) -> None:
    await engine.add_files([AUDIO / "beat_a.ogg", AUDIO / "pad_b.mp3"])
    result = await engine.similar(web.url("/audio/beat_b.mp3"), 2)
    assert result.query.kind == "link" and result.query.service == "the web"
    assert result.tracks[0].title == "beat a"
    assert await engine.store.count_tracks() == 2  # the query's track was not added


async def test_similar_to_a_link_already_in_the_catalogue_uses_it(engine: Engine, web: FakeWeb) -> None:
    await engine.add_files([AUDIO / "beat_a.ogg", AUDIO / "pad_b.mp3"])
    added = await engine.add_link("https://www.deezer.com/track/1109731")
    await engine.embed_pending()
    downloads = web.hits["/audio/beat_b.mp3"]
    result = await engine.similar("https://www.deezer.com/en/track/1109731", 2)
    assert result.query.track.id == added.track_id and added.track_id not in [t.id for t in result.tracks]
    assert web.hits["/audio/beat_b.mp3"] == downloads  # no download: the catalogue's vector was used


async def test_similar_to_a_spotify_link_without_any_audio_says_why(engine: Engine) -> None:
    await engine.add_files([AUDIO / "beat_a.ogg"])
    with pytest.raises(QueryError, match="Spotify offers no audio"):
        await engine.similar("https://open.spotify.com/track/1111111111111111111111")


async def test_a_failed_link_is_retried_when_added_again(engine: Engine, web: FakeWeb) -> None:
    link = web.url("/audio/truncated.flac")
    first = await engine.add_link(link)
    await engine.embed_pending()
    failed = await engine.store.get_track(first.track_id)
    assert failed is not None and failed.status == "failed" and failed.error
    again = await engine.add_link(link)
    assert again.track_id == first.track_id and again.status == "pending" and "trying again" in again.message


@pytest.mark.parametrize("page, expected", [
    ('<meta property="og:description" content="Daft Punk · Discovery · Song · 2001"/>', ("Daft Punk", "Discovery")),
    ('<meta property="og:description" content="Daft Punk · Song · 2001"/>', ("Daft Punk", None)),
    ("<title>Harder - song and lyrics by Daft Punk | Spotify</title>", ("Daft Punk", None)),
    ('<meta name="music:musician_description" content="Simon &amp; Garfunkel"/>', ("Simon & Garfunkel", None)),
    ("<html><body>nothing here</body></html>", (None, None)),
])
def test_spotify_page_data_in_the_formats_seen(page: str, expected: tuple[str | None, str | None]) -> None:
    assert spotify_page_artist_album(page) == expected
