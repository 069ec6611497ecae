"""The hand-written implicit ALS (conjugate gradient in numpy) that Moodtape used before `implicit`.

Kept only as the reference `moodtape eval cf --methods als-numpy,als` compares the maintained library against on
the same split in one run (issue 17); the engine fits with `implicit` (`core.cf.als`).  Same objective (Hu,
Koren & Volinsky 2008) but its confidence is 1 + alpha*|w|, where `implicit`'s is alpha*|w|.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from moodtape.core.cf.als import ALSModel, Progress

__all__ = ["fit_als_numpy"]


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


def fit_als_numpy(
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
    return ALSModel(x, y, factors, regularization, alpha, iterations, solver="numpy")
