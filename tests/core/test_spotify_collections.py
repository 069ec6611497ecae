"""Spotify playlists and albums by link: read from the (unofficial) embed page, each track matched like a
single Spotify track link, capped, and hostile or changed pages refused with a sentence.

The embed pages are synthetic: `tests/fixtures/spotify/*.html` (hand-written hostile and mixed pages) and
`FakeWeb.add_spotify_list` (the same shape, any size), served on 127.0.0.1 by `tests/fakes/http_server.py`.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from moodtape.bot.cli import main
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.links import BadLink
from moodtape.core.links.spotify_collections import parse_embed_page, spotify_collection
from moodtape.core.pipeline.link_batch import LinkReport

from tests.core.test_links import engine, link_settings, web  # noqa: F401 - fixtures shared with the link tests
from tests.fakes.http_server import FakeWeb, spotify_embed_page

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "spotify"
PLAYLIST = "37i9dQZF1DXcBWIGoYBM5M"
ALBUM = "2noRn2Aes5aoNVsU6iWThc"
BIG = "5BigPlaylistOfTenThousd"[:22]
BROKEN = "0BrokenPageXXXXXXXXXXX"
MIXED = "1MixedEntriesXXXXXXXXX"


def sid(n: int) -> str:
    """A 22-character Spotify track id for test track `n`."""
    return f"7spotifytrack{n:09d}"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def spotify_lists(web: FakeWeb) -> None:  # noqa: F811
    # 30 songs: the first 25 are also on Deezer (with a preview), the last 5 only on Spotify
    for n in range(25):
        web.add_deezer(7100 + n, f"Tune {n}", f"Group {n % 5}", album="Road Songs")
    web.add_spotify_list("playlist", PLAYLIST, "Road trip",
                         [(sid(n), f"Tune {n}", f"Group {n % 5}") for n in range(30)])
    web.add_spotify_list("album", ALBUM, "Quiet Record",
                         [(sid(100 + n), f"Hush {n}", "Lonely Quartet, A Guest") for n in range(4)])
    web.add_spotify_list("playlist", BIG, "Ten thousand",
                         [(sid(1000 + n), f"Tune {n % 25}", f"Group {n % 5}") for n in range(10_000)])
    web.spotify_embeds[("playlist", BROKEN)] = fixture("no_next_data.html")
    web.spotify_embeds[("playlist", MIXED)] = fixture("playlist_mixed.html").replace(PLAYLIST, MIXED)


# ------------------------------------------------------------------ recognising links
@pytest.mark.parametrize("link, expected", [
    (f"https://open.spotify.com/playlist/{PLAYLIST}?si=x", ("playlist", PLAYLIST)),
    (f"https://open.spotify.com/intl-fr/album/{ALBUM}", ("album", ALBUM)),
    (f"https://open.spotify.com/track/{PLAYLIST}", None),
    (f"https://open.spotify.com/artist/{PLAYLIST}", None),
    ("https://open.spotify.com/playlist/short", None),
])
def test_which_links_are_spotify_collections(link: str, expected: tuple[str, str] | None) -> None:
    assert spotify_collection(httpx.URL(link)) == expected


# ------------------------------------------------------------------ reading the embed page
def test_a_mixed_page_keeps_the_songs_and_says_why_the_rest_was_left_out() -> None:
    listed = parse_embed_page(fixture("playlist_mixed.html"), "playlist", PLAYLIST, 200)
    assert listed.title == "Mixed bag </script-safe>" and listed.total == 9
    assert [(t.external_id, t.artist) for t in listed.tracks] == [
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQC", "Daft Punk"),  # listed twice: once
        ("spotify:track:1111111111111111111111", "Obscure Band, A Guest"),
        ("spotify:track:2222222222222222222222", "Aphex Twin"),
    ]
    first = listed.tracks[0]
    assert (first.title, first.url, first.has_audio, first.duration_s) == (
        "Harder, Better, Faster, Stronger", "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC", False, 224.693)
    assert listed.tracks[2].duration_s is None  # "6:06" is not milliseconds: left unknown, entry kept
    assert listed.skipped == [
        'entry 4 ("Talk About Music, Part 3"): a podcast episode, not a song',
        'entry 5 ("Home Recording"): a local file of the playlist\'s owner, which is not on Spotify',
        'entry 6 ("An Entry Without Uri"): no Spotify track id',
        "entry 7: no title",
        "entry 8: not a track entry",
    ]


def test_an_album_page_names_the_album_and_the_tracks_it_did_not_list() -> None:
    listed = parse_embed_page(fixture("album_paged.html"), "album", ALBUM, 200)
    assert listed.title == "Discovery" and listed.total == 14
    assert {t.album for t in listed.tracks} == {"Discovery"}
    assert listed.skipped == ["Spotify's page lists only the first 2 of the 14 tracks"]


@pytest.mark.parametrize("page, reason", [
    ("no_next_data.html", "has no track list I can read"),
    ("broken_json.html", "has track data I cannot read"),
    ("no_entity.html", "has no playlist data in it"),
    ("no_track_list.html", "has no track list in it"),
    ("other_playlist.html", "another list than the playlist asked for"),
])
def test_a_page_of_another_shape_is_refused_with_a_sentence(page: str, reason: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_embed_page(fixture(page), "playlist", PLAYLIST, 200)
    assert reason in str(caught.value) and "may have changed its unofficial embed page" in str(caught.value)


def test_hostile_pages_end_quickly_with_a_sentence() -> None:
    unclosed = "<script " * 400_000  # 3.2 MB of tags that never close: no pattern backtracking over it
    nested = '<script id="__NEXT_DATA__" type="application/json">' + "[" * 200_000 + "</script>"
    started = time.monotonic()
    for page, reason in ((unclosed, "no track list I can read"), (nested, "track data I cannot read")):
        with pytest.raises(UserError, match=reason):
            parse_embed_page(page, "playlist", PLAYLIST, 200)
    assert time.monotonic() - started < 5


def test_the_kind_of_list_is_checked_and_huge_fields_are_clipped() -> None:
    song = {"uri": f"spotify:track:{sid(1)}", "title": "x" * 1_000_000, "subtitle": "Band", "duration": 1e308}
    with pytest.raises(UserError, match="that Spotify link is a artist, not a playlist"):
        parse_embed_page(spotify_embed_page({"type": "Artist", "trackList": [song]}), "playlist", PLAYLIST, 10)
    listed = parse_embed_page(spotify_embed_page({"type": "PLAYLIST", "name": "n" * 10_000, "trackList": [song]}),
                              "playlist", PLAYLIST, 10)
    [track] = listed.tracks
    assert len(listed.title) == len(track.title) == 500 and track.duration_s is None


def test_ten_thousand_entries_stop_at_the_cap_and_bad_ones_do_not_flood_the_reasons() -> None:
    good = [{"uri": f"spotify:track:{sid(n)}", "title": f"Song {n}", "subtitle": "Band"} for n in range(10_000)]
    listed = parse_embed_page(spotify_embed_page({"type": "playlist", "name": "Huge", "trackList": good}),
                              "playlist", PLAYLIST, 200)
    assert len(listed.tracks) == 200 and listed.total == 10_000 and listed.skipped == []
    bad = [{"uri": f"spotify:episode:{sid(n)}", "title": f"Talk {n}"} for n in range(9_999)] + good[:1]
    listed = parse_embed_page(spotify_embed_page({"type": "playlist", "name": "Talk", "trackList": bad}),
                              "playlist", PLAYLIST, 200)
    assert [t.title for t in listed.tracks] == ["Song 0"]
    assert len(listed.skipped) == 21 and listed.skipped[-1] == "and 9979 more entries without a usable track"


def test_a_list_with_nothing_to_add_says_so() -> None:
    episodes = [{"uri": f"spotify:episode:{sid(n)}", "title": f"Talk {n}"} for n in range(3)]
    with pytest.raises(UserError, match=r"none of the 3 entries of that Spotify playlist is a song I can add "
                                        r"\(first: entry 1 \(\"Talk 0\"\): a podcast episode"):
        parse_embed_page(spotify_embed_page({"name": "Pods", "trackList": episodes}), "playlist", PLAYLIST, 10)
    with pytest.raises(UserError, match="that Spotify album is empty"):
        parse_embed_page(spotify_embed_page({"name": "Nothing", "trackList": []}), "album", ALBUM, 10)


# ------------------------------------------------------------------ through /add and `moodtape add`
async def test_a_spotify_playlist_of_thirty_adds_thirty(engine: Engine, web: FakeWeb) -> None:  # noqa: F811
    seen: list[tuple[int, int]] = []

    async def on_track(report: LinkReport, done: int, total: int) -> None:
        seen.append((done, total))

    report = await engine.add_links([f"https://open.spotify.com/playlist/{PLAYLIST}?si=abc"], embed=False,
                                    on_track=on_track)
    [collection] = report.collections
    assert (collection.service, collection.kind, collection.title, collection.size) == (
        "Spotify", "playlist", "Road trip", 30)
    assert report.added == 30 and not report.failed
    assert seen[0] == (1, 30) and seen[-1] == (30, 30)  # the bots edit one message as they arrive
    # matched as a single Spotify link is: the 25 that Deezer has become its previews, the rest metadata only
    assert sorted(r.service for r in report.results) == ["Deezer"] * 25 + ["Spotify"] * 5
    assert len(report.pending_ids) == 25 and len(await engine.store.jobs("queued")) >= 1
    tracks = await engine.store.get_tracks([r.track_id for r in report.results])
    only_spotify = sorted(t.external_id for t in tracks.values() if t.status == "metadata_only")
    assert only_spotify == [f"spotify:track:{sid(n)}" for n in range(25, 30)]
    again = await engine.add_links([f"spotify:playlist:{PLAYLIST}"], embed=False)  # the desktop app's URI
    assert again.added == 0 and again.known == 30


async def test_a_spotify_album_keeps_its_name_on_songs_kept_as_metadata(engine: Engine) -> None:  # noqa: F811
    report = await engine.add_links([f"https://open.spotify.com/intl-de/album/{ALBUM}"], embed=False)
    assert [(c.service, c.kind, c.title) for c in report.collections] == [("Spotify", "album", "Quiet Record")]
    tracks = await engine.store.get_tracks([r.track_id for r in report.results])
    assert sorted((t.title, t.artist, t.album, t.status) for t in tracks.values()) == [
        (f"Hush {n}", "Lonely Quartet, A Guest", "Quiet Record", "metadata_only") for n in range(4)]


async def test_ten_thousand_entries_stop_at_the_cap(tmp_path: Path, web: FakeWeb) -> None:  # noqa: F811
    capped = await Engine.open(link_settings(tmp_path, web, max_tracks_per_link=10))
    searches = web.hits["/deezer/search"]
    try:
        report = await capped.add_links([f"https://open.spotify.com/playlist/{BIG}",
                                         f"https://open.spotify.com/playlist/{PLAYLIST}"], embed=False)
    finally:
        await capped.close()
    big, road = report.collections
    assert (big.size, big.total, big.capped) == (10, 10_000, True)
    assert (road.size, road.total, road.capped) == (10, 30, True)
    # one Deezer search per track of the big list, none past the cap; the other playlist's first 10 are the
    # same songs ("Tune 0..9"), found in the catalogue before any search
    assert web.hits["/deezer/search"] - searches == 10
    assert report.added == 10 and report.known == 10 and not report.failed


async def test_a_broken_or_missing_list_fails_alone(engine: Engine) -> None:  # noqa: F811
    links = [f"https://open.spotify.com/playlist/{BROKEN}", "https://open.spotify.com/album/9NoSuchAlbumXXXXXXXXXX",
             f"https://open.spotify.com/playlist/{MIXED}", "https://open.spotify.com/track/1111111111111111111111"]
    report = await engine.add_links(links, embed=False)
    reasons = dict(report.failed)
    assert set(reasons) == set(links[:2])
    assert "Spotify's page for that playlist has no track list I can read" in reasons[links[0]]
    assert "unofficial embed page" in reasons[links[0]]
    assert reasons[links[1]] == "Spotify has no album 9NoSuchAlbumXXXXXXXXXX (or it is private)"
    [mixed] = report.collections
    assert mixed.size == 3 and len(mixed.skipped) == 5  # the bad entries left out, the songs added
    *from_list, single = report.results
    assert sorted(r.label for r in from_list) == [
        "Aphex Twin - Windowlicker", "Daft Punk - Harder Better Faster Stronger",
        "Obscure Band, A Guest - A Song Only Spotify Has"]
    # the single track link after it is the same Spotify track: recognised, not added twice
    assert not single.created and single.track_id == from_list[1].track_id


async def test_a_single_spotify_track_link_still_refuses_a_playlist_where_one_song_is_meant(
        engine: Engine) -> None:  # noqa: F811
    with pytest.raises(BadLink, match="Spotify playlist: send a link to one track"):
        await engine.similar(f"https://open.spotify.com/playlist/{PLAYLIST}")


def test_the_cli_names_the_spotify_playlist(tmp_path: Path, web: FakeWeb, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings = link_settings(tmp_path, web)
    monkeypatch.setenv("MOODTAPE_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("MOODTAPE_DEMO", str(settings.demo))
    for name in ("deezer_api_url", "spotify_open_url", "spotify_oembed_url"):
        monkeypatch.setenv(f"MOODTAPE_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("MOODTAPE_MAX_TRACKS_PER_LINK", "5")
    code = main(["--db", str(tmp_path / "cli.db"), "add", "--no-embed", f"https://open.spotify.com/playlist/{PLAYLIST}"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'Spotify playlist "Road trip": 5 track(s) (the first 5 of 30' in out
    assert out.count("[Deezer]") == 5  # each matched to its Deezer preview
