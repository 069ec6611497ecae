"""The prototype's denoising autoencoder: learns genres from co-occurrence, 64-d item vectors, 👎 as target 0."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from moodtape.core.cf.dae import fit_dae
from moodtape.core.cf.matrix import from_playlists
from tests.core.cf.synthetic import index_lists


def test_reconstruction_recommends_the_seed_genre_and_loss_falls() -> None:
    matrix, keys = from_playlists(index_lists())
    model = fit_dae(matrix, dims=8, epochs=100, batch_size=16, lr=1e-2, masked_weight=5, seed=0, threads=1)
    assert model.losses[-1] < model.losses[0] * 0.7
    col = {k: i for i, k in enumerate(keys)}
    scores = model.score(np.array([col[0], col[1]]))
    ranked = [keys[i] for i in np.argsort(-scores) if keys[i] not in (0, 1)]
    assert all(item < 10 for item in ranked[:8])
    vectors = model.item_vectors()
    assert vectors.shape == (20, 8)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    genre = np.array([k >= 10 for k in keys])
    sims = unit @ unit.T
    assert sims[genre[:, None] == genre[None, :]].mean() > sims[genre[:, None] != genre[None, :]].mean() + 0.3


def test_a_dislike_is_reconstructed_lower() -> None:
    matrix, keys = from_playlists(index_lists())
    col = {k: i for i, k in enumerate(keys)}
    extra = sp.lil_matrix((6, matrix.shape[1]), dtype=np.float32)
    for row in range(6):
        for item in (0, 1, 2, 3):
            extra[row, col[item]] = 1.0
        extra[row, col[5]] = -1.0  # six listeners of A0-A3 dislike A5
    kwargs = {"dims": 8, "epochs": 60, "batch_size": 16, "lr": 1e-2, "masked_weight": 5, "seed": 0,
              "threads": 1}
    plain = fit_dae(matrix, **kwargs)
    disliked = fit_dae(sp.vstack([matrix, extra]).tocsr(), **kwargs)
    seeds = np.array([col[i] for i in (0, 1, 2, 3)])
    assert disliked.score(seeds)[col[5]] < plain.score(seeds)[col[5]]


def test_bad_settings_are_refused() -> None:
    matrix, _ = from_playlists(index_lists(2))
    with pytest.raises(ValueError, match="dropout"):
        fit_dae(matrix, dropout=1.0)


def test_sampled_output_columns_still_learn_the_genres() -> None:
    matrix, keys = from_playlists(index_lists())
    model = fit_dae(matrix, dims=8, epochs=100, batch_size=16, lr=1e-2, masked_weight=5, seed=0, threads=1,
                    sampled=4)
    assert "-s4" in model.version
    col = {k: i for i, k in enumerate(keys)}
    scores = model.score(np.array([col[10], col[11]]))
    ranked = [keys[i] for i in np.argsort(-scores) if keys[i] not in (10, 11)]
    assert all(item >= 10 for item in ranked[:8])
