"""Imports of MPD slices and the CSV catalogue format."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from moodtape.core.pipeline.importer import ImportFormatError, detect_format, import_file, read_mpd
from moodtape.core.text import match_key
from moodtape.db.models import NewTrack
from moodtape.db.store import Store
from tests.conftest import FIXTURES


async def test_mpd_slice_keeps_order_and_dedupes_tracks(store: Store) -> None:
    report = await import_file(store, FIXTURES / "mpd_slice.json")
    assert report.format == "mpd"
    assert report.playlists_added == 3
    # 5 uris, but "Slow Chords (Remastered 2011)" is the same recording as "Slow Chords"
    assert report.tracks_new == 4 and report.tracks_matched == 1
    pairs = await store.playlist_pairs()
    workout = [tid for pid, tid in pairs if pid == 2]
    titles = [(await store.get_track(tid)).title for tid in workout]  # type: ignore[union-attr]
    assert titles == ["Drum Run", "Faster"]
    again = await import_file(store, FIXTURES / "mpd_slice.json")
    assert again.playlists_added == 0 and again.playlists_skipped == 3 and again.tracks_new == 0
    assert await store.count_tracks("metadata_only") == 4


async def test_gzipped_slice_and_matching_an_existing_file_track(store: Store, tmp_path: Path) -> None:
    existing, _ = await store.add_track(NewTrack(
        title="Drizzle", artist="NIGHT OWL", source_kind="file", content_hash="h", status="ready",
        match_key=match_key("NIGHT OWL", "Drizzle"),
    ))
    packed = tmp_path / "slice.json.gz"
    with open(FIXTURES / "mpd_slice.json", "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    await import_file(store, packed)
    members = {tid for _, tid in await store.playlist_pairs()}
    assert existing in members


async def test_csv_catalogue_with_playlist(store: Store) -> None:
    report = await import_file(store, FIXTURES / "catalogue.csv")
    assert report.format == "csv"
    assert report.tracks_new == 3 and report.rows_skipped == 1
    assert report.playlists_added == 1
    evening = [tid for _, tid in await store.playlist_pairs()]
    first = await store.get_track(evening[0])
    assert first is not None and first.title == "Drizzle, Again" and first.licence == "CC-BY-4.0"
    assert first.source == "https://example.org/drizzle.mp3" and first.status == "metadata_only"


def test_unknown_formats_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("name,singer\nfoo,bar\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="title"):
        detect_format(bad)


async def test_broken_json_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"playlists": [', encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not valid"):
        await import_file(store, bad)


def test_read_mpd_is_the_one_reader_of_plain_and_gzipped_slices(tmp_path: Path) -> None:
    plain = read_mpd(FIXTURES / "mpd_slice.json")
    packed = tmp_path / "slice.json.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "mpd_slice.json").read_bytes()))
    assert read_mpd(packed) == plain and len(plain.playlists) == 3
    with pytest.raises(ImportFormatError, match="no such file"):
        read_mpd(tmp_path / "missing.json")
