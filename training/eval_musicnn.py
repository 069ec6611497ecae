"""`moodtape eval musicnn`: which musicnn layer (or mix) would make the best content embedding?

Measures, in one run on the same clips: genre precision@k of cosine neighbours and a grouped-CV ridge probe
(Spearman with listener valence / arousal, folds by artist; candidates up to PROBE_MAX_DIMS wide) for the handcrafted descriptor, each musicnn layer
of both models (taggram 50, penultimate 200, pooled 1506), their combinations, and each of those concatenated
with the handcrafted descriptor.  Blocks are z-scored per dimension and scaled to unit mean norm before they
are concatenated, so no block wins by its size.  This only reports numbers; it changes no default.

musicnn layers are cached per file (path, size, mtime) and `--max-patches`, so reruns are cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from moodtape.core.audio.decode import decode
from moodtape.core.audio.musicnn import LAYERS, MODELS, SAMPLE_RATE, Musicnn, log_mel, patches
from moodtape.core.errors import UserError
from moodtape.training.npz_cache import file_key, load_arrays, save_arrays

SHORT = {"MTT_musicnn": "mtt", "MSD_musicnn": "msd"}
#: The ridge probe's nested CV solves a (dims x dims) system ~200 times per candidate: wider ones are skipped.
PROBE_MAX_DIMS = 700


def musicnn_layers(paths: Sequence[Path], *, max_patches: int | None, window_s: float | None,
                   cache_dir: Path | None, log: TextIO | None = None) -> tuple[dict[str, np.ndarray], list[int]]:
    """{"mtt.penultimate": (n, 200), ...} for the files that decoded, and their indices into `paths`."""
    tag = f"musicnn-v1-p{max_patches or 'all'}-w{window_s or 'all'}"
    cache_file = cache_dir / f"{tag}.npz" if cache_dir is not None else None
    cached = load_arrays(cache_file) if cache_file is not None else None
    known: dict[str, np.ndarray] = dict(zip(cached["keys"].tolist(), cached["vectors"])) if cached else {}
    models = [Musicnn.load(name) for name in MODELS]
    keys = [file_key(p) for p in paths]
    for i, (path, key) in enumerate(zip(paths, keys)):
        if key in known:
            continue
        try:
            samples = decode(path, sample_rate=SAMPLE_RATE, window_s=window_s).samples
        except UserError as exc:
            if log:
                print(f"skipped {path}: {exc}", file=log)
            continue
        batch = patches(log_mel(samples), max_patches)
        parts = []
        for model in models:
            out = model.run_patches(batch)
            parts += [out[layer].mean(dim=0).numpy() for layer in LAYERS]
        known[key] = np.concatenate(parts).astype(np.float32)
        if (i + 1) % 25 == 0:
            _save(cache_file, known)  # an interrupted run keeps what it measured
            if log:
                print(f"musicnn: {i + 1}/{len(paths)}", file=log, flush=True)
    _save(cache_file, known)
    index = [i for i, key in enumerate(keys) if key in known]
    rows = np.stack([known[keys[i]] for i in index]) if index else np.zeros((0, 2 * sum(LAYERS.values())))
    out: dict[str, np.ndarray] = {}
    start = 0
    for name in MODELS:
        for layer, size in LAYERS.items():
            out[f"{SHORT[name]}.{layer}"] = rows[:, start:start + size]
            start += size
    return out, index


def _save(cache_file: Path | None, known: dict[str, np.ndarray]) -> None:
    if cache_file is not None and known:
        names = sorted(known)
        save_arrays(cache_file, keys=np.asarray(names), vectors=np.stack([known[k] for k in names]))


def blend(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Blocks z-scored per dimension, each scaled to unit mean row norm, side by side."""
    parts = []
    for block in blocks:
        x = np.asarray(block, dtype=np.float64)
        std = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
        parts.append(x / max(float(np.linalg.norm(x, axis=1).mean()), 1e-12))
    return np.concatenate(parts, axis=1)


def candidates(layers: dict[str, np.ndarray], hand: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer alone, the mixes worth trying, and each of those with the handcrafted descriptor."""
    mixes: dict[str, list[str]] = {name: [name] for name in layers}
    mixes["mtt.penultimate+msd.penultimate"] = ["mtt.penultimate", "msd.penultimate"]
    mixes["mtt.taggram+msd.taggram"] = ["mtt.taggram", "msd.taggram"]
    mixes["mtt.pooled+msd.pooled"] = ["mtt.pooled", "msd.pooled"]
    mixes["all penultimate+taggram"] = ["mtt.penultimate", "msd.penultimate", "mtt.taggram", "msd.taggram"]
    out = {"handcrafted": hand}
    for name, parts in mixes.items():
        out[name] = blend([layers[p] for p in parts]) if len(parts) > 1 else layers[parts[0]]
        out[f"{name}+handcrafted"] = blend([*(layers[p] for p in parts), hand])
    return out


def evaluate_musicnn(emotify: Path, *, max_patches: int | None = None, window_s: float | None = None,
                     cache_dir: Path | None = None, workers: int | None = None, ks: tuple[int, ...] = (5, 10),
                     probe: bool = True, threads: int = 1, log: TextIO | None = None) -> dict[str, Any]:
    from moodtape.core.mood.space import GEMS
    from moodtape.training.audio_data import emotify_rows
    from moodtape.training.eval_audio import cached_vectors, handcrafted_vectors, probe_scores
    from moodtape.core.audio.descriptor import raw_from_samples
    from moodtape.training.retrieval_metrics import chance_precision, precision_at_k
    from moodtape.core.mood.space import gems_to_va

    rows = emotify_rows(emotify)
    if len(rows) < 10:
        raise UserError(f"{emotify}: fewer than 10 Emotify clips on disk")
    paths = [emotify / row["file"] for row in rows]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layers, m_index = musicnn_layers(paths, max_patches=max_patches, window_s=window_s, cache_dir=cache_dir,
                                         log=log)
    finally:
        torch.set_num_threads(previous)
    raw, h_index = cached_vectors(paths, raw_from_samples, tag="hand-raw", cache_dir=cache_dir, workers=workers,
                                  desc="handcrafted")
    hand_by = dict(zip(h_index, handcrafted_vectors(raw) if len(raw) else []))
    common = [i for i in m_index if i in hand_by]
    at = {i: j for j, i in enumerate(m_index)}
    layers = {name: x[[at[i] for i in common]] for name, x in layers.items()}
    hand = np.stack([hand_by[i] for i in common])
    kept = [rows[i] for i in common]
    genres = [row["genre"] for row in kept]
    vectors = candidates(layers, hand)
    result: dict[str, Any] = {"n": len(kept), "genres": len(set(genres)), "chance": round(chance_precision(genres), 4),
                              "max_patches": max_patches, "window_s": window_s, "genre_precision": {}}
    for name, x in vectors.items():
        result["genre_precision"][name] = {k: round(v, 4) for k, v in precision_at_k(x, genres, ks).items()}
    if probe:
        targets = gems_to_va(np.asarray([[float(row[g]) for g in GEMS] for row in kept]))
        groups = [row.get("artist") or row.get("album") or row["file"] for row in kept]
        result["probe_spearman"] = {}
        for name, x in vectors.items():
            if x.shape[1] > PROBE_MAX_DIMS:
                continue
            rho = probe_scores(np.asarray(x, dtype=np.float64), targets, groups)
            result["probe_spearman"][name] = {"valence": round(float(rho[0]), 4), "arousal": round(float(rho[1]), 4)}
    return result
