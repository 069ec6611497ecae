"""Train and cross-validate the audio mood model on Emotify (listener GEMS annotations).

Targets: the nine GEMS shares per clip (share of listeners who felt each emotion strongly) and a
valence/arousal point per clip, the GEMS-weighted mean of the GEMS emotions' anchors in the mood space
(core/moods.py cites where the anchors come from).  Model: ridge regression on standardised feature blocks
(`--inputs`: the handcrafted descriptor's raw statistics and/or musicnn's layers, computed as ingestion computes
them), the ridge strength chosen per output by an inner cross-validation, so the reported outer-fold
Spearman correlations never saw their test clips during selection.  Folds are grouped by artist: Emotify has
several clips per artist, and a model that heard an artist's other clips would be measured on remembering
that artist.

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
from moodtape.core.audio.descriptor import raw_from_samples
from moodtape.core.errors import UserError
from moodtape.core.mood.space import GEMS, LABEL_ANCHORS, gems_to_va
from moodtape.training.audio_data import emotify_rows, map_audio
from scipy.stats import spearmanr

ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
OUTPUTS = ["valence", "arousal", *GEMS]


#: What the first model read; `--inputs` names blocks of `core.audio.musicnn_embedder.BLOCK_DIMS`.
DEFAULT_INPUTS = ("handcrafted.raw",)


@dataclass
class EmotifyData:
    raw: np.ndarray  # (n, d): the input blocks side by side
    targets: np.ndarray  # (n, 11) in OUTPUTS order
    genres: list[str]
    track_ids: list[str]
    groups: list[str] | None = None  # the artist of each clip: the unit of the folds
    inputs: tuple[str, ...] = DEFAULT_INPUTS


def input_blocks(paths: list[Path], inputs: tuple[str, ...], cache_dir: Path | None, workers: int | None
                 ) -> tuple[dict[str, np.ndarray], list[int]]:
    """The named blocks of every clip that decoded (as ingestion computes them), and their indices."""
    from moodtape.core.audio.musicnn_embedder import BLOCK_DIMS, MUSICNN_BLOCKS, MusicnnFeatures

    unknown = [name for name in inputs if name not in BLOCK_DIMS or name == "handcrafted"]
    if not inputs or unknown:
        choices = ", ".join(n for n in BLOCK_DIMS if n != "handcrafted")
        raise UserError(f"unknown song mood input {', '.join(unknown) or '(none given)'} (choose from {choices})")
    parts: list[tuple[dict[str, np.ndarray], list[int]]] = []
    if "handcrafted.raw" in inputs:
        raw, index = map_audio(paths, raw_from_samples, tag="hand-raw", window_s=120.0, workers=workers,
                               cache_dir=cache_dir, desc="emotify")
        parts.append(({"handcrafted.raw": raw}, index))
    if set(inputs) & set(MUSICNN_BLOCKS):
        from moodtape.core.audio.musicnn_embedder import analysis_patches
        from moodtape.training.musicnn_embedding import musicnn_rows

        flat, index = musicnn_rows(paths, analysis_patches(), cache_dir, workers)  # as ingestion analyses
        features = [MusicnnFeatures.from_flat(row) for row in flat]
        parts.append(({n: np.stack([f.blocks[n] for f in features]) for n in MUSICNN_BLOCKS}, index))
    common = sorted(set.intersection(*(set(index) for _, index in parts)))
    blocks: dict[str, np.ndarray] = {}
    for found, index in parts:
        at = {i: j for j, i in enumerate(index)}
        blocks.update({name: x[[at[i] for i in common]] for name, x in found.items()})
    return blocks, common


def load_emotify(data_dir: Path, cache_dir: Path | None = None, workers: int | None = None,
                 inputs: tuple[str, ...] = DEFAULT_INPUTS) -> EmotifyData:
    rows = emotify_rows(data_dir)
    if not rows:
        raise UserError(f"no Emotify clips found under {data_dir} (expected tracks.csv and clips/)")
    blocks, index = input_blocks([data_dir / row["file"] for row in rows], inputs, cache_dir, workers)
    kept = [rows[i] for i in index]
    gems = np.asarray([[float(row[name]) for name in GEMS] for row in kept])
    targets = np.concatenate([gems_to_va(gems), gems], axis=1)
    x = np.concatenate([blocks[name] for name in inputs], axis=1).astype(np.float64)
    return EmotifyData(x, targets, [r["genre"] for r in kept], [r["track_id"] for r in kept],
                       [r.get("artist") or r["track_id"] for r in kept], tuple(inputs))


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


def _folds(n: int, k: int, seed: int, groups: list[str] | None = None) -> list[np.ndarray]:
    """k folds of row indices; with `groups`, every group's rows in one fold (none left empty)."""
    if groups is not None:
        from moodtape.training.eval_audio import _grouped_folds

        return [fold for fold in _grouped_folds(groups, k, seed) if len(fold)]
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def _choose_alphas(x: np.ndarray, y: np.ndarray, k: int, seed: int, groups: list[str] | None = None) -> np.ndarray:
    """Per-output ridge strength with the best inner-CV mean squared error."""
    errors = np.zeros((len(ALPHAS), y.shape[1]))
    for fold in _folds(len(x), k, seed, groups):
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
    x, y, groups = data.raw, data.targets, data.groups
    predictions = np.zeros_like(y)
    for fold in _folds(len(x), folds, seed, groups):
        train = np.setdiff1d(np.arange(len(x)), fold)
        alphas = _choose_alphas(x[train], y[train], folds, seed + 1,
                                None if groups is None else [groups[i] for i in train])
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
    return {"spearman": rho, "n": len(y), "folds": folds, "seed": seed,
            "grouped_by": "artist" if data.groups is not None else None, "inputs": list(data.inputs)}


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
    alphas = _choose_alphas(data.raw, data.targets, folds, seed, data.groups)
    mean, std, weights, bias = _fit(data.raw, data.targets, alphas)
    handcrafted_only = data.inputs == DEFAULT_INPUTS
    model: dict[str, Any] = {
        "version": (f"songmood-ridge-v{2 if calibrate else 1}-n{len(data.raw)}" if handcrafted_only else
                    f"songmood-ridge-v3-{'+'.join(data.inputs)}-n{len(data.raw)}"),
        "outputs": OUTPUTS,
        "inputs": list(data.inputs),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "weights": weights.round(8).tolist(),
        "bias": bias.round(8).tolist(),
        "alphas": alphas.tolist(),
        "trained_on": "Emotify (Aljanaki, Wiering & Veltkamp 2016), all clips; input: " + " + ".join(data.inputs),
    }
    if calibrate:
        model["calibration"] = {axis: stats for axis, stats in calibrate.items() if axis != "reference"}
        model["calibration_reference"] = calibrate["reference"]
    return model


def run(data_dir: Path, out: Path | None, *, folds: int = 5, seed: int = 0, cache_dir: Path | None = None,
        workers: int | None = None, text_reference: Path | None = None,
        text_format: str = "goemotions-ekman", inputs: tuple[str, ...] = DEFAULT_INPUTS,
        repeats: int = 1) -> dict[str, Any]:
    text = text_mood_stats(text_reference, text_format) if text_reference is not None else None  # fail early
    data = load_emotify(data_dir, cache_dir=cache_dir, workers=workers, inputs=inputs)
    predictions = out_of_fold_predictions(data, folds, seed)
    report = cross_validate(data, folds=folds, seed=seed, predictions=predictions)
    if repeats > 1:  # which artists share a fold moves rho by a few hundredths: report the spread of reshuffles
        runs = [report["spearman"]] + [cross_validate(data, folds=folds, seed=seed + r)["spearman"]
                                       for r in range(1, repeats)]
        report["spearman_over_fold_seeds"] = {
            name: {"mean": round(float(np.mean([run[name] for run in runs])), 4),
                   "min": round(float(np.min([run[name] for run in runs])), 4),
                   "max": round(float(np.max([run[name] for run in runs])), 4)} for name in OUTPUTS}
        report["fold_seeds"] = list(range(seed, seed + repeats))
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
