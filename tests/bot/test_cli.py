"""The `moodtape` CLI as a person uses it: exit codes, messages, stable JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.conftest import FIXTURES

TRACK_KEYS = {"id", "title", "artist", "album", "source", "score", "reason"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "similar" in out and "chat" in out and "bench" in out


def test_similar_json_shape_on_the_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--db", str(tmp_path / "x.db"), "similar", "Wesnoth", "--k", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"query", "tracks"} and len(data["tracks"]) == 3
    assert all(TRACK_KEYS <= set(t) for t in data["tracks"])
    assert data["query"]["catalogue"] == "demo"


def test_add_then_similar_then_stats(capsys: pytest.CaptureFixture[str], tmp_path: Path, audio_dir: Path) -> None:
    db = str(tmp_path / "lib.db")
    code, out, err = run(capsys, "--db", db, "add", str(audio_dir))
    assert code == 1  # two of the files failed (issue 13: 1 = some items failed, the rest was done)
    assert "added 11 track(s), 9 ready" in out
    assert "empty.mp3: empty file" in err and "corrupt.mp3: not an audio file" in err
    code, out, _ = run(capsys, "--db", db, "add", str(audio_dir / "pad_a.wav"))
    assert code == 0 and "added 0 track(s)" in out and "1 already in the catalogue" in out
    code, out, _ = run(capsys, "--db", db, "similar", str(audio_dir / "pad_b.mp3"), "--json", "-k", "2")
    data = json.loads(out)
    assert data["query"]["track"]["title"] == "pad b" and data["query"]["catalogue"] == "database"
    assert data["tracks"][0]["title"] == "pad a" and data["tracks"][0]["source"].startswith(str(audio_dir))
    code, out, _ = run(capsys, "--db", db, "stats", "--json")
    stats = json.loads(out)
    assert stats["tracks"]["ready"] == 9 and stats["tracks"]["failed"] == 3 and stats["queries_use"] == "database"


def test_import_and_user_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "lib.db")
    code, out, _ = run(capsys, "--db", db, "import", str(FIXTURES / "mpd_slice.json"))
    assert code == 0 and "3 playlist(s) added" in out
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "--db", db, "similar", "--k", "0", "x")
    assert code == 2 and "--k" in err
    code, _, err = run(capsys, "--db", str(tmp_path), "stats")
    assert code == 2 and "directory" in err and "Traceback" not in err


def test_bad_setting_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODTAPE_DEVICE", "tpu")
    code, _, err = run(capsys, "stats")
    assert code == 2 and err.startswith("moodtape: bad setting: device")


def test_config_hides_secrets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path) -> None:
    monkeypatch.setenv("MOODTAPE_TELEGRAM_TOKEN", "123:secret-token")
    monkeypatch.setenv("MOODTAPE_TELEGRAM_ADMINS", "1, 2")
    code, out, _ = run(capsys, "--db", str(tmp_path / "c.db"), "config")
    data = json.loads(out)
    assert code == 0 and "secret-token" not in out and data["telegram_admins"] == [1, 2]
    assert data["db"] == str(tmp_path / "c.db")


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`moodtape stats --json | head -1`: when the reader leaves early, exit quietly (141, like SIGPIPE)."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is already gone: the first write fails
    try:
        done = subprocess.run([sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())",
                               "--db", str(tmp_path / "m.db"), "stats", "--json"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert "unexpected error" not in done.stderr and "Traceback" not in done.stderr
