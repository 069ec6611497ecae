"""The shipped audio mood model gives every track a plausible point in the mood space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.audio.decode import decode
from moodtape.core.audio.descriptor import HandcraftedEmbedder
from moodtape.core.audio.musicnn_embedder import shared_analyser
from moodtape.core.mood import GEMS, SongMoodModel, load_song_mood_model
from tests.conftest import AUDIO


def _blocks(path: Path) -> dict[str, np.ndarray]:
    """The feature blocks ingestion computes for a file (handcrafted statistics and musicnn's layers)."""
    samples = decode(path).samples
    return {"handcrafted.raw": HandcraftedEmbedder().raw(samples), **shared_analyser().analyse(samples).blocks}


def test_predictions_are_in_range_and_drums_are_more_aroused_than_pads() -> None:
    model = load_song_mood_model()
    assert "msd.taggram" in model.inputs  # the shipped model hears through musicnn
    pad = model.predict_blocks(_blocks(AUDIO / "pad_a.wav"))
    beat = model.predict_blocks(_blocks(AUDIO / "beat_a.ogg"))
    for mood in (pad, beat):
        assert -1 <= mood.valence <= 1 and -1 <= mood.arousal <= 1
        assert set(mood.gems) == set(GEMS) and all(0 <= s <= 1 for s in mood.gems.values())
    assert beat.arousal > pad.arousal
    details = beat.details()
    assert details["mood"] and len(details["top_gems"]) == 3 and "," in details["description"]


def test_calibration_puts_songs_on_the_messages_scale_and_keeps_their_order() -> None:
    """A shrunken prediction spread is stretched onto the text scale: a sad song can match a sad message."""
    outputs = ["valence", "arousal"]
    calibration = {"valence": {"from_mean": 0.15, "from_sd": 0.04, "to_mean": 0.25, "to_sd": 0.45},
                   "arousal": {"from_mean": 0.05, "from_sd": 0.2, "to_mean": 0.23, "to_sd": 0.3}}
    weights = np.eye(2, 3)  # valence = x0, arousal = x1 (standardised with mean 0, std 1)
    model = SongMoodModel(np.zeros(3), np.ones(3), weights, np.zeros(2), "t", outputs, calibration)
    raw = np.asarray([[0.07, -0.2, 0.0], [0.15, 0.05, 0.0], [0.19, 0.5, 0.0], [0.40, 0.9, 0.0]])
    moods = model.predict_many(raw)
    valences = [m.valence for m in moods]
    assert valences == sorted(valences)
    assert moods[0].valence < -0.5  # two prediction spreads below the typical song: clearly sad
    assert abs(moods[1].valence - 0.25) < 1e-9 and abs(moods[1].arousal - 0.23) < 1e-9  # the typical song
    assert moods[3].valence == 1.0 and moods[3].arousal == 1.0  # clipped to the mood square
    uncalibrated = SongMoodModel(np.zeros(3), np.ones(3), weights, np.zeros(2), "t", outputs)
    assert uncalibrated.predict(raw[0]).valence == 0.07


def test_a_bad_calibration_is_refused() -> None:
    bad = {"valence": {"from_mean": 0.0, "from_sd": 0.0, "to_mean": 0.0, "to_sd": 0.4}}
    with pytest.raises(ValueError, match="calibration"):
        SongMoodModel(np.zeros(2), np.ones(2), np.eye(2), np.zeros(2), "t", ["valence", "arousal"], bad)


def test_shipped_model_is_calibrated_to_chat_messages() -> None:
    model = load_song_mood_model()
    assert set(model.calibration) == {"valence", "arousal"}
    assert model.calibration["valence"]["to_sd"] > 5 * model.calibration["valence"]["from_sd"]


def test_a_missing_input_block_is_named() -> None:
    model = SongMoodModel(np.zeros(3), np.ones(3), np.zeros((2, 3)), np.zeros(2), "t", ["valence", "arousal"],
                          inputs=("mtt.taggram",))
    with pytest.raises(ValueError, match="mtt.taggram"):
        model.predict_blocks({"handcrafted.raw": np.zeros(3)})
