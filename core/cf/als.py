"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008), fitted by the maintained `implicit` library.

Every playlist/track cell has a preference p (1 if the track is in the playlist, else 0) and a confidence; for
`implicit` the confidence of a stored cell is alpha * |w| (1 for the unobserved cells).  A 👎 cell is stored as a
negative value, which `implicit` reads as p = 0 with that confidence: it pushes the prediction towards 0 instead
of towards 1.  `implicit` solves each half-step with a few conjugate-gradient steps per row (Takacs, Pilaszy &
Tikk 2011) in native code on the CPU, and on CUDA when its GPU build is installed (the GPU host's worker).

Moodtape solved this in numpy before; that solver lives on as `training/als_numpy.py`, the reference the
evaluation compares against on the same split.  `ALSModel.fold_in` (a new playlist's factor: one exact half-step)
stays here, because the continuation of a playlist that was not in the training matrix needs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

__all__ = ["ALSModel", "Progress", "fit_als", "loss"]

log = logging.getLogger(__name__)

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
    solver: Literal["implicit", "implicit-gpu", "numpy"] = "implicit"
    _gram: np.ndarray | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        name = "" if self.solver.startswith("implicit") else f"{self.solver}-"
        return f"als-{name}f{self.factors}-l{self.regularization:g}-a{self.alpha:g}-i{self.iterations}"

    @property
    def confidence_offset(self) -> float:
        """1 when a stored cell's confidence is 1 + alpha*|w| (the numpy solver), 0 when alpha*|w| (`implicit`)."""
        return 1.0 if self.solver == "numpy" else 0.0

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
        conf = self.confidence_offset + self.alpha * np.abs(w).astype(np.float64)  # a cell's whole confidence
        a = self._gram.astype(np.float64) + (ys * (conf - 1.0)[:, None]).T @ ys
        b = (conf * (w > 0))[None, :] @ ys
        return np.linalg.solve(a, b.ravel()).astype(np.float32)

    def score(self, items: np.ndarray) -> np.ndarray:
        """Predicted preference of every track for a playlist that holds `items`."""
        if len(items) == 0:
            return np.zeros(self.item_factors.shape[0], dtype=np.float32)
        return self.item_factors @ self.fold_in(items)


def _implicit_model(device: str, **params: object) -> tuple[object, Literal["implicit", "implicit-gpu"]]:
    """`implicit`'s GPU model when asked for CUDA and its CUDA build is installed, else the CPU one."""
    import implicit.gpu
    from implicit.cpu.als import AlternatingLeastSquares as CpuALS

    if device.startswith("cuda"):
        if implicit.gpu.HAS_CUDA:
            from implicit.gpu.als import AlternatingLeastSquares as GpuALS

            return GpuALS(**params), "implicit-gpu"
        log.info("implicit has no CUDA build here: ALS fits on the CPU")
    return CpuALS(**params), "implicit"


def fit_als(
    matrix: sp.csr_matrix,
    *,
    factors: int = 64,
    regularization: float = 0.1,
    alpha: float = 20.0,
    iterations: int = 15,
    seed: int = 0,
    device: str = "cpu",
    threads: int = 0,
    progress: Progress | None = None,
) -> ALSModel:
    """Fit on a signed rows x items matrix (> 0 positive, < 0 disliked; magnitude scales the confidence).

    `threads` 0 lets `implicit` use every core; BLAS is held to one thread meanwhile, as `implicit` asks (its
    own threads call BLAS, and nested pools slow it down by an order of magnitude).
    """
    if factors < 1 or iterations < 1:
        raise ValueError("factors and iterations must be positive")
    if alpha <= 0 or regularization < 0:
        raise ValueError("alpha must be positive and regularization non-negative")
    from threadpoolctl import threadpool_limits

    r = sp.csr_matrix(matrix, dtype=np.float32)
    r.sort_indices()
    params = {"factors": factors, "regularization": regularization, "alpha": alpha, "iterations": iterations,
              "random_state": seed, "calculate_training_loss": False}

    def callback(iteration: int, _elapsed: float, _loss: float) -> None:
        if progress is not None:
            progress(iteration + 1, iterations)

    started = time.perf_counter()
    with threadpool_limits(1, "blas"):  # (the model checks the BLAS pool when it is made, so make it here)
        model, solver = _implicit_model(device, **params)
        if solver == "implicit":
            model.num_threads = threads  # type: ignore[attr-defined]
            # centred random factors (implicit's own start is uniform in [0, 0.01), all positive): the start the
            # numpy solver used, which placed the vectors better for `continue` on the same split
            rng = np.random.default_rng(seed)
            model.user_factors = (rng.standard_normal((r.shape[0], factors)) * 0.01).astype(np.float32)
            model.item_factors = (rng.standard_normal((r.shape[1], factors)) * 0.01).astype(np.float32)
        model.fit(r, show_progress=False, callback=callback)  # type: ignore[attr-defined]
    log.debug("implicit ALS (%s) fitted %s in %.1f s", solver, r.shape, time.perf_counter() - started)
    x, y = model.user_factors, model.item_factors  # type: ignore[attr-defined]
    if solver == "implicit-gpu":
        x, y = x.to_numpy(), y.to_numpy()
    return ALSModel(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.float32),
                    factors, regularization, alpha, iterations, solver=solver)


def loss(matrix: sp.csr_matrix, model: ALSModel) -> float:
    """The weighted squared error + L2 objective (dense over all cells: small matrices / tests only)."""
    r = sp.csr_matrix(matrix, dtype=np.float32).toarray()
    pref = (r > 0).astype(np.float64)
    conf = np.where(r != 0, model.confidence_offset + model.alpha * np.abs(r), 1.0)
    pred = model.user_factors.astype(np.float64) @ model.item_factors.T.astype(np.float64)
    penalty = model.regularization * (np.sum(model.user_factors.astype(np.float64) ** 2)
                                      + np.sum(model.item_factors.astype(np.float64) ** 2))
    return float(np.sum(conf * (pref - pred) ** 2) + penalty)
