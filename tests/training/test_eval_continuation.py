"""`moodtape eval continuation` on tiny invented MPD files: split, every method, JSON shape, clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.core.cf.synthetic import genre_playlists, write_mpd

METHODS = {"popularity", "itemknn", "itemknn:vectors", "als", "als:vectors", "dae", "dae:vectors"}
FAST = ["--param", "als.iterations=8", "--param", "dae.epochs=40", "--param", "dae.lr=0.01",
        "--param", "dae.batch_size=16", "--param", "dae.threads=1", "--param", "dae.dims=8",
        "--param", "als.factors=4", "--param", "als.regularization=10"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _pids(path: Path) -> list[int]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [p["pid"] for p in json.load(handle)["playlists"]]


def test_split_is_reproducible_and_disjoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write_mpd(tmp_path / "all.json.gz", genre_playlists(per_genre=20))
    code, out, _ = run(capsys, "eval", "continuation", "--split", str(source), "--test-fraction", "0.25",
                       "--seed", "3", "--out", str(tmp_path / "s1"), "--json")
    assert code == 0 and json.loads(out)["test"]["playlists"] == 10
    run(capsys, "eval", "continuation", "--split", str(source), "--test-fraction", "0.25", "--seed", "3",
        "--out", str(tmp_path / "s2"))
    run(capsys, "eval", "continuation", "--split", str(source), "--test-fraction", "0.25", "--seed", "4",
        "--out", str(tmp_path / "s3"))
    train, test = _pids(tmp_path / "s1" / "train.json.gz"), _pids(tmp_path / "s1" / "test.json.gz")
    assert not set(train) & set(test) and sorted(train + test) == list(range(40))
    assert test == _pids(tmp_path / "s2" / "test.json.gz")
    assert test != _pids(tmp_path / "s3" / "test.json.gz")


def test_split_refuses_to_write_into_the_checkout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write_mpd(tmp_path / "all.json", genre_playlists(per_genre=5))
    inside = Path(__file__).resolve().parents[2] / "mpd-split-must-not-exist"
    code, _, err = run(capsys, "eval", "continuation", "--split", str(source), "--out", str(inside))
    assert code == 2 and "research-only" in err and not inside.exists()


def test_every_method_is_scored_against_popularity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    train = write_mpd(tmp_path / "train.json.gz", genre_playlists(per_genre=40, seed=1))
    test = write_mpd(tmp_path / "test.json", genre_playlists(per_genre=10, seed=2, start_pid=1000))
    code, out, err = run(capsys, "eval", "continuation", "--train", str(train), "--test", str(test),
                         "--seeds", "2", *FAST, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data["methods"]) == METHODS and data["n_playlists"] == 20 and data["seeds"] == 2
    for row in data["methods"].values():
        assert 0.0 <= row["r_precision"] <= 1.0 and 0.0 <= row["ndcg"] <= 1.0 and 0 <= row["clicks"] <= 51
        assert row["fit_s"] >= 0 and "fit_peak_mb" in row
    popularity = data["methods"]["popularity"]
    for name in ("itemknn", "als", "dae"):
        assert data["methods"][name]["r_precision"] > popularity["r_precision"] + 0.1, name
        assert data["methods"][name]["ndcg"] > popularity["ndcg"], name
    assert data["test"]["hidden_tracks_seen_in_train"] == 1.0


def test_fraction_trains_on_fewer_playlists(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    train = write_mpd(tmp_path / "train.json", genre_playlists(per_genre=40, seed=1))
    test = write_mpd(tmp_path / "test.json", genre_playlists(per_genre=2, seed=2, start_pid=1000))
    code, out, _ = run(capsys, "eval", "continuation", "--train", str(train), "--test", str(test),
                       "--seeds", "2", "--methods", "popularity,itemknn", "--fraction", "0.25", "--json")
    data = json.loads(out)
    assert code == 0 and data["train"]["playlists"] == 20 and set(data["methods"]) == {"popularity", "itemknn"}


def test_clear_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    train = write_mpd(tmp_path / "train.json", genre_playlists(per_genre=5))
    code, _, err = run(capsys, "eval", "continuation", "--train", str(train), "--test", str(train))
    assert code == 2 and "not held out" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{\"playlists\": 3}", encoding="utf-8")
    code, _, err = run(capsys, "eval", "continuation", "--train", str(bad), "--test", str(train))
    assert code == 2 and "MPD slice" in err
    code, _, err = run(capsys, "eval", "continuation", "--train", str(train), "--test", str(train),
                       "--methods", "magic")
    assert code == 2 and "unknown method" in err
    code, _, err = run(capsys, "eval", "continuation", "--train", str(train))
    assert code == 2 and "--test" in err
    code, _, err = run(capsys, "eval", "continuation", "--train", str(train), "--test", str(train),
                       "--param", "als.alpha=lots")
    assert code == 2 and "not a number" in err
