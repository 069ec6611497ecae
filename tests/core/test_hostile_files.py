"""Folders of hostile entries (issue 13, items 2-5): each is reported by name and skipped, never opened
when it is not a regular file, and the good files beside it are still added.

The inputs are the issue's own: a symbolic link loop, a FIFO named `x.mp3`, a link `y.mp3 -> /dev/zero`, a
file name that is not UTF-8 (`caf\\xe9`) and a 20 GB sparse file made like `truncate -s 20G big.mp3`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from moodtape.core.audio.decode import AudioError, check_file, decode, printable
from moodtape.core.audio.sources import file_hash, path_to_source, source_path
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.pipeline.ingest import collect_files
from tests.conftest import AUDIO, GOOD_AUDIO

pytestmark = pytest.mark.timeout(120)  # a regression here is a hang, not a failure

LATIN1_NAME = b"caf\xe9.wav"  # not UTF-8: Python sees "caf\udce9.wav"
BIG = 20 * 1024**3


def _release(fifo: Path) -> None:
    """Give a reader blocked on `fifo` (the bug this file guards against) its end of file, so a failing
    test fails instead of hanging the run."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # nobody is reading: nothing blocked
    os.close(fd)


@pytest.fixture
def hostile(audio_dir: Path) -> Iterator[Path]:
    """The fixture folder plus one of every hostile entry from the issue."""
    os.symlink("loop_b.mp3", audio_dir / "loop_a.mp3")
    os.symlink("loop_a.mp3", audio_dir / "loop_b.mp3")
    os.mkfifo(audio_dir / "x.mp3")
    os.symlink("/dev/zero", audio_dir / "y.mp3")
    with open(audio_dir / "big.mp3", "wb") as handle:
        handle.truncate(BIG)
    (audio_dir / "latin").mkdir()
    # distinct content (the plain copy would be a duplicate of pad_a.wav) under a name that is not UTF-8
    latin = os.path.join(os.fsencode(audio_dir / "latin"), LATIN1_NAME)
    with open(latin, "wb") as handle:
        handle.write((AUDIO / "pad_a.wav").read_bytes() + b"\x01")
    try:
        yield audio_dir
    finally:
        _release(audio_dir / "x.mp3")


def _reasons(failed: list[tuple[str, str]]) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in failed}


def test_collect_reports_each_hostile_entry_and_keeps_the_good_files(hostile: Path) -> None:
    started = time.monotonic()
    files, _, refused = collect_files([hostile], max_file_bytes=200 * 1024 * 1024)
    assert time.monotonic() - started < 2
    reasons = _reasons(refused)
    assert reasons["loop_a.mp3"] == reasons["loop_b.mp3"] == "symbolic link loop"
    assert reasons["x.mp3"] == reasons["y.mp3"] == "not a regular file"
    assert reasons["big.mp3"] == "file is too big (20480 MB > 200 MB)"
    names = {printable(f.name) for f in files}
    assert set(GOOD_AUDIO) <= names and "caf\ufffd.wav" in names


def test_a_loop_named_on_the_command_line_is_reported(tmp_path: Path) -> None:
    os.symlink("b.mp3", tmp_path / "a.mp3")
    os.symlink("a.mp3", tmp_path / "b.mp3")
    files, _, refused = collect_files([tmp_path / "a.mp3", AUDIO / "pad_b.mp3"])
    assert refused == [(str(tmp_path / "a.mp3"), "symbolic link loop")]
    assert [f.name for f in files] == ["pad_b.mp3"]


def test_unusable_paths_on_the_command_line_are_reported(tmp_path: Path) -> None:
    long = tmp_path / ("a" * 300 + ".mp3")  # longer than any file system allows a name to be
    _, _, refused = collect_files([long, tmp_path / "nul\x00.mp3", AUDIO / "pad_b.mp3" / "x.mp3"])
    assert [reason for _, reason in refused] == ["the path is too long"] + ["no such file or folder"] * 2


async def test_add_skips_hostile_entries_and_adds_the_rest(engine: Engine, hostile: Path) -> None:
    started = time.monotonic()
    report, embedded = await engine.add_files([hostile])
    assert embedded is not None
    reasons = _reasons(report.failed)
    assert {"loop_a.mp3", "loop_b.mp3", "x.mp3", "y.mp3", "big.mp3", "empty.mp3"} <= set(reasons)
    assert "too big" in reasons["big.mp3"] and reasons["x.mp3"] == "not a regular file"
    assert len(embedded.ready) == len(GOOD_AUDIO) + 1  # the good fixtures and the Latin-1 name
    latin = [t for t in await engine.store.list_tracks(status="ready") if t.title.startswith("caf")]
    assert len(latin) == 1 and latin[0].title == "caf\ufffd"
    assert latin[0].source is not None and latin[0].source.startswith("file://")
    assert source_path(latin[0].source).exists()  # the stored form leads back to the very file
    assert time.monotonic() - started < 60
    # nothing unreadable was recorded, so a re-run adds no rows (and no failed duplicates)
    before = await engine.store.stats()
    again, _ = await engine.add_files([hostile])
    assert again.added == [] and await engine.store.stats() == before


async def test_a_20_gb_sparse_file_is_refused_without_reading_it(engine: Engine, tmp_path: Path) -> None:
    big = tmp_path / "big.mp3"
    with open(big, "wb") as handle:
        handle.truncate(BIG)
    started = time.monotonic()
    report, _ = await engine.add_files([big])
    assert report.added == [] and "too big" in report.failed[0][1]
    with pytest.raises(UserError, match="big.mp3: file is too big"):
        await engine.similar_to_file(big)
    with pytest.raises(AudioError, match="too big"):
        file_hash(big, engine.settings.max_file_bytes)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "loop", "missing"])
async def test_similar_file_refuses_what_is_not_a_regular_file(engine: Engine, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x.mp3"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", target)
    elif kind == "loop":
        os.symlink("x.mp3", target)
    expected = {"fifo": "not a regular file", "dev-zero": "not a regular file", "loop": "symbolic link loop",
                "missing": "file not found"}[kind]
    try:
        with pytest.raises(UserError, match=f"x.mp3: {expected}"):
            await engine.similar_to_file(target)
        with pytest.raises(AudioError, match=expected):
            decode(target)
    finally:
        if kind == "fifo":
            _release(target)


def test_the_shared_check_and_the_stored_form_of_odd_names(tmp_path: Path) -> None:
    assert check_file(AUDIO / "pad_b.mp3") > 0
    assert check_file(AUDIO / "empty.mp3") == 0  # recorded, then refused by the decoder
    with pytest.raises(AudioError, match="not a regular file"):
        check_file(tmp_path)
    odd = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9 100%.opus")))
    stored = path_to_source(odd)
    stored.encode("utf-8")  # storable and printable
    assert source_path(stored) == odd
    assert path_to_source(AUDIO / "pad_b.mp3") == str(AUDIO / "pad_b.mp3")  # ordinary paths unchanged
    assert printable("x\ud800y") == "x?y"  # a lone surrogate that is not a file-name escape


def test_cli_add_prints_hostile_names_without_codec_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, hostile: Path
) -> None:
    """pytest's captured streams are strict UTF-8, like a terminal's stdout: a surrogate would raise."""
    db = str(tmp_path / "lib.db")
    code = main(["--db", db, "add", "--no-embed", "--json", str(hostile)])
    out, err = capsys.readouterr()
    assert code == 1, err  # the hostile entries failed; the good files were added
    data = json.loads(out)
    assert "caf\ufffd.wav" in {Path(row["path"]).name for row in data["added"]}
    assert {"x.mp3", "y.mp3", "big.mp3", "loop_a.mp3"} <= {Path(row["path"]).name for row in data["failed"]}
    code = main(["--db", db, "add", str(hostile)])
    out, err = capsys.readouterr()
    assert code == 1 and f"added 0 track(s), {len(GOOD_AUDIO) + 1} ready" in out
    assert "x.mp3: not a regular file" in err and "loop_a.mp3: symbolic link loop" in err
    assert "went wrong" not in out + err and "Traceback" not in out + err
    code = main(["--db", db, "similar", str(hostile / "big.mp3")])
    out, err = capsys.readouterr()
    assert code == 2 and "big.mp3: file is too big" in err
