"""`moodtape eval musicnn` on a tiny Emotify-shaped folder made of the committed audio fixtures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moodtape.bot.cli import main
from moodtape.core.mood.space import GEMS
from moodtape.training.eval_musicnn import blend

AUDIO = Path(__file__).parents[1] / "fixtures" / "audio"
TECHNO = Path(__file__).parents[1] / "fixtures" / "musicnn" / "techno.flac"


def test_blend_gives_each_block_the_same_weight() -> None:
    rng = np.random.default_rng(0)
    small, big = rng.standard_normal((20, 3)), 1000 * rng.standard_normal((20, 300))
    mixed = blend([small, big])
    assert mixed.shape == (20, 303)
    norms = [np.linalg.norm(mixed[:, :3], axis=1).mean(), np.linalg.norm(mixed[:, 3:], axis=1).mean()]
    assert norms == pytest.approx([1.0, 1.0])


def test_eval_musicnn_measures_every_layer_beside_the_handcrafted_descriptor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    sources = [("pad_a.flac", "classical"), ("pad_a.mp3", "classical"), ("pad_a.ogg", "classical"),
               ("pad_b.mp3", "classical"), ("pad_a.opus", "classical"), ("beat_a.ogg", "electronic"),
               ("beat_b.mp3", "electronic"), ("techno.flac", "electronic"), ("pad_a.m4a", "classical"),
               ("corrupt.mp3", "rock")]
    rng = np.random.default_rng(1)
    rows = []
    for i, (name, genre) in enumerate(sources):
        target = clips / f"{i}{Path(name).suffix}"
        shutil.copy(TECHNO if name == "techno.flac" else AUDIO / name, target)
        gems = rng.uniform(0, 1, len(GEMS))
        rows.append({"file": f"clips/{target.name}", "genre": genre, "artist": f"artist{i % 5}",
                     **{g: f"{v:.3f}" for g, v in zip(GEMS, gems)}})
    with open(tmp_path / "tracks.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    args = ["eval", "musicnn", "--emotify", str(tmp_path), "--max-patches", "1", "--workers", "1",
            "--cache", str(tmp_path / "cache"), "--no-probe", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 9  # the corrupt clip is skipped
    precision = report["genre_precision"]
    for name in ("handcrafted", "mtt.penultimate", "msd.pooled", "mtt.taggram+msd.taggram",
                 "mtt.penultimate+handcrafted"):
        assert 0.0 <= precision[name]["p@5"] <= 1.0
    # the second run reads the cached layers and gives the same numbers
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["genre_precision"] == precision
