"""`moodtape eval audio`: do an encoder's nearest neighbours share a label (album, genre, game)?

Every available encoder is measured in the same run on the same files, so the numbers compare directly;
chance (the precision of random neighbours) is reported beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.audio.descriptor import Standardizer, finish, raw_from_samples, shipped_standardizer
from training.audio_data import map_audio, read_labels
from training.retrieval_metrics import chance_precision, precision_at_k


def handcrafted_vectors(raw: np.ndarray, standardizer: Standardizer | None = None) -> np.ndarray:
    chosen = standardizer or shipped_standardizer()
    return np.stack([finish(row, chosen) for row in raw])


def evaluate(data_dir: Path, labels_csv: Path, *, file_column: str = "file", label_column: str = "label",
             ks: tuple[int, ...] = (5, 10), cache_dir: Path | None = None, workers: int | None = None
             ) -> dict[str, Any]:
    files = read_labels(data_dir, labels_csv, file_column=file_column, label_column=label_column)
    if len(files) < 3:
        raise ValueError("need at least 3 labelled audio files")
    raw, index = map_audio([f.path for f in files], raw_from_samples, tag="hand-raw", cache_dir=cache_dir,
                           workers=workers, desc="handcrafted")
    labels = [files[i].label for i in index]
    encoders = {"handcrafted": precision_at_k(handcrafted_vectors(raw), labels, ks)}
    return {
        "encoders": encoders,
        "n": len(labels),
        "labels": len(set(labels)),
        "chance": round(chance_precision(labels), 4),
        "skipped": len(files) - len(index),
    }
