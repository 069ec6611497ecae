"""Hostile import documents (issue 13, item 9): bad rows are reported and skipped, good rows still land.

The regression tests replay the reported inputs one by one; the hypothesis properties generate CSV and JSON
documents (random fields, quotes, extra columns, huge fields and numbers, wrong types, deep nesting, odd bytes,
cut gzip streams) and import them through `import_file` and the CLI.  The only acceptable outcomes are a
report or one `UserError` (an `ImportFormatError` naming the file); any other exception is a bug.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moodtape.bot.cli import main
from moodtape.core.errors import UserError
from moodtape.core.pipeline import documents, importer
from moodtape.core.pipeline.importer import ImportFormatError, ImportReport, MpdSlice, import_file, read_mpd
from moodtape.db.store import Store

HEADER = "title,artist,duration_s,playlist,position\n"
HUGE_INT = "1" + "0" * 5000  # 10**5000: more digits than Python parses into an int


def _import_in_scratch(name: str, document: bytes, check: Callable[[Store, Path], Awaitable[None]]) -> None:
    """Write `document` as `name` in a fresh folder and run `check` against a fresh store there.

    Hypothesis examples are sync and must not share a database, so each one gets its own folder.
    """
    async def go(folder: Path) -> None:
        store = await Store.open(folder / "store.db")
        try:
            await check(store, folder / name)
        finally:
            await store.close()
    with tempfile.TemporaryDirectory(prefix="imp-") as folder:
        (Path(folder) / name).write_bytes(document)
        asyncio.run(go(Path(folder)))


def _mpd(playlists: list[Any]) -> str:
    return json.dumps({"info": {"version": "hostile"}, "playlists": playlists})


def _good_tracks(n: int, first: int = 0) -> list[dict[str, Any]]:
    return [{"artist_name": "Fuzz", "track_name": f"Good {i}", "track_uri": f"spotify:track:good{i}",
             "duration_ms": 200000} for i in range(first, first + n)]


async def _have_uris(store: Store, uris: list[str]) -> bool:
    return set(await store.find_by_external_ids(uris)) == set(uris)


# ------------------------------------------------------------------------------------ regressions: CSV
@pytest.mark.parametrize(("bad_line", "reason"), [
    ("Bad,B,,,,extra", "6 fields, but the header has 5"),  # was AttributeError: 'list' object has no ...
    ("x" * 200_000 + ",B", "a field is longer than 128 KB"),  # was _csv.Error: field larger than field limit
    (",No title", "no title"),
    ("Bad,B,nan", "duration_s 'nan' is not a track length"),
    ("Bad,B,-5", "duration_s '-5' is not a track length"),
    ("Bad,B,1e400", "duration_s '1e400' is not a track length"),
    ("Bad,B,abc", "duration_s 'abc' is not a number"),
    ("Bad,B,,P," + "9" * 5000, "is not a whole number"),
])
async def test_a_bad_csv_row_is_reported_by_line_and_the_good_rows_land(
    store: Store, tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = tmp_path / "cat.csv"
    path.write_text(HEADER + "Good One,A,180,P,1\n" + bad_line + "\nGood Two,C,,P,2\n", encoding="utf-8")
    report = await import_file(store, path)
    assert report.tracks_new == 2 and report.rows_skipped == 1 and report.failed == 1
    assert report.problems[0].startswith("line 3: ") and reason in report.problems[0]
    assert report.playlists_added == 1


async def test_nuls_controls_short_rows_and_a_bom_are_accepted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cat.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"Go\x00od\x1b[31m,A\nShort\n")
    report = await import_file(store, path)
    assert report.format == "csv" and report.tracks_new == 2 and report.failed == 0
    found = await store.search_tracks("Good[31m")
    assert [t.title for t in found] == ["Good[31m"]


async def test_a_file_that_is_not_utf8_is_refused_naming_file_line_and_byte(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("title,artist\nGood,A\ncafé,B\n".encode("latin-1"))
    with pytest.raises(ImportFormatError, match=r"latin\.csv: not UTF-8 text \(line 3, byte 23\)"):
        await import_file(store, path)


# ----------------------------------------------------------------------------------- regressions: JSON
BAD_PLAYLISTS: list[tuple[Any, str]] = [
    (5, "playlists[1]: a number, not a playlist object"),
    ({"pid": 7, "tracks": {"0": {}}}, "playlists[1]: tracks is an object, not a list"),
    ({"pid": {"x": 1}, "tracks": []}, "playlists[1]: pid is an object, not an integer"),
    ({"pid": 7, "name": ["x"], "tracks": []}, "playlists[1]: name is a list, not text"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_PLAYLISTS)
async def test_a_bad_playlist_is_skipped_and_the_others_land(
    store: Store, tmp_path: Path, bad: Any, reason: str
) -> None:
    path = tmp_path / "slice.json"
    path.write_text(_mpd([{"pid": 1, "tracks": _good_tracks(2)}, bad, {"pid": 2, "tracks": _good_tracks(2, 2)}]))
    report = await import_file(store, path)
    assert report.playlists_added == 2 and report.rows_skipped == 1 and report.problems == [reason]
    assert await _have_uris(store, [f"spotify:track:good{i}" for i in range(4)])


BAD_TRACKS: list[tuple[str, str]] = [
    ('{"track_name": {"x": 1}}', "track_name is an object, not text"),  # a dict where a string belongs
    ('"just text"', "text, not a track object"),
    ('{"artist_name": "A"}', "no track_name"),
    ('{"track_name": "t", "duration_ms": 1e400}', "duration_ms is not a track length (0 to 7 days)"),
    ('{"track_name": "t", "duration_ms": ' + HUGE_INT + "}", "duration_ms is not a track length"),  # was OverflowError
    ('{"track_name": "t", "duration_ms": 1' + "0" * 400 + "}", "duration_ms is not a track length"),
    ('{"track_name": "t", "duration_ms": -1}', "duration_ms is not a track length"),
    ('{"track_name": "t", "duration_ms": NaN}', "duration_ms is not a track length"),
    ('{"track_name": "t", "duration_ms": true}', "duration_ms is true/false, not a number"),
    ('{"track_name": "t", "track_uri": "' + "u" * 5000 + '"}', "track_uri is longer than 4096 characters"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_TRACKS)
async def test_a_bad_track_is_skipped_and_its_playlist_keeps_the_good_ones(
    store: Store, tmp_path: Path, bad: str, reason: str
) -> None:
    path = tmp_path / "slice.json"
    path.write_text(_mpd([{"pid": 1, "tracks": [*_good_tracks(1), "BAD", *_good_tracks(1, 1)]}])
                    .replace('"BAD"', bad))
    report = await import_file(store, path)
    assert report.tracks_skipped == 1 and report.failed == 1 and report.playlists_added == 1
    assert report.problems[0].startswith("playlists[0].tracks[1]: ") and reason in report.problems[0]
    assert [tid for _, tid in await store.playlist_pairs()] == list(
        (await store.find_by_external_ids(["spotify:track:good0", "spotify:track:good1"])).values())


async def test_surrogates_and_missing_keys_are_survivable(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "slice.json"
    path.write_text('{"playlists": [{"tracks": [{"track_name": "a\\ud800b", "artist_name": null}]}, {}]}')
    report = await import_file(store, path)
    assert report.tracks_new == 1 and report.failed == 0 and report.playlists_added == 1
    assert [t.title for t in await store.search_tracks("a")] == ["a\ufffdb"]


@pytest.mark.parametrize(("text", "message"), [
    ('{"playlists": {"0": []}}', "expected an MPD slice"),  # `playlists` not a list
    ("[1, 2]", "expected an MPD slice"),
    ('{"playlists": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),  # was RecursionError
    ('{"playlists": [', "not valid JSON at line 1, column 16"),
    ("", "the file is empty"),
    ("   \n", "the file is empty"),
])
async def test_unreadable_documents_are_one_clear_error_naming_the_file(
    store: Store, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError, match="doc.json: .*" + message):
        await import_file(store, path)


def test_read_mpd_keeps_its_shape_with_a_bom_and_odd_info(tmp_path: Path) -> None:
    path = tmp_path / "slice.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"info": "not an object", "playlists": [1]}')
    assert read_mpd(path) == MpdSlice({}, [1])


# ------------------------------------------------------------------------------ regressions: the file
async def test_truncated_gzip(store: Store, tmp_path: Path) -> None:
    rows = "".join(f"Song {i},A\n" for i in range(3000))
    packed = gzip.compress(("title,artist\n" + rows).encode())
    cut = tmp_path / "cat.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    report = await import_file(store, cut)  # was EOFError: the rows before the cut are kept
    assert 0 < report.tracks_new < 3000 and report.rows_skipped == 1
    assert "truncated" in report.problems[-1]
    cut.write_bytes(packed[:15])
    with pytest.raises(ImportFormatError, match="cat.csv.gz: the gzip file is truncated before its first row"):
        await import_file(store, cut)
    packed_json = gzip.compress(_mpd([{"pid": 1, "tracks": _good_tracks(50)}]).encode())
    cut.write_bytes(packed_json[: len(packed_json) // 2])
    with pytest.raises(ImportFormatError, match="cat.csv.gz: not valid JSON: the gzip file is truncated"):
        await import_file(store, cut)
    cut.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(ImportFormatError, match="not a valid gzip file"):
        await import_file(store, cut)


async def test_a_plain_file_named_gz_is_read_as_plain(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cat.csv.gz"
    path.write_text("title\nPlain\n", encoding="utf-8")
    assert (await import_file(store, path)).tracks_new == 1


async def test_fifos_and_oversized_documents_are_refused_before_reading(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    with pytest.raises(ImportFormatError, match="x.csv: not a regular file"):
        await import_file(store, fifo)  # would block forever in open()
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1000)
    big = tmp_path / "big.csv"
    big.write_text("title\n" + "x\n" * 600)
    with pytest.raises(ImportFormatError, match="big.csv: larger than"):
        await import_file(store, big)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"title\n" + b"x\n" * 600))
    with pytest.raises(ImportFormatError, match="bomb.csv.gz: larger than"):
        await import_file(store, bomb)


def test_the_report_says_what_failed() -> None:
    report = ImportReport(format="csv")
    for line in range(15):
        report.skip(f"line {line}", "no title")
    report.skip("playlists[0].tracks[0]", "no track_name", track=True)
    assert report.failed == 16 and len(report.problems) == importer.MAX_PROBLEMS
    assert report.to_json()["failed"] == 16 and report.to_json()["tracks_skipped"] == 1


def test_the_cli_prints_counts_and_reasons(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cat.csv"
    path.write_text(HEADER + "Good,A\nBad,B,,,,extra\n" + "x" * 200_000 + "\n", encoding="utf-8")
    code = main(["--db", str(tmp_path / "m.db"), "import", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "1 new track(s)" in out and "2 row(s) skipped" in out
    assert "skipped: line 3: 6 fields, but the header has 5" in err and "line 4: a field is longer" in err
    path.write_bytes(b"title\n\xff\n")
    code = main(["--db", str(tmp_path / "m.db"), "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("moodtape: cat.csv: not UTF-8 text (line 2, byte 6)")


# ------------------------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
SLOW_FUZZ = settings(FUZZ, max_examples=500)

any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
odd_text = st.one_of(any_text, st.sampled_from(["", " ", "\x00", '"', '""', "a\nb", "\r", "nan", "-1", "1e400",
                                                "9" * 400, "\ufeff", "title"]))
huge_field = st.integers(129 * 1024, 140 * 1024).map(lambda n: "h" * n)  # one line: cannot swallow others
hostile_row = st.lists(odd_text, max_size=8) | st.tuples(odd_text, huge_field).map(list)


def _csv_document(good: int, hostile: list[list[str]], draw_order: list[int]) -> bytes:
    """The good rows ("Good i" by Fuzz, in playlist P) with the hostile rows spliced in at drawn places."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["title", "artist", "duration_s", "playlist", "position"])
    rows: list[list[str]] = [[f"Good {i}", "Fuzz", "180", "P", str(i)] for i in range(good)]
    for place, row in zip(draw_order, hostile):
        rows.insert(place % (len(rows) + 1), row)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@st.composite
def mixed_csv(draw: st.DrawFn) -> tuple[bytes, int]:
    good = draw(st.integers(1, 5))
    hostile = draw(st.lists(hostile_row, max_size=6))
    order = draw(st.lists(st.integers(0, 20), min_size=len(hostile), max_size=len(hostile)))
    return _csv_document(good, hostile, order), good


def _check_mixed_csv(case: tuple[bytes, int]) -> None:
    document, good = case

    async def check(store: Store, path: Path) -> None:
        report = await import_file(store, path)  # any exception, UserError included, fails the property
        found = await store.find_by_match_key([f"fuzz|good {i}" for i in range(good)])
        assert len(found) == good, report.problems
        assert report.failed <= document.count(b"\n")  # nothing counted twice
    _import_in_scratch("mixed.csv", document, check)


@FUZZ
@given(mixed_csv())
def test_fuzz_csv_good_rows_survive_hostile_rows(case: tuple[bytes, int]) -> None:
    _check_mixed_csv(case)


@pytest.mark.slow
@SLOW_FUZZ
@given(mixed_csv())
def test_fuzz_csv_good_rows_survive_hostile_rows_slow(case: tuple[bytes, int]) -> None:
    _check_mixed_csv(case)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                      st.just("HUGE"), st.integers(min_value=10 ** 300, max_value=10 ** 320))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=15)
numberish = st.one_of(st.sampled_from(["HUGE", 10 ** 400, -(10 ** 400), "1e400", "nan", "-5", "12x", ""]),
                      st.integers(), st.floats())
track_fields = {"artist_name": json_value, "album_name": json_value, "track_uri": json_value | any_text}
track_like = st.one_of(  # a named track with odd fields, or any mix of odd fields
    st.fixed_dictionaries({"track_name": st.just("t") | any_text, "duration_ms": numberish}, optional=track_fields),
    st.fixed_dictionaries({}, optional={"track_name": json_value, "duration_ms": json_value, **track_fields}),
)
playlist_like = st.fixed_dictionaries({}, optional={
    "pid": json_value, "name": json_value, "description": json_value,
    "tracks": json_value | st.lists(track_like | json_value, max_size=4)})


def _dump(value: Any) -> str:
    """JSON text; "HUGE" strings become 10**5000 literals (json.dumps itself cannot write such an int)."""
    return json.dumps(value).replace('"HUGE"', HUGE_INT)


@st.composite
def mixed_mpd(draw: st.DrawFn) -> tuple[str, list[str]]:
    good = draw(st.integers(1, 3))
    playlists: list[Any] = []
    uris: list[str] = []
    for number in range(good):
        tracks: list[Any] = _good_tracks(2, 2 * number)
        uris += [t["track_uri"] for t in tracks]
        tracks[1:1] = draw(st.lists(track_like | json_value, max_size=3))
        playlists.append({"pid": f"fuzz-good-playlist-{number}", "name": "good", "tracks": tracks})
    for hostile in draw(st.lists(playlist_like | json_value, max_size=4)):
        playlists.insert(draw(st.integers(0, len(playlists))), hostile)
    return _dump({"info": draw(json_value), "playlists": playlists}), uris


def _check_mixed_mpd(case: tuple[str, list[str]], packed: bool) -> None:
    document, uris = case

    async def check(store: Store, path: Path) -> None:
        report = await import_file(store, path)
        assert await _have_uris(store, uris), report.problems
        assert report.playlists_added >= len(uris) // 2
    data = document.encode()
    _import_in_scratch("slice.json.gz" if packed else "slice.json", gzip.compress(data) if packed else data, check)


@FUZZ
@given(mixed_mpd(), st.booleans())
def test_fuzz_mpd_good_playlists_survive_hostile_entries(case: tuple[str, list[str]], packed: bool) -> None:
    _check_mixed_mpd(case, packed)


@pytest.mark.slow
@SLOW_FUZZ
@given(mixed_mpd(), st.booleans())
def test_fuzz_mpd_good_playlists_survive_hostile_entries_slow(case: tuple[str, list[str]], packed: bool) -> None:
    _check_mixed_mpd(case, packed)


arbitrary_document = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf", HEADER.encode(), b'{"playlists": [']),
              st.binary(max_size=200)).map(b"".join),
    json_value.map(lambda v: _dump(v).encode()),
    json_value.map(lambda v: _dump({"playlists": v}).encode()),
)


def _check_anything(document: bytes, cut: int | None) -> None:
    if cut is not None:
        packed = gzip.compress(document)
        document = packed[: cut % (len(packed) + 1)]

    async def attempt(store: Store, path: Path) -> None:
        try:
            await import_file(store, path)
        except UserError as exc:  # ImportFormatError: one sentence naming the file
            assert "any.gz" in str(exc)
    _import_in_scratch("any.gz", document, attempt)


@FUZZ
@given(arbitrary_document, st.none() | st.integers(0, 10_000))
def test_fuzz_any_bytes_give_a_report_or_a_clear_refusal(document: bytes, cut: int | None) -> None:
    _check_anything(document, cut)


@pytest.mark.slow
@SLOW_FUZZ
@given(arbitrary_document, st.none() | st.integers(0, 10_000))
def test_fuzz_any_bytes_give_a_report_or_a_clear_refusal_slow(document: bytes, cut: int | None) -> None:
    _check_anything(document, cut)


@settings(FUZZ, max_examples=8)
@given(mixed_csv() | mixed_mpd().map(lambda case: (case[0].encode(), 0)))
def test_fuzz_through_the_cli(case: tuple[bytes, int]) -> None:
    stderr, stdout = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="imp-") as folder:
        path = Path(folder) / "doc.txt"
        path.write_bytes(case[0])
        with redirect_stderr(stderr), redirect_stdout(stdout):
            code = main(["--db", str(Path(folder) / "m.db"), "import", str(path)])
    assert code in (0, 1), stderr.getvalue()
    assert "went wrong" not in stderr.getvalue() and "Traceback" not in stderr.getvalue()
    assert "imported doc.txt" in stdout.getvalue()
