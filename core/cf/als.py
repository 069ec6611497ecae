"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) solved with a few conjugate-gradient steps per sweep.

Every playlist/track cell has a preference p (1 if the track is in the playlist, else 0) and a confidence
c = 1 + alpha * |w| (1 for the unobserved cells).  Minimising sum c (p - x_u.y_i)^2 + reg (|x|^2 + |y|^2)
alternates between playlist factors X and track factors Y; each half-step is a ridge regression per row
whose normal equations are (Y'Y + reg I + Y_u' (C_u - I) Y_u) x_u = Y_u' C_u p_u.

Instead of forming and solving one f x f system per row (147k Python-level solves at this scale), all rows
are solved together with conjugate gradient, warm-started from the previous sweep (Takacs, Pilaszy & Tikk
2011, the approach of the `implicit` package): a CG step is one dense product with Y'Y plus one sparse
product over the observed cells, so a sweep costs O(nnz * f + n * f^2) in vectorised numpy.  A 👎 cell has
p = 0 with raised confidence, so it enters the left-hand side but not the right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp

Progress = Callable[[int, int], None]


@dataclass
class ALSModel:
    """Fitted factors; `user_factors` are the training rows' (playlists'), `item_factors` the tracks'."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    factors: int
    regularization: float
    alpha: float
    iterations: int
    _gram: np.ndarray | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        return f"als-f{self.factors}-l{self.regularization:g}-a{self.alpha:g}-i{self.iterations}"

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def fold_in(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The factor of a new playlist holding `items` (exact solve, as one ALS half-step would give)."""
        y = self.item_factors
        if self._gram is None:
            self._gram = y.T @ y + self.regularization * np.eye(self.factors, dtype=y.dtype)
        items = np.asarray(items, dtype=np.int64)
        w = np.ones(len(items), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        ys = y[items].astype(np.float64)
        conf = self.alpha * np.abs(w).astype(np.float64)
        a = self._gram.astype(np.float64) + (ys * conf[:, None]).T @ ys
        b = ((1.0 + conf) * (w > 0))[None, :] @ ys
        return np.linalg.solve(a, b.ravel()).astype(np.float32)

    def score(self, items: np.ndarray) -> np.ndarray:
        """Predicted preference of every track for a playlist that holds `items`."""
        if len(items) == 0:
            return np.zeros(self.item_factors.shape[0], dtype=np.float32)
        return self.item_factors @ self.fold_in(items)


def _cg_solve(
    r_csr: sp.csr_matrix, conf: np.ndarray, pref: np.ndarray, x: np.ndarray, y: np.ndarray, reg: float, steps: int
) -> None:
    """Improve every row of `x` in place with `steps` conjugate-gradient steps on its normal equations.

    `conf` is alpha*|w| per stored cell (the extra confidence), `pref` 1/0 per stored cell.
    """
    rows = np.repeat(np.arange(r_csr.shape[0], dtype=np.int64), np.diff(r_csr.indptr))
    cols = r_csr.indices
    gram = (y.T @ y).astype(np.float32) + np.float32(reg) * np.eye(y.shape[1], dtype=np.float32)
    shape = r_csr.shape

    def apply(v: np.ndarray) -> np.ndarray:
        # (Y'Y + reg I) v_u + sum_i conf_ui (y_i . v_u) y_i, for every row u at once
        dots = np.einsum("nf,nf->n", v[rows], y[cols]) * conf
        return v @ gram + sp.csr_matrix((dots, cols, r_csr.indptr), shape=shape) @ y

    b = sp.csr_matrix(((1.0 + conf) * pref, cols, r_csr.indptr), shape=shape) @ y
    resid = b - apply(x)
    direction = resid.copy()
    rs_old = np.einsum("nf,nf->n", resid, resid)
    for _ in range(steps):
        if float(rs_old.max(initial=0.0)) < 1e-20:
            break
        ad = apply(direction)
        denom = np.einsum("nf,nf->n", direction, ad)
        step = np.divide(rs_old, denom, out=np.zeros_like(rs_old), where=denom > 0)
        x += step[:, None] * direction
        resid -= step[:, None] * ad
        rs_new = np.einsum("nf,nf->n", resid, resid)
        ratio = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 0)
        direction = resid + ratio[:, None] * direction
        rs_old = rs_new


def fit_als(
    matrix: sp.csr_matrix,
    *,
    factors: int = 64,
    regularization: float = 0.1,
    alpha: float = 20.0,
    iterations: int = 15,
    cg_steps: int = 3,
    seed: int = 0,
    progress: Progress | None = None,
) -> ALSModel:
    """Fit on a signed rows x items matrix (> 0 positive, < 0 disliked; magnitude scales the confidence)."""
    if factors < 1 or iterations < 1 or cg_steps < 1:
        raise ValueError("factors, iterations and cg_steps must be positive")
    if alpha <= 0 or regularization < 0:
        raise ValueError("alpha must be positive and regularization non-negative")
    r = sp.csr_matrix(matrix, dtype=np.float32)
    r.sort_indices()
    rt = r.T.tocsr()
    rt.sort_indices()
    rng = np.random.default_rng(seed)
    scale = np.float32(0.01)
    x = (rng.standard_normal((r.shape[0], factors)) * scale).astype(np.float32)
    y = (rng.standard_normal((r.shape[1], factors)) * scale).astype(np.float32)
    conf_r, pref_r = (np.float32(alpha) * np.abs(r.data)).astype(np.float32), (r.data > 0).astype(np.float32)
    conf_t, pref_t = (np.float32(alpha) * np.abs(rt.data)).astype(np.float32), (rt.data > 0).astype(np.float32)
    for iteration in range(iterations):
        _cg_solve(r, conf_r, pref_r, x, y, regularization, cg_steps)
        _cg_solve(rt, conf_t, pref_t, y, x, regularization, cg_steps)
        if progress is not None:
            progress(iteration + 1, iterations)
    return ALSModel(x, y, factors, regularization, alpha, iterations)


def loss(matrix: sp.csr_matrix, model: ALSModel) -> float:
    """The weighted squared error + L2 objective (dense over all cells: small matrices / tests only)."""
    r = sp.csr_matrix(matrix, dtype=np.float32).toarray()
    pref = (r > 0).astype(np.float64)
    conf = 1.0 + model.alpha * np.abs(r)
    pred = model.user_factors.astype(np.float64) @ model.item_factors.T.astype(np.float64)
    penalty = model.regularization * (np.sum(model.user_factors.astype(np.float64) ** 2)
                                      + np.sum(model.item_factors.astype(np.float64) ** 2))
    return float(np.sum(conf * (pref - pred) ** 2) + penalty)
