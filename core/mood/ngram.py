"""Moodtape's compact "char n-gram" emotion model: a linear model over hashed character n-grams, in NumPy.

It suits Korean far better than an English-only WordPiece vocabulary that shreds Hangul into jamo, and it
needs no torch at all.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.mood.checkpoint import COMPACT_FILE, WEIGHTS_FILE, file_digest, softmax

__all__ = ["NgramModel", "ngram_features"]

_WORD = re.compile(r"\w+", re.UNICODE)


def ngram_features(text: str, buckets: int, n_min: int = 1, n_max: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Hashed features of one text: character n-grams inside each word (with word-boundary marks), words
    and word pairs.  Returns (bucket ids, L2-normalised sublinear tf weights).

    Korean attaches particles and endings to stems ("슬퍼요", "슬펐어"), so n-grams inside words carry
    the meaning that whole-word features miss; crc32 keeps the hash stable across Python runs.
    """
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    counts: dict[int, int] = {}

    def add(key: str) -> None:
        bucket = zlib.crc32(key.encode("utf-8")) % buckets
        counts[bucket] = counts.get(bucket, 0) + 1

    for index, word in enumerate(words):
        add("w " + word)
        if index:
            add("b " + words[index - 1] + " " + word)
        marked = f"<{word}>"
        for n in range(n_min, n_max + 1):
            for start in range(0, max(len(marked) - n + 1, 0)):
                gram = marked[start:start + n]
                if gram not in ("<", ">"):
                    add("c " + gram)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    weights = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    weights /= float(np.linalg.norm(weights))
    return ids, weights.astype(np.float32)


class NgramModel:
    """Moodtape's compact char n-gram format: softmax(W . features + b), all in NumPy (no torch needed)."""

    def __init__(self, path: Path, spec: dict[str, Any]) -> None:
        from safetensors.numpy import load_file

        state = load_file(str(path / WEIGHTS_FILE))
        self.weight = state["weight"].astype(np.float32)  # (buckets, labels)
        self.bias = state["bias"].astype(np.float32)
        self.labels = list(spec["labels"])
        self.multi_label = False
        self.buckets = int(spec["buckets"])
        self.n_min, self.n_max = (int(n) for n in spec.get("char_ngrams", [1, 3]))
        if self.weight.shape != (self.buckets, len(self.labels)):
            raise UserError(f"{path}: weights do not fit the model described in {COMPACT_FILE}")
        self.version = f"{spec.get('name', path.name)}@{file_digest(path / WEIGHTS_FILE)}"

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.tile(self.bias, (len(texts), 1))
        for row, text in enumerate(texts):
            ids, weights = ngram_features(text, self.buckets, self.n_min, self.n_max)
            if len(ids):
                out[row] += weights @ self.weight[ids]
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(texts))
