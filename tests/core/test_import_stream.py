"""Streaming imports (issue 16, item 5): the file is read a chunk at a time and written a batch at a time.

The readers must give the same catalogue however the text is cut into chunks (values, lines, multi-byte
characters and "\\r\\n" split across them), batches must commit as they go, and a file that breaks halfway
must leave what was written whole and resumable.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from moodtape.core.pipeline import documents, importer, json_stream
from moodtape.core.pipeline.import_writer import TrackIdSet
from moodtape.core.pipeline.importer import ImportFormatError, import_file, read_mpd
from moodtape.db.store import Store

from tests.conftest import FIXTURES


def _playlists(count: int, per: int = 6, songs: int = 40) -> list[dict[str, Any]]:
    """`count` playlists of `per` tracks, track j of playlist i being song (i + j) % songs."""
    return [{"pid": i, "name": f"mix {i}", "tracks": [
        {"artist_name": "Band", "track_name": f"Song {(i + j) % songs}",
         "track_uri": f"spotify:track:s{(i + j) % songs}", "duration_ms": 1000 * (100 + (i + j) % songs)}
        for j in range(per)]} for i in range(count)]


def _slice(playlists: list[dict[str, Any]]) -> str:
    return json.dumps({"info": {"version": "stream test"}, "playlists": playlists}, indent=1)


async def _catalogue(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[int, list[str]]]]:
    """Every track's fields, and every playlist as its tracks' external ids in order."""
    tracks = await store.list_tracks()
    by_id = {t.id: t for t in tracks}
    rows = sorted((t.external_id, t.title, t.artist, t.album, t.duration_s, t.status, t.licence)
                  for t in tracks)
    playlists: dict[int, list[str]] = {}
    for playlist_id, track_id in await store.playlist_pairs():
        playlists.setdefault(playlist_id, []).append(by_id[track_id].external_id)  # type: ignore[arg-type]
    return rows, sorted(playlists.items())


@pytest.mark.parametrize("fixture", ["mpd_slice.json", "catalogue.csv"])
async def test_tiny_chunks_give_the_same_catalogue_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: str
) -> None:
    """Tiny reads cut every value, line and character somewhere; gzip (one member or two), "\\r\\n" and a
    BOM change nothing either."""
    text = (FIXTURES / fixture).read_text(encoding="utf-8").replace("Night Owl", "Nîght Öwl ✓")
    results = []
    half = len(text) // 2
    members = gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode())  # `cat a.gz b.gz`
    for block, raw in [(1 << 20, text.encode()), (7, text.replace("\n", "\r\n").encode()),
                       (7, b"\xef\xbb\xbf" + text.encode()), (3, gzip.compress(text.encode())), (5, members)]:
        monkeypatch.setattr(documents, "BLOCK_BYTES", block)
        path = tmp_path / f"{block}-{len(results)}" / (fixture + ".gz" if raw[:2] == b"\x1f\x8b" else fixture)
        path.parent.mkdir()
        path.write_bytes(raw)
        store = await Store.open(path.parent / "m.db")
        try:
            report = await import_file(store, path)
            results.append((report.to_json(), await _catalogue(store)))
        finally:
            await store.close()
    first = results[0]
    assert first[0]["tracks_new"] >= 3 and first[1][1]  # something landed, in playlists
    assert any("Nîght Öwl ✓" in str(row) for row in first[1][0])
    assert results[1:] == [first] * 4


async def test_a_bom_split_across_reads_and_a_number_cut_at_a_chunk_end(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "BLOCK_BYTES", 1)
    path = tmp_path / "slice.json"
    path.write_bytes(b"\xef\xbb\xbf" + _slice(_playlists(3)).encode())
    report = await import_file(store, path)
    assert report.playlists_added == 3 and report.failed == 0
    durations = {t.external_id: t.duration_s for t in await store.list_tracks()}
    assert durations["spotify:track:s7"] == 107.0  # "107000" read one byte at a time is not 1, 10 or 107


async def test_bare_values_cut_anywhere_are_read_whole(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers and literals as playlist entries, read a byte at a time: "123456" must not become 1 (and
    then a syntax error), nor "-Infinity" cut after "-Inf" an error."""
    monkeypatch.setattr(documents, "BLOCK_BYTES", 1)
    good = _playlists(2)
    path = tmp_path / "slice.json"
    path.write_text('{"playlists": [' + json.dumps(good[0]) + ', 123456, -Infinity, 1.5e+10, true, "text", '
                    + json.dumps(good[1]) + "]}")
    report = await import_file(store, path)
    assert report.playlists_added == 2 and report.rows_skipped == 5
    kinds = ["a number", "a number", "a number", "true/false", "text"]
    assert report.problems == [f"playlists[{i}]: {what}, not a playlist object" for i, what in enumerate(kinds, 1)]


def test_the_json_stream_reads_the_same_values_wherever_the_text_is_cut() -> None:
    """Every split of the text into two chunks: a number, literal or escape cut in two is read whole."""
    text = '{"k": [123456, -Infinity, 1.5e+10, true, "t\\u00e9xt", {"a": [1, -2.5E-3]}, null, 7]}'
    expected = json.loads(text)["k"]
    for split in range(len(text) + 1):
        stream = json_stream.JsonStream("x.json", iter([text[:split], text[split:]]))
        keys = stream.object_keys()
        assert next(keys) == "k"
        assert list(stream.array_items()) == expected, split
        assert list(keys) == []
        stream.end()


async def test_json_errors_name_the_line_and_column_of_the_whole_document(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "BLOCK_BYTES", 64)
    text = _slice(_playlists(30))
    at = -1
    for _ in range(100):  # the 100th duration, many 64-byte reads into the file, loses its value
        at = text.index('"duration_ms": ', at + 1)
    broken = text[:at] + '"duration_ms": }' + text[at + len('"duration_ms": '):]
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(broken)
    path = tmp_path / "slice.json"
    path.write_text(broken)
    with pytest.raises(ImportFormatError) as got:
        await import_file(store, path)
    where = f"line {expected.value.lineno}, column {expected.value.colno}: {expected.value.msg}"
    assert str(got.value).startswith(f"slice.json: not valid JSON at {where}")


async def test_batches_commit_and_a_file_cut_halfway_keeps_every_playlist_before_the_cut(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_PLAYLISTS", 10)
    text = _slice(_playlists(100))
    cut_at = text.index('"pid": 55,')  # inside playlist 55's object, which is never closed
    path = tmp_path / "slice.json"
    path.write_text(text[:cut_at])
    with pytest.raises(ImportFormatError, match=r"slice\.json: not valid JSON at line \d+, column \d+: .*"
                                                r"the 55 playlist entries before it were imported"):
        await import_file(store, path)
    pairs = await store.playlist_pairs()
    assert len({p for p, _ in pairs}) == 55 and len(pairs) == 55 * 6  # whole playlists only
    path.write_text(text)  # the file fixed: importing it again adds the rest
    again = await import_file(store, path)
    assert again.playlists_skipped == 55 and again.playlists_added == 45 and again.tracks_new == 0
    assert len(await store.playlist_pairs()) == 100 * 6


async def test_a_crash_between_batches_is_resumed_by_importing_again(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_PLAYLISTS", 10)
    path = tmp_path / "slice.json"
    path.write_text(_slice(_playlists(45, songs=300)))
    real = store.add_playlists_bulk
    calls = 0

    async def dies_on_the_third(playlists: Any) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk unplugged")
        return await real(playlists)

    monkeypatch.setattr(store, "add_playlists_bulk", dies_on_the_third)
    with pytest.raises(OSError):
        await import_file(store, path)
    assert len({p for p, _ in await store.playlist_pairs()}) == 20  # two whole batches
    monkeypatch.setattr(store, "add_playlists_bulk", real)
    again = await import_file(store, path)
    assert again.playlists_skipped == 20 and again.playlists_added == 25
    fresh = await Store.open(tmp_path / "fresh.db")
    try:
        await import_file(fresh, path)
        assert await _catalogue(fresh) == await _catalogue(store)  # the same as one clean import
    finally:
        await fresh.close()


async def test_a_cut_gzip_slice_is_refused_before_anything_is_written(store: Store, tmp_path: Path) -> None:
    packed = gzip.compress(_slice(_playlists(2000)).encode())
    path = tmp_path / "slice.json.gz"
    path.write_bytes(packed[:-len(packed) // 5])  # a corrupt, cut tail; thousands of playlists before it
    with pytest.raises(ImportFormatError, match="slice.json.gz: not valid JSON: the gzip file is truncated"):
        await import_file(store, path)
    assert await store.playlist_pairs() == [] and await store.list_tracks() == []


async def test_bad_bytes_after_many_chunks_are_refused_before_anything_is_written(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_PLAYLISTS", 10)
    monkeypatch.setattr(documents, "BLOCK_BYTES", 4096)
    text = _slice(_playlists(300))
    at = text.index('"mix 250"')
    raw = text[:at].encode() + b"\xff" + text[at:].encode()
    path = tmp_path / "slice.json.gz"
    path.write_bytes(gzip.compress(raw))
    line = raw.count(b"\n", 0, len(text[:at].encode())) + 1
    offset = len(text[:at].encode())
    with pytest.raises(ImportFormatError, match=rf"not UTF-8 text \(line {line}, byte {offset}\)"):
        await import_file(store, path)
    assert await store.list_tracks() == []


async def test_a_value_larger_than_the_cap_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "BLOCK_BYTES", 256)
    monkeypatch.setattr(json_stream, "MAX_VALUE_CHARS", 2000)
    path = tmp_path / "slice.json"
    path.write_text(_slice(_playlists(2, per=5) + _playlists(1, per=200)))
    with pytest.raises(ImportFormatError, match="a value is larger than"):
        await import_file(store, path)
    assert len({p for p, _ in await store.playlist_pairs()}) == 2  # the playlists before it landed


async def test_thousands_of_playlists_import_with_exact_counts_and_progress(
    store: Store, tmp_path: Path
) -> None:
    playlists = _playlists(3000, per=8, songs=5000)  # 3000 > BATCH_PLAYLISTS: tracks recur across batches
    playlists[1234]["tracks"].append({"artist_name": "Band", "track_name": "Song 7 (Remastered 2011)",
                                      "track_uri": "spotify:track:remaster"})
    playlists[2900]["tracks"].append("not a track")
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(_slice(playlists).encode()))
    seen: list[tuple[int, int, str]] = []
    report = await import_file(store, path, progress=lambda *call: seen.append(call))
    distinct = len({t["track_uri"] for p in playlists for t in p["tracks"] if isinstance(t, dict)})
    assert report.playlists_added == 3000 and report.tracks_new == distinct - 1 and report.tracks_matched == 1
    assert report.tracks_skipped == 1
    assert report.problems == ["playlists[2900].tracks[8]: text, not a track object"]
    assert len(await store.playlist_pairs()) == 3000 * 8 + 1
    dones = [done for done, _, _ in seen]
    assert len(seen) >= 3 and dones == sorted(dones) and seen[-1][0] == seen[-1][1]
    assert seen[-1][2] == "3000 playlists"
    again = await import_file(store, path)
    assert again.tracks_new == 0 and again.tracks_matched == distinct and again.playlists_skipped == 3000


async def test_a_large_csv_streams_in_batches_and_orders_its_playlists(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_ROWS", 100)
    lines = ["title,artist,playlist,position"]
    for i in range(1000):  # two playlists interleaved, positions counting down: order comes from position
        lines.append(f"Song {i},Band,{'odd' if i % 2 else 'even'},{1000 - i}")
    path = tmp_path / "cat.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    report = await import_file(store, path)
    assert report.tracks_new == 1000 and report.playlists_added == 2 and report.failed == 0
    tracks = {t.id: t.title for t in await store.list_tracks()}
    first_playlist = [tracks[tid] for pid, tid in await store.playlist_pairs() if pid == 1]
    assert first_playlist[:2] == ["Song 998", "Song 996"] and len(first_playlist) == 500


def test_read_mpd_reads_info_after_the_playlists_and_refuses_trailing_text(tmp_path: Path) -> None:
    path = tmp_path / "slice.json"
    path.write_text('{"playlists": [{"pid": 1}], "info": {"v": 2}}')
    assert read_mpd(path).info == {"v": 2}
    path.write_text('{"playlists": []} {"more": 1}')
    with pytest.raises(ImportFormatError, match="line 1, column 19: Extra data"):
        read_mpd(path)
    path.write_text('{"info": {}}')
    with pytest.raises(ImportFormatError, match="expected an MPD slice"):
        read_mpd(path)


def test_the_set_of_counted_tracks_is_exact_for_any_id() -> None:
    ids = TrackIdSet()
    assert [ids.add(i) for i in (1, 9, 1, 8, 9, 10**6, 2**40, -3, 2**40, 10**6)] == [
        True, True, False, True, False, True, True, True, False, False]
