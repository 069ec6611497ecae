"""`moodtape eval emotion`: accuracy, macro-F1 and per-label F1 of an emotion model on labelled text.

Macro-F1 is the headline because GoEmotions-Ekman is lopsided (joy and neutral are 70 % of the rows):
accuracy rewards a model that never says "fear" or "disgust", macro-F1 does not.

When the model's label names are not the data's (the Korean default speaks GoEmotions-Ekman English,
ko-single-turn speaks Korean), both sides are mapped through `core.moods.canonical_label`; the labels
compared are those both sides can name, the model's prediction is its most probable label among them, and
rows whose gold label the model cannot name are skipped and counted.  The output says which labels met.

Multi-label sets (KOTE, `--format kote`) are scored twice: as single-label data (each row's majority mood,
the "mapped 7-label accuracy", with the usual per-label table and confusion matrix), and as multi-label data
(`multi_label`): every row's labels mapped to moods form its gold set, the model's predicted set is its top
mood plus every mood with probability >= `MULTI_LABEL_THRESHOLD`, and macro-F1 is taken over the moods;
`top_in_gold` is the share of rows whose top mood is one of the row's moods.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.mood.space import canonical_label
from moodtape.training.emotion_data import FORMATS, EmotionData, load_emotion_data
from moodtape.training.plots import pyplot


#: A mood joins the predicted set of a multi-label row when the model gives it at least this probability.
MULTI_LABEL_THRESHOLD = 0.25


def multilabel_metrics(gold_sets: Sequence[set[int]], scores: np.ndarray, labels: Sequence[str],
                       threshold: float = MULTI_LABEL_THRESHOLD) -> dict[str, Any]:
    """Per-label and macro-F1 of predicted label sets (top label + those >= threshold) against gold sets."""
    n, k = len(gold_sets), len(labels)
    gold = np.zeros((n, k), dtype=bool)
    for row, members in enumerate(gold_sets):
        gold[row, list(members)] = True
    predicted = scores >= threshold
    top = scores.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    predicted[np.arange(n), top] = True
    per_label: dict[str, dict[str, float]] = {}
    f1s = []
    for i, name in enumerate(labels):
        tp = int((gold[:, i] & predicted[:, i]).sum())
        support, guessed = int(gold[:, i].sum()), int(predicted[:, i].sum())
        precision = tp / guessed if guessed else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                           "support": support}
        if support:
            f1s.append(f1)
    return {"macro_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
            "top_in_gold": round(float(gold[np.arange(n), top].mean()) if n else 0.0, 4),
            "threshold": threshold, "n": n, "per_label": per_label}


def classification_metrics(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels present in the gold data, per-label precision/recall/F1/support."""
    y = np.asarray(gold, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, p), 1)
    per_label: dict[str, dict[str, float]] = {}
    f1s = []
    for i, name in enumerate(labels):
        tp = confusion[i, i]
        support = int(confusion[i].sum())
        predicted_i = int(confusion[:, i].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[name] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                           "f1": round(float(f1), 4), "support": support}
        if support:
            f1s.append(f1)
    return {
        "accuracy": round(float((y == p).mean()) if len(y) else 0.0, 4),
        "macro_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
        "per_label": per_label,
        "n": int(len(y)),
        "confusion": confusion.tolist(),
    }


def label_bridge(model_labels: Sequence[str], data_labels: Sequence[str]) -> tuple[list[str], dict[str, str],
                                                                                   dict[str, str], str]:
    """The labels a model and a data set share: exact names, else via the canonical mood labels.

    Returns (compared canonical-or-exact names, data label -> compared name, model label -> compared name,
    "exact" | "canonical").
    """
    if set(data_labels) <= set(model_labels):
        same = list(data_labels)
        return same, {n: n for n in same}, {n: n for n in same}, "exact"
    data_map = {n: c for n in data_labels if (c := canonical_label(n))}
    model_map = {n: c for n in model_labels if (c := canonical_label(n))}
    shared = [c for c in dict.fromkeys(data_map.values()) if c in set(model_map.values())]
    if not shared:
        raise UserError(f"the model's labels ({', '.join(model_labels)}) and the data's "
                        f"({', '.join(data_labels)}) have nothing in common, even mapped to Ekman names")
    return (shared, {n: c for n, c in data_map.items() if c in shared},
            {n: c for n, c in model_map.items() if c in shared}, "canonical")


def evaluate_probabilities(probs: np.ndarray, model_labels: Sequence[str], data: EmotionData) -> dict[str, Any]:
    """Score (n, model labels) probabilities against the data's gold labels (see module docstring)."""
    compared, data_map, model_map, how = label_bridge(model_labels, data.label_names)
    column = {name: i for i, name in enumerate(compared)}
    # Sum model probabilities per compared label (several model labels can map to one canonical name).
    project = np.zeros((len(model_labels), len(compared)), dtype=np.float64)
    for j, name in enumerate(model_labels):
        if name in model_map:
            project[j, column[model_map[name]]] = 1.0
    scores = probs.astype(np.float64) @ project
    gold, predicted = [], []
    skipped = 0
    for row, label_index in enumerate(data.labels):
        target = data_map.get(data.label_names[label_index])
        if target is None:
            skipped += 1
            continue
        gold.append(column[target])
        predicted.append(int(np.argmax(scores[row])))
    result = classification_metrics(gold, predicted, compared)
    result["compared_labels"] = compared
    result["label_matching"] = how
    if how == "canonical":
        result["data_label_map"] = data_map
        result["model_label_map"] = model_map
    result["skipped_unmapped_label"] = skipped
    if data.label_sets is not None:
        from moodtape.core.mood.space import canonical_label

        sets, rows = [], []
        for row, names in enumerate(data.label_sets):
            members = {column[c] for name in names
                       if (c := data_map.get(name) or data_map.get(canonical_label(name) or "")) in column}
            if members:
                sets.append(members)
                rows.append(row)
        total = scores[rows].sum(axis=1, keepdims=True) if rows else np.zeros((0, 1))
        shares = np.divide(scores[rows], total, out=np.zeros_like(scores[rows]), where=total > 0)
        result["multi_label"] = multilabel_metrics(sets, shares, compared)
    return result


def default_model_for(fmt: str, settings: Any) -> str:
    """The installed default for a data set's language: the Korean model for Korean data, else English."""
    from moodtape.core.mood.reader import BUNDLED_ENGLISH, BUNDLED_KOREAN

    if FORMATS[fmt].language == "ko":
        return settings.korean_emotion_model or str(BUNDLED_KOREAN)
    return settings.emotion_model or str(BUNDLED_ENGLISH)


def evaluate(data_path: Path, fmt: str, model: str | None = None, *, settings: Any = None, device: str = "cpu",
             limit: int | None = None, confusion_png: Path | None = None, batch_size: int = 64) -> dict[str, Any]:
    from moodtape.core.mood.reader import EmotionClassifier, prepare_text

    data = load_emotion_data(data_path, fmt, limit=limit)
    if model is None:
        if settings is None:
            from moodtape.core.config import Settings

            settings = Settings()
        model = default_model_for(fmt, settings)
    classifier = EmotionClassifier(model, device=device, batch_size=batch_size)
    probs = _probabilities(classifier, [prepare_text(t) for t in data.texts])
    result = evaluate_probabilities(probs, classifier.labels, data)
    result.update({
        "model": classifier.version, "data": str(data_path), "format": fmt,
        "skipped_multilabel": data.skipped_multilabel, "skipped_empty": data.skipped_empty,
        "skipped_unknown_label": sum(data.skipped_unknown.values()),
    })
    if confusion_png is not None:
        write_confusion_png(np.asarray(result["confusion"]), result["compared_labels"], confusion_png,
                            title=f"{Path(str(model)).name} on {Path(data_path).name} "
                                  f"(macro-F1 {result['macro_f1']:.3f})")
        result["confusion_png"] = str(confusion_png)
    return result


def _probabilities(classifier: Any, prepared: list[str]) -> np.ndarray:
    """Model probabilities for already prepared texts, with a progress bar (dev sets take minutes on CPU)."""
    from tqdm import tqdm

    model = classifier._model
    chunk = 512
    parts = []
    with tqdm(total=len(prepared), desc="eval", unit="text", leave=False) as bar:
        for start in range(0, len(prepared), chunk):
            texts = [t or " " for t in prepared[start:start + chunk]]
            parts.append(model.probabilities(texts))
            bar.update(len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, len(classifier.labels)))


def write_confusion_png(confusion: np.ndarray, labels: Sequence[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows: gold, columns: predicted) with the counts written in."""
    plt = pyplot()
    with warnings.catch_warnings():  # label glyphs a font lacks (Hangul) draw as boxes, not as warnings
        warnings.simplefilter("ignore", UserWarning)
        return _draw_confusion(plt, confusion, labels, path, title)


def _draw_confusion(plt: Any, confusion: np.ndarray, labels: Sequence[str], path: Path, title: str) -> Path:
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros_like(confusion, dtype=float), where=rows > 0)
    size = max(4.0, 0.7 * len(labels) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    if title:
        ax.set_title(title, fontsize=9)
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
