"""`moodtape continue` and `moodtape train cf` as a person uses them: JSON shape, text, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.core.cf.synthetic import genre_playlists, write_mpd

TRACK_KEYS = {"id", "title", "artist", "album", "source", "score", "reason"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trained_db(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    db = str(tmp_path / "lib.db")
    playlists = write_mpd(tmp_path / "playlists.json.gz", genre_playlists())
    assert run(capsys, "--db", db, "import", str(playlists))[0] == 0
    code, out, _ = run(capsys, "--db", db, "train", "cf", "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "ok" and report["vectors"] == 20
    assert report["version"].startswith("als-f64") and "-r60-t20-n300" in report["version"]
    return db


def test_continue_json_has_seeds_and_tracks(capsys: pytest.CaptureFixture[str], trained_db: str) -> None:
    code, out, _ = run(capsys, "--db", trained_db, "continue", "Artist A1 - Song A1", "Song A2", "--k", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"seeds", "tracks"}
    assert [s["title"] for s in data["seeds"]] == ["Song A1", "Song A2"]
    assert len(data["tracks"]) == 4 and all(TRACK_KEYS <= set(t) for t in data["tracks"])
    assert all(t["title"].startswith("Song A") for t in data["tracks"])
    assert all("often in playlists with" in t["reason"] for t in data["tracks"])


def test_continue_text_and_default_k(capsys: pytest.CaptureFixture[str], trained_db: str) -> None:
    code, out, _ = run(capsys, "--db", trained_db, "continue", "Song B3")
    assert code == 0
    assert out.startswith("To continue a playlist with \"Artist B3 - Song B3\"")
    assert out.count("often in playlists with") == 19  # default k=100, capped by the 19 other songs


def test_stats_count_the_versioned_vectors(capsys: pytest.CaptureFixture[str], trained_db: str) -> None:
    _, out, _ = run(capsys, "--db", trained_db, "stats", "--json")
    versions = json.loads(out)["vectors"]["cf"]
    assert list(versions.values()) == [20] and next(iter(versions)).startswith("als-")


def test_user_errors(capsys: pytest.CaptureFixture[str], trained_db: str, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", trained_db, "continue", "no such song anywhere")
    assert code == 2 and "no track in the catalogue matches" in err
    code, _, err = run(capsys, "--db", trained_db, "continue", "Song A1", "--k", "0")
    assert code == 2 and "--k" in err
    code, _, err = run(capsys, "--db", trained_db, "train", "cf", "--dims", "32")
    assert code == 2 and "64-d" in err
    code, out, _ = run(capsys, "--db", str(tmp_path / "empty.db"), "train", "cf", "--json")
    assert code == 0 and json.loads(out)["status"] == "skipped"


def test_on_the_demo_catalogue_continuation_goes_by_sound(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--db", str(tmp_path / "new.db"), "continue", "Battle for Wesnoth", "--k", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["tracks"]) == 3 and all("no playlist history to go on" in t["reason"] for t in data["tracks"])
