"""Whole Deezer playlists and albums and YouTube playlists by link: every track added once, capped, paged,
hostile pages survived."""

from __future__ import annotations

from pathlib import Path

import pytest
from moodtape.bot.cli import main
from moodtape.core.engine import Engine
from moodtape.core.pipeline.link_batch import LinkReport

from tests.core.test_links import (  # noqa: F401 - fixtures shared with the link tests
    engine,
    link_settings,
    make_service,
    web,
    youtube_info,
)
from tests.fakes.dns import StubDNS
from tests.fakes.http_server import FakeWeb
from tests.fakes.ytdlp import FakeYoutubeDL, factory

PLAYLIST = 908622995
ALBUM = 302127


@pytest.fixture(autouse=True)
def catalogue(web: FakeWeb) -> None:  # noqa: F811
    for n in range(30):
        web.add_deezer(7000 + n, f"Song {n}", f"Band {n % 7}", album="Mixed", preview="/audio/pad_a.mp3")
    web.add_deezer_list("playlist", PLAYLIST, "Thirty songs", [7000 + n for n in range(30)])
    web.add_deezer_list("playlist", PLAYLIST + 1, "Repeats and a broken entry", [7000, 7001, 7000, 999999, 7002])
    web.add_deezer_list("album", ALBUM, "An Album", [7010, 7011, 7012])


async def test_a_playlist_of_thirty_adds_thirty(engine: Engine, web: FakeWeb) -> None:  # noqa: F811
    seen: list[tuple[int, int]] = []

    async def on_track(report: LinkReport, done: int, total: int) -> None:
        seen.append((done, total))

    def pages() -> int:
        return sum(1 for path, _ in web.requests if path.startswith(f"/deezer/playlist/{PLAYLIST}/tracks?"))

    before = pages()
    report = await engine.add_links([f"https://www.deezer.com/en/playlist/{PLAYLIST}"], embed=False,
                                    on_track=on_track)
    assert [c.title for c in report.collections] == ["Thirty songs"] and not report.failed
    assert report.added == 30 and len(set(report.pending_ids)) == 30
    assert seen[0] == (1, 30) and seen[-1] == (30, 30)  # a bot can say "12/30 added" as they arrive
    assert pages() - before == 2  # 25 per page here: paged, and the hostile `next` link was not followed
    again = await engine.add_links([f"https://www.deezer.com/playlist/{PLAYLIST}"], embed=False)
    assert again.added == 0 and again.known == 30


async def test_the_cap_and_the_duplicates(tmp_path: Path, web: FakeWeb) -> None:  # noqa: F811
    capped = await Engine.open(link_settings(tmp_path, web, max_tracks_per_link=10))
    try:
        report = await capped.add_links([f"https://www.deezer.com/playlist/{PLAYLIST}",
                                         f"https://www.deezer.com/playlist/{PLAYLIST + 1}"], embed=False)
    finally:
        await capped.close()
    first, second = report.collections
    assert len(first.tracks) == 10 and first.capped and first.total == 30
    # 7000 twice in the list: once; the entry without a title: left out, the rest goes on
    assert [t.external_id for t in second.tracks] == ["deezer:7000", "deezer:7001", "deezer:7002"]
    assert report.added == 10 and report.known == 3 and not report.failed


async def test_an_album_names_its_tracks_album(engine: Engine) -> None:  # noqa: F811
    report = await engine.add_links([f"https://www.deezer.com/album/{ALBUM}"], embed=False)
    tracks = await engine.store.get_tracks([r.track_id for r in report.results])
    assert sorted(t.title for t in tracks.values()) == ["Song 10", "Song 11", "Song 12"]


async def test_a_missing_playlist_fails_alone(engine: Engine) -> None:  # noqa: F811
    report = await engine.add_links(["https://www.deezer.com/playlist/1", "https://www.deezer.com/track/7005"],
                                    embed=False)
    assert report.failed == [("https://www.deezer.com/playlist/1", "Deezer has no playlist 1")]
    assert report.added == 1


def test_the_cli_names_the_playlist(tmp_path: Path, web: FakeWeb, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = link_settings(tmp_path, web)
    for name in ("allow_private_networks", "deezer_api_url", "demo"):
        monkeypatch.setenv(f"MOODTAPE_{name.upper()}", str(getattr(settings, name)).lower()
                           if isinstance(getattr(settings, name), bool) else str(getattr(settings, name)))
    monkeypatch.setenv("MOODTAPE_MAX_TRACKS_PER_LINK", "5")
    code = main(["--db", str(tmp_path / "cli.db"), "add", "--no-embed",
                 f"https://www.deezer.com/playlist/{PLAYLIST}"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'Deezer playlist "Thirty songs": 5 track(s) (the first 5 of 30' in out
    assert out.count("[Deezer]") == 5


async def test_a_youtube_playlist_adds_each_video_once(engine: Engine, web: FakeWeb) -> None:  # noqa: F811
    videos = {f"https://www.youtube.com/watch?v=vid0000000{n}": youtube_info(
        web, id=f"vid0000000{n}", title=f"Band {n} - Song {n}", webpage_url=f"https://www.youtube.com/watch?v=vid0000000{n}")
        for n in range(3)}
    entries = [{"_type": "url", "ie_key": "Youtube", "url": url, "title": info["title"]} for url, info in videos.items()]
    entries.append(dict(entries[0]))  # the same video twice in the list: added once
    entries.append({"_type": "url", "ie_key": "Youtube", "url": "https://www.youtube.com/watch?v=gone0000000"})
    entries.append({"_type": "url", "url": "http://169.254.169.254/latest/meta-data"})  # not a site extractor: left out
    playlist_url = "https://www.youtube.com/playlist?list=PLroadmix"
    playlist = {"_type": "playlist", "id": "PLroadmix", "title": "Road mix", "extractor_key": "YoutubeTab",
                "webpage_url": playlist_url, "entries": entries}
    engine.links = make_service(engine.settings, StubDNS({"www.youtube.com": ["127.0.0.1"]}),
                                factory({playlist_url: playlist, **videos}))
    FakeYoutubeDL.built.clear()
    report = await engine.add_links([playlist_url], embed=False)
    [collection] = report.collections
    assert (collection.service, collection.title, collection.size, collection.total) == ("YouTube", "Road mix", 4, 6)
    assert report.added == 3 and sorted(r.label for r in report.results) == [f"Band {n} - Song {n}" for n in range(3)]
    assert report.failed == [("https://www.youtube.com/watch?v=gone0000000", report.failed[0][1])]
    assert "unavailable" in report.failed[0][1].lower()
    assert FakeYoutubeDL.built[0]["playlistend"] == engine.settings.max_tracks_per_link  # later pages never fetched
    watch_with_list = await engine.links.expand("https://www.youtube.com/watch?v=vid00000001&list=PLroadmix", 10)
    assert watch_with_list is None  # a video opened from a playlist is that one video
