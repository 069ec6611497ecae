"""The mood space: label anchors, canonical moods, strategies as paths."""

from __future__ import annotations

import pytest

from moodtape.core.mood import (
    LABEL_ANCHORS, canonical_distribution, canonical_label, describe, label_point, strategy_targets, va_from_probs,
)


@pytest.mark.parametrize("label", ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral", "love",
                                   "행복", "슬픔", "분노", "공포", "혐오", "놀람", "중립", "불안", "상처", "당황",
                                   "admiration", "grief", "nervousness", "relief", "joyful_activation", "Sadness"])
def test_every_known_label_set_is_placed(label: str) -> None:
    point = label_point(label)
    assert point is not None and all(-1 <= x <= 1 for x in point)


def test_quadrants_follow_the_circumplex() -> None:
    joy, sad, anger, calm = (label_point(n) for n in ("joy", "sadness", "anger", "calmness"))
    assert joy[0] > 0.5 and sad[0] < -0.5 and anger[1] > 0.5 and calm[1] < -0.3  # type: ignore[index]
    assert label_point("neutral") == (0.0, 0.0)
    assert canonical_label("LABEL_0") is None


def test_va_from_probs_weights_labels() -> None:
    v, a = va_from_probs({"sadness": 0.9, "joy": 0.1, "LABEL_7": 0.5})
    assert v < -0.4 and a < 0
    assert va_from_probs({}) == (0.0, 0.0)


def test_canonical_distribution_and_description() -> None:
    dist = canonical_distribution(*LABEL_ANCHORS["sadness"].point)
    assert max(dist, key=dist.get) == "sad" and abs(sum(dist.values()) - 1) < 1e-9
    assert describe(-0.3, -0.4) == "calm, slightly sad"


def test_lift_is_a_rising_path_and_match_stays() -> None:
    sad = LABEL_ANCHORS["sadness"].point
    path = strategy_targets(*sad, "lift", 5)
    valences = [p[0] for p in path]
    assert valences == sorted(valences) and valences[0] == pytest.approx(sad[0]) and valences[-1] > 0.5
    assert strategy_targets(*sad, "match", 3) == [sad] * 3
    calm = strategy_targets(0.2, 0.6, "calm", 4)
    assert [p[1] for p in calm] == sorted([p[1] for p in calm], reverse=True) and calm[-1][1] < -0.5
    energize = strategy_targets(0.0, -0.5, "energize", 4)
    assert energize[-1][1] > 0.5
    with pytest.raises(ValueError):
        strategy_targets(0, 0, "party", 3)
