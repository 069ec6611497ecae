"""The audio -> collaborative bridge: learns a real relation, admits a missing one, survives the store."""

from __future__ import annotations

import numpy as np
import pytest

from moodtape.core.cf.bridge import MIN_TRACKS, Bridge, fit_bridge


def _data(n: int, related: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(n, 128))
    mix = rng.normal(size=(128, 64))
    cf = audio @ mix + 0.5 * rng.normal(size=(n, 64)) if related else rng.normal(size=(n, 64))
    return audio, cf


def test_a_real_relation_is_learnt_and_a_missing_one_is_reported() -> None:
    audio, cf = _data(300, related=True)
    bridge = fit_bridge(audio, cf, "hand-v1")
    assert bridge.cv_cosine > 0.8
    predicted = bridge.predict(audio[:5])
    assert predicted.shape == (5, 64) and np.allclose(np.linalg.norm(predicted, axis=1), 1.0, atol=1e-5)
    noise = fit_bridge(*_data(300, related=False), "hand-v1")
    assert abs(noise.cv_cosine) < 0.1  # nothing to learn: the cross-validated score says so


def test_round_trip_through_json_and_minimum_size() -> None:
    bridge = fit_bridge(*_data(40, related=True), "hand-v1")
    again = Bridge.from_json(bridge.to_json())
    assert again.audio_version == "hand-v1" and again.n_train == 40 and again.version == bridge.version
    x = np.random.default_rng(1).normal(size=(3, 128))
    assert np.allclose(again.predict(x), bridge.predict(x), atol=1e-4)
    with pytest.raises(ValueError, match=str(MIN_TRACKS)):
        fit_bridge(*_data(MIN_TRACKS - 1, related=True), "hand-v1")
