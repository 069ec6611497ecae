"""The interaction matrix: playlists as rows, 👍/👎 folded in as one pseudo-playlist per voter."""

from __future__ import annotations

import numpy as np
import pytest

from moodtape.core.cf.matrix import build_interactions, from_playlists


def _cell(interactions, row_label: str, track_id: int) -> float:  # type: ignore[no-untyped-def]
    row = interactions.row_labels.index(row_label)
    col = int(np.flatnonzero(interactions.item_ids == track_id)[0])
    return float(interactions.matrix[row, col])


def test_playlists_become_binary_rows_and_repeats_count_once() -> None:
    inter = build_interactions([(1, 10), (1, 11), (1, 10), (2, 11), (2, 12)])
    assert inter.n_rows == 2 and inter.n_items == 3 and inter.nnz == 4
    assert _cell(inter, "playlist:1", 10) == 1.0
    assert inter.item_counts().tolist() == [1, 2, 1]  # tracks 10, 11, 12 in first-seen order
    assert inter.item_ids.tolist() == [10, 11, 12]


def test_feedback_likes_and_dislikes_share_one_row_per_user() -> None:
    inter = build_interactions(
        [(1, 10), (1, 11)],
        [(10, "tg:1", 1), (12, "tg:1", 1), (11, "tg:1", -1), (10, "tg:2", -1)],
    )
    assert "feedback:tg:1" in inter.row_labels
    assert _cell(inter, "feedback:tg:1", 12) == 1.0  # a 👍 adds the track to the user's row
    assert _cell(inter, "feedback:tg:1", 11) == -1.0  # a 👎 is a confident "does not belong"
    # a user who only disliked says nothing about what the dislike does not go with
    assert "feedback:tg:2" not in inter.row_labels
    assert inter.negatives().nnz == 1 and inter.positives().nnz == 4


def test_votes_are_netted_so_a_withdrawn_like_cancels() -> None:
    inter = build_interactions([(1, 10)], [(11, "u", 1), (11, "u", -1), (12, "u", 1)])
    assert _cell(inter, "feedback:u", 12) == 1.0
    assert 11 not in inter.item_ids.tolist()  # +1 then -1: as if never voted


def test_bad_votes_are_refused() -> None:
    with pytest.raises(ValueError, match="feedback"):
        build_interactions([(1, 10)], [(10, "u", 2)])


def test_from_playlists_keeps_first_seen_order() -> None:
    matrix, keys = from_playlists([["x", "y", "x"], ["z", "y"]])
    assert keys == ["x", "y", "z"]
    assert matrix.toarray().tolist() == [[1, 1, 0], [0, 1, 1]]
