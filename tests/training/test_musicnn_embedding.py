"""`moodtape train musicnn-embedding`: candidates ranked on dev groups, the winner measured on held-out ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from moodtape.bot.cli import main
from moodtape.core.audio.musicnn_embedder import EmbeddingSpec
from moodtape.core.errors import UserError
from moodtape.training.musicnn_embedding import run

from tests.training.test_musicnn_head import _corpus


def test_the_command_chooses_on_dev_reports_test_and_writes_a_loadable_spec(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emotify, debian, _ = _corpus(tmp_path)
    split = tmp_path / "my_split.json"
    split.write_text(json.dumps({"debian_games": ["game-c"], "emotify_track_ids": [0, 1, 2, 3, 4, 5]}))
    out, cache = tmp_path / "spec", tmp_path / "cache"
    argv = ["train", "musicnn-embedding", "--emotify", str(emotify), "--debian", str(debian), "--split", str(split),
            "--cache", str(cache), "--max-patches", "1", "--out", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == {"dev": 14, "test": 10, "dev_emotify": 6, "test_emotify": 6, "dev_debian": 8,
                           "test_debian": 4}
    # every candidate of 128 dimensions or more was ranked on dev, beside the descriptor
    assert {"handcrafted", "penultimate (both)", "penultimate+taggram (both)+handcrafted"} <= set(report["dev"])
    assert "taggram (both)" not in report["dev"]  # 100 dimensions cannot fill the store's 128
    chosen = report["chosen"]
    dev_mean = {name: np.mean([v for v in scores.values() if v is not None])
                for name, scores in report["dev"].items() if name != "handcrafted"}
    assert dev_mean[chosen] == max(dev_mean.values())
    # the test groups are measured for the winner and the descriptor only; 4 tracks of a game are too few
    assert set(report["test"]) == {"handcrafted", chosen}
    assert 0.0 <= report["test"][chosen]["emotify_genre_p5"] <= 1.0 and report["test"][chosen]["debian_game_p5"] is None

    spec = EmbeddingSpec.load(out)
    assert spec.max_patches == 1 and list(spec.blocks) == report["blocks"] and spec.components.shape[0] == 128
    assert "research and non-commercial" in (out / "EMBEDDING_CARD.md").read_text()
    # the same data gives the same spec (a version that re-embeds nobody's catalogue for nothing)
    assert main(argv) == 0
    capsys.readouterr()
    assert EmbeddingSpec.load(out).digest == spec.digest


def test_too_little_music_or_a_missing_split_is_a_clear_error(tmp_path: Path) -> None:
    emotify, debian, split = _corpus(tmp_path)
    with pytest.raises(UserError, match="cannot read the split"):
        run(emotify, debian, tmp_path / "nope.json", out=None, cache_dir=None)
    with pytest.raises(UserError, match="--emotify"):
        run(None, None, split, out=None, cache_dir=None)
