"""Item-item co-occurrence kNN: exact cosine scores, genre separation, 👎 subtraction, 64-d vectors."""

from __future__ import annotations

import numpy as np

from moodtape.core.cf.itemknn import ItemKNN
from moodtape.core.cf.matrix import from_playlists
from tests.core.cf.synthetic import index_lists


def test_scores_are_sums_of_cosine_similarities() -> None:
    # a in {p1, p2}, b in {p1, p2}, c in {p2, p3}, d in {p3}
    matrix, keys = from_playlists([["a", "b"], ["a", "b", "c"], ["c", "d"]])
    knn = ItemKNN(matrix)
    col = {k: i for i, k in enumerate(keys)}
    scores = knn.score(np.array([col["a"]]))
    assert np.isclose(scores[col["b"]], 2 / np.sqrt(2 * 2))  # 1.0
    assert np.isclose(scores[col["c"]], 1 / np.sqrt(2 * 2))  # 0.5
    assert scores[col["d"]] == 0.0
    both = knn.score(np.array([col["a"], col["d"]]))
    assert np.isclose(both[col["c"]], 0.5 + 1 / np.sqrt(1 * 2))


def test_recommendations_stay_in_the_seed_genre() -> None:
    matrix, keys = from_playlists(index_lists())
    knn = ItemKNN(matrix)
    col = {k: i for i, k in enumerate(keys)}
    scores = knn.score(np.array([col[0], col[1]]))
    order = [keys[i] for i in np.argsort(-scores) if keys[i] not in (0, 1)][:8]
    assert all(item < 10 for item in order)
    assert [keys[i] for i in knn.neighbours(col[12], 5)] == sorted(
        [keys[i] for i in knn.neighbours(col[12], 5)], key=lambda k: -knn.score(np.array([col[12]]))[col[k]])
    assert all(keys[i] >= 10 for i in knn.neighbours(col[12], 5))


def test_a_dislike_next_to_likes_lowers_similarity() -> None:
    rows = [["a", "b"], ["a", "b"], ["a", "c"], ["a", "c"]]
    matrix, keys = from_playlists(rows)
    col = {k: i for i, k in enumerate(keys)}
    before = ItemKNN(matrix).score(np.array([col["a"]]))
    signed = matrix.tolil()
    signed.resize(6, matrix.shape[1])
    for row in (4, 5):  # two people liked "a" and disliked "c"
        signed[row, col["a"]] = 1.0
        signed[row, col["c"]] = -1.0
    after = ItemKNN(signed.tocsr()).score(np.array([col["a"]]))
    assert np.isclose(before[col["b"]], before[col["c"]])
    assert after[col["c"]] < before[col["c"]] and after[col["b"]] > after[col["c"]]


def test_item_vectors_have_the_store_size_and_keep_genres_apart() -> None:
    matrix, keys = from_playlists(index_lists())
    vectors = ItemKNN(matrix).item_vectors(64)
    assert vectors.shape == (20, 64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    genre = np.array([k >= 10 for k in keys])
    same = sims[genre[:, None] == genre[None, :]].mean()
    other = sims[genre[:, None] != genre[None, :]].mean()
    assert same > 0.3 and abs(other) < 0.1
