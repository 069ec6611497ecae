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
