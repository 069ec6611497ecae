"""`moodtape bench emotion`: how long one chat message takes to read, how many a batch reads per second, and
what the speed-ups of `core.mood.speed` cost in accuracy -- every inference path side by side in one run.

Messages are generated from a fixed phrase list with lengths from one word to a long paragraph (a seeded
mix), so the numbers include tokenising, padding and the model, as in the bot.  Timings go through
`EmotionClassifier.classify`, the same call the engine makes.  The paths of one model are timed in turn,
batch by batch and message by message, so that load from other processes hits them alike and their ratio
means something on a shared machine:

* ``float``: the plain path (``optimised=False``), batches of `batch_size` padded to their longest text;
* ``optimised``: length groups and merged LoRA, the same numbers up to float rounding (what the engine
  runs with ``MOODTAPE_EMOTION_INT8=false``);
* ``int8``: what the engine runs by default on CPU: ``optimised`` plus an int8 graph in ONNX Runtime
  (`core.mood.onnx_int8`; torch's int8 layers where ONNX Runtime is missing): faster, readings move;
* ``int8-torch``: ``optimised`` plus torch's int8 Linear layers, the int8 path before ONNX Runtime.

With ``--f1-data`` (GoEmotions-Ekman TSV, e.g. the dev split) every path is also scored (macro-F1 as in
`moodtape eval emotion`), with its difference to ``float`` and the share of labels that stayed the same.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.training.bench import _percentiles, machine

ENGLISH = [
    "i failed my exam", "and everything feels hopeless", "what a wonderful morning", "honestly i am so angry",
    "my dog is sick", "we won the game!", "that movie was disgusting", "i can't sleep again", "thanks so much",
    "no idea what to do now", "the concert tonight was unreal", "why does this always happen to me", "😭",
    "feeling kind of meh", "she finally called back", "lol", "it is raining and i miss home",
]
KOREAN = [
    "오늘 시험을 망쳤어", "너무 슬퍼요", "정말 행복한 하루였어", "진짜 화가 나", "무서워서 잠이 안 와",
    "고마워요", "이건 좀 역겹다", "깜짝 놀랐어", "그냥 그래", "비가 와서 집이 그리워",
    # chat spellings: the informal-text normalisation and (for "morph" models) Kiwi run on these too
    "ㅋㅋㅋㅋ 개웃겨", "보고싶어ㅠㅠ", "헐 ㄷㄷ 대박", "아 진짜 짜증나 ㅡㅡ", "너무너무 좋아 ^^",
]
#: The inference paths compared, as `EmotionClassifier` keyword arguments; the first is the reference.
PATHS: dict[str, dict[str, Any]] = {
    "float": {"optimised": False},
    "optimised": {},
    "int8": {"quantize": True},
    "int8-torch": {"quantize": True, "onnx": False},
}
#: How far the optimised path's macro-F1 may move from the float path's (issue 16).
F1_TOLERANCE = 0.005


def sample_messages(phrases: list[str], n: int, seed: int = 0) -> list[str]:
    """n messages of 1 to ~60 words (a quarter long), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        parts = int(rng.integers(8, 25)) if i % 4 == 3 else int(rng.integers(1, 5))
        out.append(" ".join(phrases[int(j)] for j in rng.integers(0, len(phrases), parts)))
    return out


def bench_model(ref: str, texts: list[str], batch_size: int, batches: int,
                f1_data: tuple[Path, str] | None = None, f1_limit: int | None = None) -> dict[str, Any]:
    """Every path of PATHS on one checkpoint: load time, single-message latency, batched throughput, F1."""
    from moodtape.core.mood.reader import EmotionClassifier

    classifiers, load_s = {}, {}
    for name, kwargs in PATHS.items():
        started = time.perf_counter()
        classifiers[name] = EmotionClassifier(ref, device="cpu", batch_size=batch_size, **kwargs)
        load_s[name] = time.perf_counter() - started
    first_ms: dict[str, float] = {}
    for name, classifier in classifiers.items():  # the first message pays for lazy set-up (Kiwi: ~1 s)
        t0 = time.perf_counter()
        classifier.classify([texts[0]])
        first_ms[name] = (time.perf_counter() - t0) * 1000.0
    for text in texts[:5]:
        for classifier in classifiers.values():
            classifier.classify([text])  # warm-up: first calls allocate
    single: dict[str, list[float]] = {name: [] for name in classifiers}
    for text in texts:
        for name, classifier in classifiers.items():
            t0 = time.perf_counter()
            classifier.classify([text])
            single[name].append((time.perf_counter() - t0) * 1000.0)
    pool = (texts * (batch_size * batches // max(1, len(texts)) + 1))[: batch_size * batches]
    seconds = dict.fromkeys(classifiers, 0.0)
    for start in range(0, len(pool), batch_size):
        for name, classifier in classifiers.items():
            t0 = time.perf_counter()
            classifier.classify(pool[start:start + batch_size])
            seconds[name] += time.perf_counter() - t0
    paths = {name: {
        "applied": classifiers[name].speedups.to_json(), "load_s": round(load_s[name], 3),
        "first_message_ms": round(first_ms[name], 2),
        "single": {"n": len(single[name]), **_percentiles(single[name])},
        "batch": {"batch_size": batch_size, "messages": len(pool), "seconds": round(seconds[name], 3),
                  "messages_per_s": round(len(pool) / max(seconds[name], 1e-9), 2)},
    } for name in classifiers}
    reference, engine = paths["float"], paths["int8"]
    result: dict[str, Any] = {
        "model": classifiers["int8"].version, "ref": ref, "load_s": engine["load_s"],
        "single": engine["single"], "batch": engine["batch"],  # what the engine runs on CPU by default
        "paths": paths,
        "speedup": {name: {
            "batch_messages_per_s": round(p["batch"]["messages_per_s"] / reference["batch"]["messages_per_s"], 3),
            "single_median": round(reference["single"]["median_ms"] / max(p["single"]["median_ms"], 1e-9), 3),
        } for name, p in paths.items() if name != "float"},
        "mean_words": round(statistics.fmean(len(t.split()) for t in texts), 1),
    }
    if f1_data is not None:
        result["f1_check"] = f1_check(classifiers, f1_data[0], f1_data[1], f1_limit)
    return result


def f1_check(classifiers: dict[str, Any], path: Path, fmt: str, limit: int | None = None) -> dict[str, Any]:
    """Macro-F1 of every path on labelled data, the change from the first (float) path, and label agreement."""
    from moodtape.core.mood.reader import prepare_text
    from moodtape.training.emotion_data import load_emotion_data
    from moodtape.training.eval_emotion import _probabilities, evaluate_probabilities

    data = load_emotion_data(path, fmt, limit=limit)
    prepared = [prepare_text(t) for t in data.texts]
    probs = {name: _probabilities(classifier, prepared) for name, classifier in classifiers.items()}
    reference_name = next(iter(probs))
    reference = probs[reference_name]
    scores = {name: evaluate_probabilities(p, classifier.labels, data)
              for (name, p), classifier in zip(probs.items(), classifiers.values())}
    out: dict[str, Any] = {"data": str(path), "format": fmt, "n": scores[reference_name]["n"],
                           "tolerance": F1_TOLERANCE, "paths": {}}
    for name, p in probs.items():
        delta = scores[name]["macro_f1"] - scores[reference_name]["macro_f1"]
        out["paths"][name] = {
            "macro_f1": scores[name]["macro_f1"], "accuracy": scores[name]["accuracy"],
            "macro_f1_delta": round(delta, 4), "within_tolerance": abs(delta) <= F1_TOLERANCE,
            "same_label": round(float((p.argmax(1) == reference.argmax(1)).mean()) if len(p) else 1.0, 4),
            "max_prob_diff": round(float(np.abs(p - reference).max()) if len(p) else 0.0, 4),
        }
    return out


def bench_emotion(model: str | None = None, *, settings: Any = None, messages: int = 200, batch_size: int = 32,
                  batches: int = 20, threads: int | None = None, f1_data: Path | None = None,
                  f1_data_ko: Path | None = None, f1_limit: int | None = None,
                  language: str = "en") -> dict[str, Any]:
    """Bench `model` (with `f1_data` as GoEmotions-Ekman; with `language="ko"`, Korean messages and
    `f1_data_ko`), or the English and Korean defaults (the Korean one scored on `f1_data_ko`, GoEmotions-ko)."""
    import torch

    from moodtape.core.mood.reader import BUNDLED_ENGLISH, BUNDLED_KOREAN

    if threads:
        torch.set_num_threads(threads)
    english = sample_messages(ENGLISH, messages)
    en_f1 = (Path(f1_data), "goemotions-ekman") if f1_data else None
    if model is not None and language == "ko":
        runs = [(model, sample_messages(KOREAN, messages),
                 (Path(f1_data_ko), "goemotions-ko") if f1_data_ko else None)]
    elif model is not None:
        runs = [(model, english, en_f1)]
    else:
        en = (settings.emotion_model if settings is not None else None) or str(BUNDLED_ENGLISH)
        ko = (settings.korean_emotion_model if settings is not None else None) or str(BUNDLED_KOREAN)
        ko_f1 = (Path(f1_data_ko), "goemotions-ko") if f1_data_ko else None
        runs = [(en, english, en_f1), (ko, sample_messages(KOREAN, messages), ko_f1)]
    return {"device": "cpu", "machine": machine(),
            "models": [bench_model(ref, texts, batch_size, batches, f1, f1_limit) for ref, texts, f1 in runs]}
