"""Vector arithmetic shared by every subsystem that compares embeddings.

One definition of "unit length" keeps the similar search, the continuation, the collaborative bridge and
the training metrics on exactly the same cosine: a row of zeros stays zeros (it has no direction) instead
of becoming NaN.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unit"]


def unit(rows: np.ndarray) -> np.ndarray:
    """`rows` scaled to unit length along the last axis (one vector or a matrix of row vectors)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)
