"""The song-mood calibration's text side: messages placed at their gold labels' anchors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.mood.space import LABEL_ANCHORS
from moodtape.training.song_mood import calibration, text_mood_stats

EMOTION = Path(__file__).parents[1] / "fixtures" / "emotion"


def test_text_reference_is_the_spread_of_the_gold_labels() -> None:
    stats = text_mood_stats(EMOTION / "goemotions_ekman.tsv", "goemotions-ekman")
    lines = (EMOTION / "goemotions_ekman.tsv").read_text(encoding="utf-8").splitlines()[1:]  # header
    rows = [line.split("\t") for line in lines]
    single = [row[2] for row in rows if row[2] and "," not in row[2]]
    valences = [LABEL_ANCHORS[label].point[0] for label in single]
    assert stats["valence"][0] == pytest.approx(np.mean(valences))
    assert stats["valence"][1] == pytest.approx(np.std(valences))
    assert stats["valence"][1] > 0.3 and stats["arousal"][1] > 0.1


def test_korean_labels_are_placed_too() -> None:
    stats = text_mood_stats(EMOTION / "ko_single_turn.csv", "ko-single-turn")
    assert -1 < stats["valence"][0] < 1 and stats["valence"][1] > 0.3


def test_calibration_maps_prediction_spread_onto_text_spread() -> None:
    predictions = np.asarray([[0.1, -0.2], [0.2, 0.0], [0.15, 0.2]])
    result = calibration(predictions, {"valence": (0.25, 0.45), "arousal": (0.2, 0.3)}, "test")
    assert result["valence"]["from_mean"] == pytest.approx(0.15) and result["valence"]["to_sd"] == 0.45
    assert result["reference"] == "test"
    with pytest.raises(ValueError, match="do not vary"):
        calibration(np.ones((3, 2)), {"valence": (0.0, 1.0), "arousal": (0.0, 1.0)}, "test")


def test_unknown_or_no_input_blocks_are_a_clear_error(tmp_path: Path) -> None:
    from moodtape.core.errors import UserError
    from moodtape.training.song_mood import input_blocks

    for inputs in ((), ("handcrafted",), ("mtt.penultimate", "nope")):
        with pytest.raises(UserError, match="unknown song mood input"):
            input_blocks([tmp_path / "a.wav"], inputs, None, 1)


def test_song_mood_from_musicnn_blocks_is_cross_validated_by_artist(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from moodtape.bot.cli import main
    from moodtape.core.mood.song_mood import SongMoodModel

    from tests.training.test_musicnn_head import _corpus

    emotify, _, _ = _corpus(tmp_path)
    out = tmp_path / "song_mood.json"
    argv = ["train", "song-mood", "--data", str(emotify), "--inputs", "msd.taggram,handcrafted.raw", "--folds", "3",
            "--repeats", "2", "--cache", str(tmp_path / "cache"), "--out", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["grouped_by"] == "artist" and report["inputs"] == ["msd.taggram", "handcrafted.raw"]
    assert set(report["spearman_over_fold_seeds"]["valence"]) == {"mean", "min", "max"}
    model = SongMoodModel.load(out)
    assert model.inputs == ("msd.taggram", "handcrafted.raw") and model.mean.shape == (178,)
    assert "msd.taggram+handcrafted.raw" in model.version
