"""Measure the standardisation statistics of the handcrafted descriptor on a reference corpus.

The shipped statistics (core/data/descriptor_stats.json) come from the freely licensed Debian game music
(`../shared/scripts/fetch-debian-music.sh`), so they can be redistributed.  Changing them changes the
handcrafted embedder's version, which makes the scheduler re-embed the catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.audio.descriptor import DIM, GROUPS, raw_from_samples
from moodtape.core.audio.tags import AUDIO_EXTENSIONS
from moodtape.core.errors import UserError
from moodtape.training.audio_data import map_audio


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def build(folder: Path, out: Path, *, cache_dir: Path | None = None, workers: int | None = None) -> dict[str, Any]:
    files = audio_files(folder)
    if len(files) < 20:
        raise UserError(f"need at least 20 audio files under {folder} for stable statistics, found {len(files)}")
    vectors, index = map_audio(files, raw_from_samples, tag="hand-raw", workers=workers, cache_dir=cache_dir,
                               desc="descriptor stats")
    if vectors.shape[1] != DIM:
        raise RuntimeError("descriptor dimension changed; rebuild the cache")
    data = {
        "corpus": f"{folder.name}: {len(index)} files",
        "groups": [{"name": name, "dims": size, "weight": weight} for name, size, weight in GROUPS],
        "mean": np.round(vectors.mean(axis=0), 6).tolist(),
        "std": np.round(vectors.std(axis=0), 6).tolist(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return {"files": len(index), "out": str(out)}
