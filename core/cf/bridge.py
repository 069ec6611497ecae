"""Content-to-collaborative bridge: predict a track's collaborative vector from its audio vector.

A song nobody has put in a playlist yet has no collaborative vector, so `similar` and `continue` could only
judge it by sound.  Tracks that have both vectors teach a map from one space to the other (the content-to-
collaborative idea of the prototypes, van den Oord et al. 2013 in spirit); a cold track then gets the
collaborative vector its sound predicts.  The overlap between a user's audio files and imported playlists
is usually small (tens to hundreds of tracks), so the map is ridge regression with the strength chosen by
cross-validation: anything bigger would memorise the few examples.  Its cross-validated cosine to the true
vectors is kept with it, so nobody mistakes a weak bridge for a strong one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodtape.core.vectors import unit

#: Below this many tracks with both vectors, no bridge is fitted (a map from 128 dims needs examples).
MIN_TRACKS = 20
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Weights (d + 1, k) of ridge regression with an unpenalised intercept (last row)."""
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mean_x, y - mean_y
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return np.vstack([w, mean_y - mean_x @ w])


def _apply(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x @ weights[:-1] + weights[-1]


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def cross_validated_cosine(x: np.ndarray, y: np.ndarray, alpha: float, *, folds: int = 5, seed: int = 0
                           ) -> np.ndarray:
    """Cosine between each track's true vector and the one predicted by a model that never saw it."""
    n = len(x)
    out = np.zeros(n)
    for held in _folds(n, min(folds, n), seed):
        train = np.setdiff1d(np.arange(n), held)
        predicted = unit(_apply(_ridge(x[train], y[train], alpha), x[held]))
        out[held] = np.sum(predicted * unit(y[held]), axis=1)
    return out


@dataclass(frozen=True)
class Bridge:
    weights: np.ndarray  # (audio dims + 1, cf dims)
    alpha: float
    n_train: int
    cv_cosine: float  # mean cross-validated cosine(predicted, true)
    audio_version: str

    def predict(self, audio: np.ndarray) -> np.ndarray:
        """Unit collaborative vectors for rows of audio vectors."""
        x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
        return unit(_apply(self.weights, x)).astype(np.float32)

    @property
    def version(self) -> str:
        return f"bridge-ridge-a{self.alpha:g}-n{self.n_train}"

    def to_json(self) -> str:
        return json.dumps({
            "weights": np.round(self.weights, 6).tolist(), "alpha": self.alpha, "n_train": self.n_train,
            "cv_cosine": self.cv_cosine, "audio_version": self.audio_version,
        })

    @classmethod
    def from_json(cls, text: str) -> "Bridge":
        data: dict[str, Any] = json.loads(text)
        return cls(np.asarray(data["weights"], dtype=np.float64), float(data["alpha"]), int(data["n_train"]),
                   float(data["cv_cosine"]), str(data["audio_version"]))


def fit_bridge(audio: np.ndarray, cf: np.ndarray, audio_version: str, *, folds: int = 5, seed: int = 0) -> Bridge:
    """Ridge from audio to (unit) collaborative vectors, strength picked by k-fold cross-validated cosine."""
    x = np.asarray(audio, dtype=np.float64)
    y = unit(np.asarray(cf, dtype=np.float64))
    if len(x) != len(y):
        raise ValueError("one collaborative vector per audio vector")
    if len(x) < MIN_TRACKS:
        raise ValueError(f"a bridge needs at least {MIN_TRACKS} tracks with both vectors, got {len(x)}")
    scores = {alpha: float(cross_validated_cosine(x, y, alpha, folds=folds, seed=seed).mean()) for alpha in ALPHAS}
    best = max(scores, key=scores.__getitem__)
    return Bridge(_ridge(x, y, best), best, len(x), round(scores[best], 4), audio_version)
