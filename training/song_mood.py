"""Train and cross-validate the audio mood model on Emotify (listener GEMS annotations).

Targets: the nine GEMS shares per clip (share of listeners who felt each emotion strongly) and a
valence/arousal point per clip, the GEMS-weighted mean of the GEMS emotions' anchors in the mood space
(core/moods.py cites where the anchors come from).  Model: ridge regression on the standardised handcrafted
descriptor, the ridge strength chosen per output by an inner cross-validation, so the reported outer-fold
Spearman correlations never saw their test clips during selection.

With `--text-reference`, the model also gets the linear calibration that puts its valence/arousal on the
scale of chat messages (see `core.song_mood`): out-of-fold prediction mean/spread -> the mean/spread of the
reference data's gold labels placed in the mood space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from moodtape.core.audio.descriptor import raw_from_samples
from moodtape.core.mood.space import GEMS, LABEL_ANCHORS
from moodtape.core.errors import UserError
from moodtape.training.audio_data import emotify_rows, map_audio

ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
OUTPUTS = ["valence", "arousal", *GEMS]


@dataclass
class EmotifyData:
    raw: np.ndarray  # (n, 128)
    targets: np.ndarray  # (n, 11) in OUTPUTS order
    genres: list[str]
    track_ids: list[str]


def gems_to_va(gems: np.ndarray) -> np.ndarray:
    """(n, 9) GEMS shares -> (n, 2) valence/arousal, the share-weighted mean of the GEMS anchors."""
    anchors = np.asarray([LABEL_ANCHORS[name].point for name in GEMS])
    weights = gems / np.clip(gems.sum(axis=1, keepdims=True), 1e-9, None)
    return weights @ anchors


def load_emotify(data_dir: Path, cache_dir: Path | None = None, workers: int | None = None) -> EmotifyData:
    rows = emotify_rows(data_dir)
    if not rows:
        raise UserError(f"no Emotify clips found under {data_dir} (expected tracks.csv and clips/)")
    vectors, index = map_audio(
        [data_dir / row["file"] for row in rows], raw_from_samples, tag="hand-raw", window_s=120.0,
        workers=workers, cache_dir=cache_dir, desc="emotify",
    )
    kept = [rows[i] for i in index]
    gems = np.asarray([[float(row[name]) for name in GEMS] for row in kept])
    targets = np.concatenate([gems_to_va(gems), gems], axis=1)
    return EmotifyData(vectors.astype(np.float64), targets, [r["genre"] for r in kept], [r["track_id"] for r in kept])


def _standardise(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    return mean, std, [np.clip((x - mean) / std, -5.0, 5.0) for x in (train, *others)]


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    y_mean = y.mean(axis=0)
    gram = x.T @ x + alpha * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x.T @ (y - y_mean))
    return weights.T, y_mean


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def _choose_alphas(x: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Per-output ridge strength with the best inner-CV mean squared error."""
    errors = np.zeros((len(ALPHAS), y.shape[1]))
    for fold in _folds(len(x), k, seed):
        train = np.setdiff1d(np.arange(len(x)), fold)
        _, _, (xt, xf) = _standardise(x[train], x[fold])
        for a, alpha in enumerate(ALPHAS):
            weights, bias = _ridge(xt, y[train], alpha)
            errors[a] += ((xf @ weights.T + bias - y[fold]) ** 2).mean(axis=0)
    return np.asarray([ALPHAS[i] for i in errors.argmin(axis=0)])


def _fit(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mean, std, (xs,) = _standardise(x)
    weights = np.zeros((y.shape[1], x.shape[1]))
    bias = np.zeros(y.shape[1])
    for j, alpha in enumerate(alphas):
        w, b = _ridge(xs, y[:, j:j + 1], float(alpha))
        weights[j], bias[j] = w[0], b[0]
    return mean, std, weights, bias


def out_of_fold_predictions(data: EmotifyData, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Outer k-fold predictions (inner alpha selection): what the model says of clips it never saw."""
    x, y = data.raw, data.targets
    predictions = np.zeros_like(y)
    for fold in _folds(len(x), folds, seed):
        train = np.setdiff1d(np.arange(len(x)), fold)
        alphas = _choose_alphas(x[train], y[train], folds, seed + 1)
        mean, std, weights, bias = _fit(x[train], y[train], alphas)
        predictions[fold] = np.clip((x[fold] - mean) / std, -5, 5) @ weights.T + bias
    return predictions


def cross_validate(data: EmotifyData, folds: int = 5, seed: int = 0,
                   predictions: np.ndarray | None = None) -> dict[str, Any]:
    """Spearman rho per output between the out-of-fold predictions and the listeners' annotations."""
    if predictions is None:
        predictions = out_of_fold_predictions(data, folds, seed)
    y = data.targets
    rho = {name: float(spearmanr(predictions[:, j], y[:, j])[0]) for j, name in enumerate(OUTPUTS)}
    return {"spearman": rho, "n": int(len(y)), "folds": folds, "seed": seed}


def text_mood_stats(path: Path, fmt: str = "goemotions-ekman") -> dict[str, tuple[float, float]]:
    """Mean and spread of valence/arousal of labelled messages, each message at its gold label's anchor."""
    from moodtape.core.mood.space import canonical_label
    from moodtape.training.emotion_data import load_emotion_data

    data = load_emotion_data(path, fmt)
    points = []
    for index in data.labels:
        name = data.label_names[index]
        anchor = LABEL_ANCHORS.get(name) or LABEL_ANCHORS.get(canonical_label(name) or "")
        if anchor is None:
            raise UserError(f"label {name!r} of {path} has no place in the mood space")
        points.append(anchor.point)
    if len(points) < 2:
        raise UserError(f"{path}: need at least two labelled messages for a text reference")
    array = np.asarray(points, dtype=np.float64)
    return {axis: (float(array[:, j].mean()), float(array[:, j].std())) for j, axis in enumerate(("valence", "arousal"))}


def calibration(predictions: np.ndarray, text: dict[str, tuple[float, float]], source: str
                ) -> dict[str, Any]:
    """Per axis: out-of-fold prediction mean/spread -> the text reference's mean/spread."""
    out: dict[str, Any] = {}
    for j, axis in enumerate(("valence", "arousal")):
        from_sd = float(predictions[:, j].std())
        if from_sd <= 1e-9:
            raise ValueError(f"the {axis} predictions do not vary; cannot calibrate")
        out[axis] = {"from_mean": round(float(predictions[:, j].mean()), 6), "from_sd": round(from_sd, 6),
                     "to_mean": round(text[axis][0], 6), "to_sd": round(text[axis][1], 6)}
    out["reference"] = source
    return out


def train(data: EmotifyData, folds: int = 5, seed: int = 0, calibrate: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    """Fit on all clips (alphas by CV) and return the JSON the engine loads."""
    alphas = _choose_alphas(data.raw, data.targets, folds, seed)
    mean, std, weights, bias = _fit(data.raw, data.targets, alphas)
    model: dict[str, Any] = {
        "version": f"songmood-ridge-v{2 if calibrate else 1}-n{len(data.raw)}",
        "outputs": OUTPUTS,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "weights": weights.round(8).tolist(),
        "bias": bias.round(8).tolist(),
        "alphas": alphas.tolist(),
        "trained_on": "Emotify (Aljanaki, Wiering & Veltkamp 2016), all clips; input: handcrafted descriptor",
    }
    if calibrate:
        model["calibration"] = {axis: stats for axis, stats in calibrate.items() if axis != "reference"}
        model["calibration_reference"] = calibrate["reference"]
    return model


def run(data_dir: Path, out: Path | None, *, folds: int = 5, seed: int = 0, cache_dir: Path | None = None,
        workers: int | None = None, text_reference: Path | None = None,
        text_format: str = "goemotions-ekman") -> dict[str, Any]:
    text = text_mood_stats(text_reference, text_format) if text_reference is not None else None  # fail early
    data = load_emotify(data_dir, cache_dir=cache_dir, workers=workers)
    predictions = out_of_fold_predictions(data, folds, seed)
    report = cross_validate(data, folds=folds, seed=seed, predictions=predictions)
    calibrate = None
    if text is not None:
        try:
            calibrate = calibration(predictions, text, f"{text_format}:{text_reference.name}")
        except ValueError as exc:  # the clips' predictions are flat: nothing to map onto the text's spread
            raise UserError(str(exc)) from exc
        report["calibration"] = calibrate
    if out is not None:
        model = train(data, folds=folds, seed=seed, calibrate=calibrate)
        model["cross_validation"] = report
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        report["model"] = str(out)
        report["version"] = model["version"]
    return report
