"""`moodtape bench import`: a synthetic slice and a file imported in child processes, counts and memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moodtape.bot.cli import main
from moodtape.core.pipeline.importer import read_mpd
from moodtape.training.bench_import import write_synthetic_mpd

from tests.conftest import FIXTURES


def test_synthetic_slices_are_mpd_shaped(tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    shape = write_synthetic_mpd(path, 40)
    mpd = read_mpd(path)
    assert shape == {"playlists": 40, "entries": 40 * 65} and len(mpd.playlists) == 40
    assert mpd.info["num_playlists"] == 40 and all(len(p["tracks"]) == 65 for p in mpd.playlists)
    uris = {t["track_uri"] for p in mpd.playlists for t in p["tracks"]}
    assert 40 < len(uris) < 40 * 33  # repeats across playlists, as in the MPD


def test_bench_import_reports_time_memory_and_the_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["--db", str(tmp_path / "unused.db"), "bench", "import", str(FIXTURES / "mpd_slice.json"),
                 "--synthetic", "30"])
    out = json.loads(capsys.readouterr().out)
    fixture, synthetic = out["runs"]
    assert code == 0 and fixture["report"]["playlists_added"] == 3 and fixture["report"]["tracks_new"] == 4
    assert synthetic["synthetic"]["playlists"] == 30 and synthetic["report"]["playlists_added"] == 30
    assert synthetic["report"]["failed"] == 0 and synthetic["report"]["tracks_new"] > 30
    assert 0 < fixture["peak_rss_mb"] < 1000 and synthetic["import_s"] >= 0
    assert main(["bench", "import"]) == 2  # nothing to import: a usage error
