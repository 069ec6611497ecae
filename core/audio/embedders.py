"""Which audio embedder is current, and the interface every embedder offers.

The store stamps each vector with the embedder's `version`; when the current version changes (a new model or
new standardisation statistics) the scheduler re-embeds, and queries only compare vectors of one version.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from core.audio.descriptor import HandcraftedEmbedder


class AudioEmbedder(Protocol):
    version: str
    dim: int

    def embed(self, samples: np.ndarray, sr: int = ...) -> np.ndarray: ...


def load_audio_embedder(device: str = "cpu") -> AudioEmbedder:
    """The default content embedder for this installation."""
    return HandcraftedEmbedder(device=device)
