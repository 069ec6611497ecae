"""Which audio embedder is current, and the interface every embedder offers.

The store stamps each vector with the embedder's `version`; when the current version changes (a new model or
new standardisation statistics) the scheduler re-embeds, and queries only compare vectors of one version.
Every embedder stays available by name: musicnn is the default (it beat the descriptor on held-out music,
see `training/musicnn_embedding.py`), the handcrafted descriptor is also one of its blocks and an input of
the song-mood model, and `moodtape bench embed --encoder` / `moodtape bench encoder` compare them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from moodtape.core.errors import SettingsError

#: Names accepted by `load_audio_embedder`; "default" means DEFAULT_EMBEDDER.
EMBEDDERS = ("handcrafted", "learned", "musicnn")
DEFAULT_EMBEDDER = "musicnn"


class UnknownEmbedder(SettingsError, ValueError):
    """An embedder name no embedder has (`--encoder`): a setting to fix, shown to the person as is.

    Also a `ValueError`, the type callers of `load_audio_embedder` have always been able to catch.
    """


class AudioEmbedder(Protocol):
    version: str
    dim: int

    def embed(self, samples: np.ndarray, sr: int = ...) -> np.ndarray: ...


def load_audio_embedder(device: str = "cpu", kind: str = "default") -> AudioEmbedder:
    """The content embedder `kind` (default: this installation's default)."""
    name = DEFAULT_EMBEDDER if kind == "default" else kind
    if name == "handcrafted":
        from moodtape.core.audio.descriptor import HandcraftedEmbedder  # torch: only when audio is embedded

        return HandcraftedEmbedder(device=device)
    if name == "learned":
        from moodtape.core.audio.encoder import LearnedEmbedder

        return LearnedEmbedder(device=device)
    if name == "musicnn":
        from moodtape.core.audio.musicnn_embedder import MusicnnEmbedder

        return MusicnnEmbedder(device=device)
    raise UnknownEmbedder(f"unknown audio embedder {kind!r}; use default, {' or '.join(EMBEDDERS)}")
