"""RecSys Challenge 2018 metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from moodtape.training.cf_metrics import clicks, ndcg, r_precision


def test_r_precision_counts_hits_in_the_first_len_truth_slots() -> None:
    truth = {"a", "b", "c"}
    assert r_precision(truth, ["x", "a", "y", "b", "c"]) == pytest.approx(1 / 3)  # only "a" in the top 3
    assert r_precision(truth, ["c", "b", "a", "x"]) == 1.0
    assert r_precision(truth, ["a", "a", "b", "x"]) == pytest.approx(2 / 3)  # a repeat counts once


def test_ndcg_discounts_by_log2_of_position_plus_one() -> None:
    truth = {"a", "b", "c"}
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # hits at positions 2 and 4
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg(truth, ["x", "a", "y", "b"]) == pytest.approx(dcg / idcg)  # 0.4982
    assert ndcg(truth, ["a", "b", "c", "x"]) == pytest.approx(1.0)
    assert ndcg(truth, ["x", "y"]) == 0.0
    assert ndcg({"a"}, ["x", "a"], cap=1) == 0.0  # beyond the cap counts for nothing


def test_clicks_are_pages_of_ten_before_the_first_hit() -> None:
    truth = {"hit"}
    assert clicks(truth, ["hit"] + ["x"] * 499) == 0
    assert clicks(truth, [f"x{i}" for i in range(9)] + ["hit"]) == 0  # position 10: first page
    assert clicks(truth, [f"x{i}" for i in range(10)] + ["hit"]) == 1  # position 11: one refresh
    assert clicks(truth, [f"x{i}" for i in range(24)] + ["hit"]) == 2
    assert clicks(truth, [f"x{i}" for i in range(500)]) == 51  # none in 500: 500 / 10 + 1


def test_empty_truth_is_an_error_not_a_score() -> None:
    with pytest.raises(ValueError):
        r_precision(set(), ["a"])
