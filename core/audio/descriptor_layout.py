"""The layout of the handcrafted content vector: its name, size and feature groups, without torch.

Explaining a match ("similar timbre and rhythm") needs only the layout, not the feature code, so query paths
import this module and never pay for torch; `audio.descriptor` computes the numbers in this order.
"""

from __future__ import annotations

__all__ = ["DIM", "GROUPS", "NAME"]

DIM = 128
NAME = "hand"
#: (group name, number of dimensions, weight in the final cosine comparison)
GROUPS: tuple[tuple[str, int, float], ...] = (
    ("timbre", 40, 1.0),
    ("timbre_dynamics", 20, 1.0),
    ("harmony", 24, 1.0),
    ("spectral_contrast", 14, 1.0),
    ("spectral_shape", 10, 1.0),
    ("loudness", 7, 1.0),
    ("rhythm", 13, 1.0),
)
assert sum(size for _, size, _ in GROUPS) == DIM
