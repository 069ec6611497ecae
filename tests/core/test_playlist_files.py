"""Saved playlists: JSPF valid against the format's schema, XSPF well-formed in its namespace, M3U8 one entry per
song; hostile titles cannot break a file; a JSPF written by us is imported back onto the same songs."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from moodtape.core.pipeline.importer import import_file
from moodtape.core.playlist_files import XSPF_NAMESPACE, playlist_text
from moodtape.core.results import RecommendedTrack
from moodtape.db.store import Store

from tests.conftest import FIXTURES

SCHEMA = json.loads((FIXTURES / "export" / "jspf.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
NS = {"x": XSPF_NAMESPACE}

HOSTILE = "Bad\x00 ti\x1btle\r\n#EXTINF:1,injected\n/etc/passwd \ud800 </title><x>"


def songs(tmp_path: Path) -> list[RecommendedTrack]:
    return [
        RecommendedTrack(1, "Drizzle, Again", "Night Owl", "Rain", "https://example.org/drizzle.mp3", 0.9,
                         "calm — close to how you feel", duration_s=201.4, source_kind="url",
                         external_id="https://example.org/drizzle.mp3"),
        RecommendedTrack(2, "Pad", None, None, str(tmp_path / "a b.flac"), 0.8, "sad", source_kind="file"),
        RecommendedTrack(3, "Imported", "Somebody", None, "mpd_slice.json", 0.5, "", source_kind="catalogue",
                         external_id="spotify:track:6rqhFgbbKwnb9MLmUQDhG6"),
        RecommendedTrack(4, HOSTILE, HOSTILE, HOSTILE, None, 0.1, HOSTILE, source_kind="catalogue"),
    ]


def test_jspf_is_valid_and_keeps_what_a_player_needs(tmp_path: Path) -> None:
    data = json.loads(playlist_text("jspf", "Moodtape: “rain”", "why", songs(tmp_path)))
    assert not [error.message for error in VALIDATOR.iter_errors(data)]
    first, local, imported, hostile = data["playlist"]["track"]
    assert first["location"] == ["https://example.org/drizzle.mp3"] and first["duration"] == 201400
    assert first["creator"] == "Night Owl" and first["album"] == "Rain"
    assert local["location"] == [(tmp_path / "a b.flac").as_uri()]
    # no audio and no page of its own: a Deezer and a YouTube search for it
    assert imported["location"][0].startswith("https://www.deezer.com/search/Somebody%20Imported")
    assert imported["location"][1].startswith("https://www.youtube.com/results?search_query=Somebody+Imported")
    assert imported["identifier"] == ["spotify:track:6rqhFgbbKwnb9MLmUQDhG6"]
    assert hostile["title"].startswith("Bad")


def test_the_schema_check_can_fail() -> None:
    broken = {"playlist": {"track": [{"title": "x", "duration": -5, "location": ["not a link"], "titel": "y"}]}}
    assert len(list(VALIDATOR.iter_errors(broken))) == 3


def test_xspf_is_well_formed_in_its_namespace(tmp_path: Path) -> None:
    root = ElementTree.fromstring(playlist_text("xspf", "t", None, songs(tmp_path)).encode("utf-8"))
    assert root.tag == f"{{{XSPF_NAMESPACE}}}playlist" and root.get("version") == "1"
    tracks = root.findall("x:trackList/x:track", NS)
    assert len(tracks) == 4
    assert tracks[0].findtext("x:location", namespaces=NS) == "https://example.org/drizzle.mp3"
    assert tracks[0].findtext("x:duration", namespaces=NS) == "201400"
    assert "\x00" not in tracks[3].findtext("x:title", namespaces=NS)  # dropped: XML 1.0 cannot hold it


def test_m3u8_has_one_entry_per_song_whatever_the_titles(tmp_path: Path) -> None:
    text = playlist_text("m3u8", "t\nu", None, songs(tmp_path))
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[1] == "#PLAYLIST:t u"
    entries = [line for line in lines[2:] if not line.startswith("#")]
    infos = [line for line in lines[2:] if line.startswith("#EXTINF:")]
    assert len(entries) == len(infos) == 4  # the hostile title's line breaks did not add an entry
    assert infos[0] == "#EXTINF:201,Night Owl - Drizzle, Again" and infos[1] == "#EXTINF:-1,Pad"
    assert entries[1] == str(tmp_path / "a b.flac")  # a local file as a path, as players expect
    assert "/etc/passwd" not in entries


async def test_a_saved_jspf_imports_back_onto_the_same_songs(store: Store, tmp_path: Path) -> None:
    await import_file(store, FIXTURES / "catalogue.csv")
    originals = (await store.list_tracks(limit=None))[:3]
    answer = [RecommendedTrack.from_track(track, 1.0, "") for track in originals]
    saved = tmp_path / "saved.jspf"
    saved.write_text(playlist_text("jspf", "Round trip", None, answer), encoding="utf-8")
    report = await import_file(store, saved)
    assert report.format == "jspf" and report.tracks_new == 0 and report.playlists_added == 1
    pairs = await store.playlist_pairs()
    newest = max(playlist for playlist, _ in pairs)
    assert [track for playlist, track in pairs if playlist == newest] == [t.id for t in originals]
    again = await import_file(store, saved)
    assert again.playlists_added == 0 and again.playlists_skipped == 1


@pytest.mark.parametrize("body, message", [
    ('{"playlist": {"track": 5}}', "playlist.track is a number"),
    ('{"playlist": [1]}', "expected a JSPF playlist"),
    ('{"playlist": {"track": [', "not valid JSON"),
])
async def test_bad_jspf_is_one_clear_error(store: Store, tmp_path: Path, body: str, message: str) -> None:
    bad = tmp_path / "bad.jspf"
    bad.write_text(body)
    with pytest.raises(Exception, match=message):
        await import_file(store, bad)
    assert await store.count_tracks() == 0


async def test_bad_tracks_are_skipped_and_reported(store: Store, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jspf"
    mixed.write_text(json.dumps({"playlist": {"title": "m", "track": [
        {"title": "ok", "creator": "a", "location": ["https://www.deezer.com/search/a%20ok"]},
        5, {"creator": "no title"}, {"title": "long", "duration": "forever"}]}}))
    report = await import_file(store, mixed)
    assert report.tracks_new == 1 and report.tracks_skipped == 3
    assert report.problems[0].startswith("playlist.track[1]")
    (track,) = await store.list_tracks(limit=None)
    assert track.source == "mixed.jspf"  # a search link is not where the song is
