"""`moodtape eval title` on invented playlists whose names predict their songs (and one family that does not)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from moodtape.bot.cli import main
from moodtape.training.eval_title import split_names

from tests.core.cf.synthetic import write_mpd

#: name variants per family; each family's playlists draw from its own 12 songs
FAMILIES = {
    "chill": ["chill", "Chill vibes", "chillout", "chilll", "so chill"],
    "gym": ["gym", "WORKOUT", "gym 💪", "workout mix", "Gym time"],
    "drive": ["드라이브", "드라이브 음악", "밤 드라이브", "drive", "road trip"],
    "rock": ["rock", "Rock classics", "ROCK!!", "classic rock", "rock on"],
}


def playlists(per_family: int = 15, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for family, names in FAMILIES.items():
        songs = [f"{family}{i}" for i in range(12)]
        for _ in range(per_family):
            picks = rng.sample(songs, 5) + rng.sample([f"common{i}" for i in range(3)], 1)
            out.append({"pid": len(out), "name": rng.choice(names), "num_tracks": len(picks), "tracks": [
                {"artist_name": "A", "track_name": key, "track_uri": f"spotify:track:{key}"} for key in picks]})
    return out


def test_the_split_is_seeded_and_disjoint() -> None:
    items = [{"pid": i} for i in range(50)]
    train, test = split_names(items, 0.2, seed=3)
    assert len(test) == 10 and len(train) == 40
    assert {p["pid"] for p in train}.isdisjoint(p["pid"] for p in test)
    assert split_names(items, 0.2, seed=3) == (train, test)
    assert split_names(items, 0.2, seed=4)[1] != test


def test_eval_title_beats_popularity_when_names_carry_meaning(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    path = write_mpd(tmp_path / "p.json.gz", playlists())
    code = main(["eval", "title", "--playlists", str(path), "--test-fraction", "0.25", "--n", "20",
                 "--tile", "3"])
    out, _ = capsys.readouterr()
    assert code == 0
    report = json.loads(out)
    assert report["playlists"] == {"train": 45, "held_out": 15}
    methods = report["methods"]
    assert set(methods) == {"popularity", "title", "title:words", "title:chars", "title:position"}
    title, popularity = methods["title"], methods["popularity"]
    # popularity can only ever find the family that happens to be biggest; names find each one's songs (each
    # playlist holds 5 random songs of its family's 12, so about 0.4 is the best any method can do)
    assert title["r_precision"] > popularity["r_precision"] + 0.15 and title["r_precision"] > 0.3
    assert title["ndcg"] > popularity["ndcg"] + 0.2
    assert title["names_matched"] == 1.0
    # "chillout", "chilll" and "드라이브 음악" share characters, not words, with the other names of their family
    assert methods["title:chars"]["names_matched"] >= methods["title:words"]["names_matched"]
    assert report["scale"]["playlists"] == 3 * 45 and report["scale"]["query_ms_median"] > 0


def test_eval_title_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_mpd(tmp_path / "p.json.gz", playlists(per_family=2))
    assert main(["eval", "title", "--playlists", str(path), "--test-fraction", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["eval", "title", "--playlists", str(path), "--methods", "magic"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert main(["eval", "title", "--playlists", str(tmp_path / "missing.json")]) == 2
    assert "Traceback" not in capsys.readouterr().err
