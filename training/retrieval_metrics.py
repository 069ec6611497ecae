"""Retrieval quality of an embedding: do a track's nearest neighbours share its label (album, genre, ...)?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def precision_at_k(vectors: np.ndarray, labels: Sequence[str], ks: Sequence[int] = (5, 10)) -> dict[str, float]:
    """Mean share of same-label items among each item's k nearest others by cosine similarity."""
    if len(vectors) != len(labels):
        raise ValueError("one label per vector")
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)
    same = np.asarray(labels)[order] == np.asarray(labels)[:, None]
    # the item itself sorts last (-inf), so never look past the n - 1 others
    return {f"p@{k}": float(same[:, :min(k, len(labels) - 1)].mean()) for k in ks}


def chance_precision(labels: Sequence[str]) -> float:
    """Expected precision of random neighbours: mean over items of (same-label others) / (all others)."""
    counts = Counter(labels)
    n = len(labels)
    if n < 2:
        return 0.0
    return float(np.mean([(counts[label] - 1) / (n - 1) for label in labels]))
