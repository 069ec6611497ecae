"""Implicit ALS (the `implicit` library; the old numpy solver as the reference): exact normal equations, falling
loss, genres kept apart, 👎 honoured, and the two solvers agreeing on what continues a playlist."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from moodtape.core.cf.als import fit_als, loss
from moodtape.core.cf.matrix import from_playlists
from moodtape.training.als_numpy import _cg_solve, fit_als_numpy

from tests.core.cf.synthetic import index_lists


def _genres() -> tuple[sp.csr_matrix, list[int]]:
    matrix, keys = from_playlists(index_lists())
    return matrix, keys  # type: ignore[return-value]


def test_conjugate_gradient_reaches_the_exact_row_solution() -> None:
    matrix, _ = _genres()
    model = fit_als_numpy(matrix, factors=4, regularization=0.5, alpha=10, iterations=3)
    y = model.item_factors
    x = np.zeros_like(model.user_factors)
    conf = (10 * np.abs(matrix.data)).astype(np.float32)
    _cg_solve(matrix, conf, (matrix.data > 0).astype(np.float32), x, y, 0.5, steps=20)
    for row in (0, 7, 33):
        items = matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]
        a = y.T @ y + 0.5 * np.eye(4) + 10 * y[items].T @ y[items]
        b = 11 * y[items].sum(axis=0)
        assert np.allclose(x[row], np.linalg.solve(a, b), atol=1e-4)


@pytest.mark.parametrize("fit", [fit_als, fit_als_numpy])
def test_more_sweeps_lower_the_objective(fit) -> None:  # type: ignore[no-untyped-def]
    matrix, _ = _genres()
    one = loss(matrix, fit(matrix, factors=4, regularization=0.5, alpha=10, iterations=1))
    ten = loss(matrix, fit(matrix, factors=4, regularization=0.5, alpha=10, iterations=10))
    assert ten < one * 0.9


@pytest.mark.parametrize("fit", [fit_als, fit_als_numpy])
def test_continuation_and_vectors_stay_in_the_genre(fit) -> None:  # type: ignore[no-untyped-def]
    matrix, keys = _genres()
    model = fit(matrix, factors=2, regularization=0.1, alpha=10, iterations=15)
    col = {k: i for i, k in enumerate(keys)}
    scores = model.score(np.array([col[0], col[1]]))
    ranked = [keys[i] for i in np.argsort(-scores) if keys[i] not in (0, 1)]
    assert all(item < 10 for item in ranked[:8])
    unit = model.item_vectors() / np.linalg.norm(model.item_vectors(), axis=1, keepdims=True)
    nearest = np.argsort(-(unit @ unit[col[15]]))[1:6]
    assert all(keys[i] >= 10 for i in nearest)


def test_the_engine_fits_with_implicit() -> None:
    matrix, _ = _genres()
    model = fit_als(matrix, factors=3, regularization=0.2, alpha=5, iterations=2)
    assert model.solver == "implicit" and model.version == "als-f3-l0.2-a5-i2"
    assert model.item_factors.shape == (matrix.shape[1], 3) and model.item_factors.dtype == np.float32


def test_fold_in_equals_a_half_step_for_a_new_playlist() -> None:
    matrix, keys = _genres()
    items = np.array([0, 3, 4])
    # implicit: a stored cell's confidence is alpha*|w|
    model = fit_als(matrix, factors=3, regularization=0.2, alpha=5, iterations=5)
    y = model.item_factors.astype(np.float64)
    a = y.T @ y + 0.2 * np.eye(3) + 4 * y[items].T @ y[items]
    assert np.allclose(model.fold_in(items), np.linalg.solve(a, 5 * y[items].sum(axis=0)), atol=1e-4)
    # the numpy reference: 1 + alpha*|w|
    model = fit_als_numpy(matrix, factors=3, regularization=0.2, alpha=5, iterations=5)
    y = model.item_factors.astype(np.float64)
    a = y.T @ y + 0.2 * np.eye(3) + 5 * y[items].T @ y[items]
    assert np.allclose(model.fold_in(items), np.linalg.solve(a, 6 * y[items].sum(axis=0)), atol=1e-4)


@pytest.mark.parametrize("fit", [fit_als, fit_als_numpy])
def test_a_confident_dislike_lowers_the_prediction(fit) -> None:  # type: ignore[no-untyped-def]
    matrix, keys = _genres()
    col = {k: i for i, k in enumerate(keys)}
    liked = [col[i] for i in range(10) if i != 4]
    extra = sp.lil_matrix((1, matrix.shape[1]), dtype=np.float32)
    for c in liked:
        extra[0, c] = 1.0
    plain = sp.vstack([matrix, extra]).tocsr()
    extra[0, col[4]] = -1.0  # this listener liked all of genre A but song A4
    disliked = sp.vstack([matrix, extra]).tocsr()
    kwargs = {"factors": 4, "regularization": 0.5, "alpha": 20, "iterations": 10}
    before = fit(plain, **kwargs)
    after = fit(disliked, **kwargs)
    row = matrix.shape[0]
    assert after.user_factors[row] @ after.item_factors[col[4]] < before.user_factors[row] @ before.item_factors[col[4]]
