"""`moodtape eval audio`: do an encoder's nearest neighbours share a label (album, genre, game)?

Every encoder (the handcrafted baseline, the default musicnn embedding and the learned CNN, shipped or given
with `--encoder`) is measured
in the same run on the same files, so the numbers compare directly; chance (the precision of random
neighbours) is reported beside them.  With `--probe-emotify`, a ridge probe from each encoder's embedding to
listener valence / arousal is cross-validated with folds grouped by artist, so no artist is on both sides.

Vectors are cached per file (path, size, mtime) and per encoder version, so measuring a subset of a folder
(a held-out split) reuses the vectors of a run on the whole folder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from moodtape.core.audio.descriptor import Standardizer, finish, raw_from_samples, shipped_standardizer
from moodtape.core.audio.encoder import default_weights_path, embed_with_weights, load_encoder
from moodtape.core.audio.musicnn import MusicnnError
from moodtape.core.audio.musicnn_embedder import MusicnnEmbedder
from moodtape.core.errors import UserError
from moodtape.training.audio_data import emotify_rows, map_audio, read_labels
from moodtape.training.npz_cache import file_key, load_arrays, save_arrays
from moodtape.training.retrieval_metrics import chance_precision, precision_at_k

ANALYSIS_S = 120.0  # what the engine analyses by default (MOODTAPE_ANALYSIS_S)
PROBE_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def handcrafted_vectors(raw: np.ndarray, standardizer: Standardizer | None = None) -> np.ndarray:
    chosen = standardizer or shipped_standardizer()
    return np.stack([finish(row, chosen) for row in raw])


def cached_vectors(paths: Sequence[Path], fn: Callable[[np.ndarray], np.ndarray], *, tag: str,
                   cache_dir: Path | None, workers: int | None, desc: str) -> tuple[np.ndarray, list[int]]:
    """`map_audio`, but cached per file: (vectors of the files that decoded, their indices into `paths`)."""
    if cache_dir is None:
        return map_audio(paths, fn, tag=tag, window_s=ANALYSIS_S, workers=workers, desc=desc)
    cache_file = cache_dir / f"{tag}-files.npz"
    cached = load_arrays(cache_file)
    known: dict[str, np.ndarray] = dict(zip(cached["keys"].tolist(), cached["vectors"])) if cached else {}
    keys = [file_key(p) for p in paths]
    missing = [i for i, key in enumerate(keys) if key not in known]
    if missing:
        vectors, index = map_audio([paths[i] for i in missing], fn, tag=tag, window_s=ANALYSIS_S, workers=workers,
                                   desc=desc)
        for row, j in zip(vectors, index):
            known[keys[missing[j]]] = row
        names = sorted(known)
        save_arrays(cache_file, keys=np.asarray(names), vectors=np.stack([known[k] for k in names]))
    index = [i for i, key in enumerate(keys) if key in known]
    if not index:
        return np.zeros((0, 0), dtype=np.float32), []
    return np.stack([known[keys[i]] for i in index]), index


def musicnn_vector(samples: np.ndarray) -> np.ndarray:
    """Picklable: the shipped musicnn embedding of decoded samples (what ingestion stores by default)."""
    from moodtape.core.audio.musicnn_embedder import MusicnnEmbedder

    return MusicnnEmbedder().embed(samples)


def _encoder_vectors(paths: Sequence[Path], *, encoder_path: Path | None, cache_dir: Path | None,
                     workers: int | None) -> tuple[dict[str, np.ndarray], list[int], dict[str, str]]:
    """Vectors of every encoder for the files that all encoders could embed, and the encoders' versions:
    the handcrafted descriptor, the default musicnn embedding (when its spec ships) and the learned CNN."""
    weights = encoder_path or default_weights_path()
    version = None
    if encoder_path is not None or weights.is_file():
        _, version = load_encoder(weights)  # a clear error for a missing or foreign file, before any work
    raw, hand_index = cached_vectors(paths, raw_from_samples, tag="hand-raw", cache_dir=cache_dir, workers=workers,
                                     desc="handcrafted")
    per_encoder = {"handcrafted": dict(zip(hand_index, handcrafted_vectors(raw) if len(raw) else []))}
    versions = {"handcrafted": f"hand-v1-{shipped_standardizer().digest()}"}
    try:
        musicnn_version = MusicnnEmbedder().version
    except MusicnnError:  # no spec in this installation: the other encoders are still compared
        musicnn_version = None
    if musicnn_version is not None:
        found, index = cached_vectors(paths, musicnn_vector, tag=musicnn_version, cache_dir=cache_dir,
                                      workers=workers, desc="musicnn")
        per_encoder["musicnn"] = dict(zip(index, found))
        versions["musicnn"] = musicnn_version
    if version is not None:
        fn = functools.partial(embed_with_weights, str(weights.resolve()))
        learned, index = cached_vectors(paths, fn, tag=version, cache_dir=cache_dir, workers=workers,
                                        desc="learned")
        per_encoder["learned"] = dict(zip(index, learned))
        versions["learned"] = version
    common = sorted(set.intersection(*(set(v) for v in per_encoder.values())))
    return ({name: np.stack([vectors[i] for i in common]) if common else np.zeros((0, 128))
             for name, vectors in per_encoder.items()}, common, versions)


def evaluate(data_dir: Path, labels_csv: Path, *, file_column: str = "file", label_column: str = "label",
             ks: tuple[int, ...] = (5, 10), cache_dir: Path | None = None, workers: int | None = None,
             encoder_path: Path | None = None, probe_emotify: Path | None = None,
             probe_csv: Path | None = None) -> dict[str, Any]:
    """Precision@k of every encoder on DATA/LABELS (and, optionally, the valence/arousal probe)."""
    files = read_labels(data_dir, labels_csv, file_column=file_column, label_column=label_column)
    if len(files) < 3:
        raise UserError("need at least 3 labelled audio files")
    vectors, index, versions = _encoder_vectors([f.path for f in files], encoder_path=encoder_path,
                                                cache_dir=cache_dir, workers=workers)
    if len(index) < 3:
        raise UserError("fewer than 3 of the labelled files could be decoded")
    labels = [files[i].label for i in index]
    result: dict[str, Any] = {
        "encoders": {name: precision_at_k(v, labels, ks) for name, v in vectors.items()},
        "n": len(labels),
        "labels": len(set(labels)),
        "chance": round(chance_precision(labels), 4),
        "skipped": len(files) - len(index),
        "versions": versions,
    }
    if probe_emotify is not None:
        result["probe"] = probe_valence_arousal(probe_emotify, probe_csv, encoder_path=encoder_path,
                                                cache_dir=cache_dir, workers=workers)
    return result


# ---- linear probe for listener valence / arousal ---------------------------------------------------------------

def _grouped_folds(groups: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """k folds of row indices with every group's rows in one fold (groups dealt out in a seeded order)."""
    names = sorted(set(groups))
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    fold_of = {name: j % k for j, name in enumerate(order)}
    return [np.asarray([i for i, g in enumerate(groups) if fold_of[g] == j]) for j in range(k)]


def _ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, alpha: float) -> np.ndarray:
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    xt, xf = (x_train - mean) / std, (x_test - mean) / std
    y_mean = y_train.mean(axis=0)
    weights = np.linalg.solve(xt.T @ xt + alpha * np.eye(xt.shape[1]), xt.T @ (y_train - y_mean))
    return xf @ weights + y_mean


def probe_scores(x: np.ndarray, y: np.ndarray, groups: Sequence[str], *, folds: int = 5,
                 seed: int = 0) -> np.ndarray:
    """Spearman rho per target column of out-of-fold ridge predictions; alpha by grouped inner CV."""
    predictions = np.zeros_like(y)
    for test in _grouped_folds(groups, folds, seed):
        if len(test) == 0:
            continue
        train = np.setdiff1d(np.arange(len(x)), test)
        inner = _grouped_folds([groups[i] for i in train], folds, seed + 1)
        errors = np.zeros((len(PROBE_ALPHAS), y.shape[1]))
        for fold in inner:
            if len(fold) == 0:
                continue
            rest = np.setdiff1d(np.arange(len(train)), fold)
            for a, alpha in enumerate(PROBE_ALPHAS):
                guess = _ridge_fit_predict(x[train][rest], y[train][rest], x[train][fold], alpha)
                errors[a] += ((guess - y[train][fold]) ** 2).mean(axis=0)
        for j in range(y.shape[1]):
            alpha = PROBE_ALPHAS[int(errors[:, j].argmin())]
            predictions[test, j] = _ridge_fit_predict(x[train], y[train][:, j:j + 1], x[test], alpha)[:, 0]
    return np.asarray([spearmanr(predictions[:, j], y[:, j])[0] for j in range(y.shape[1])])


def probe_valence_arousal(data_dir: Path, table: Path | None = None, *, encoder_path: Path | None = None,
                          cache_dir: Path | None = None, workers: int | None = None, folds: int = 5,
                          seed: int = 0) -> dict[str, Any]:
    """Cross-validated Spearman of a ridge probe from each embedding to Emotify's valence and arousal."""
    from moodtape.core.mood.space import GEMS
    from moodtape.core.mood.space import gems_to_va

    table = table or data_dir / "tracks.csv"
    rows = emotify_rows(data_dir, table)
    missing = [c for c in ("file", *GEMS) if rows and c not in rows[0]]
    if not rows or missing:
        raise UserError(f"{table}: needs Emotify's columns (file, the 9 GEMS) and clips under {data_dir}")
    vectors, index, _ = _encoder_vectors([data_dir / row["file"] for row in rows], encoder_path=encoder_path,
                                         cache_dir=cache_dir, workers=workers)
    kept = [rows[i] for i in index]
    if len(kept) < 2 * folds:
        raise UserError(f"the probe needs at least {2 * folds} clips, got {len(kept)}")
    targets = gems_to_va(np.asarray([[float(row[name]) for name in GEMS] for row in kept]))
    groups = [row.get("artist") or row.get("album") or row["file"] for row in kept]
    encoders = {}
    for name, x in vectors.items():
        rho = probe_scores(np.asarray(x, dtype=np.float64), targets, groups, folds=folds, seed=seed)
        encoders[name] = {"valence": round(float(rho[0]), 4), "arousal": round(float(rho[1]), 4)}
    return {"n": len(kept), "folds": folds, "grouped_by": "artist", "spearman": encoders}
