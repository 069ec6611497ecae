"""`moodtape bench emotion`: how long one chat message takes to read, and how many a batch reads per second.

Messages are generated from a fixed phrase list with lengths from one word to a long paragraph (a seeded
mix), so the numbers include tokenising, padding and the model, as in the bot.  Timings go through
`EmotionClassifier.classify`, the same call the engine makes.
"""

from __future__ import annotations

import statistics
import time
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
]


def sample_messages(phrases: list[str], n: int, seed: int = 0) -> list[str]:
    """n messages of 1 to ~60 words (a quarter long), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        parts = int(rng.integers(8, 25)) if i % 4 == 3 else int(rng.integers(1, 5))
        out.append(" ".join(phrases[int(j)] for j in rng.integers(0, len(phrases), parts)))
    return out


def bench_model(ref: str, texts: list[str], batch_size: int, batches: int) -> dict[str, Any]:
    from moodtape.core.mood.reader import EmotionClassifier

    started = time.perf_counter()
    classifier = EmotionClassifier(ref, device="cpu", batch_size=batch_size)
    load_s = time.perf_counter() - started
    for text in texts[:5]:
        classifier.classify([text])  # warm-up: first calls allocate
    single = []
    for text in texts:
        t0 = time.perf_counter()
        classifier.classify([text])
        single.append((time.perf_counter() - t0) * 1000.0)
    pool = (texts * (batch_size * batches // max(1, len(texts)) + 1))[: batch_size * batches]
    t0 = time.perf_counter()
    for start in range(0, len(pool), batch_size):
        classifier.classify(pool[start:start + batch_size])
    elapsed = time.perf_counter() - t0
    return {
        "model": classifier.version, "ref": ref, "load_s": round(load_s, 3),
        "single": {"n": len(single), **_percentiles(single)},
        "batch": {"batch_size": batch_size, "messages": len(pool), "seconds": round(elapsed, 3),
                  "messages_per_s": round(len(pool) / elapsed, 2)},
        "mean_words": round(statistics.fmean(len(t.split()) for t in texts), 1),
    }


def bench_emotion(model: str | None = None, *, settings: Any = None, messages: int = 200, batch_size: int = 32,
                  batches: int = 20, threads: int | None = None) -> dict[str, Any]:
    import torch

    from moodtape.core.mood.reader import BUNDLED_ENGLISH, BUNDLED_KOREAN

    if threads:
        torch.set_num_threads(threads)
    english = sample_messages(ENGLISH, messages)
    if model is not None:
        runs = [(model, english)]
    else:
        en = (settings.emotion_model if settings is not None else None) or str(BUNDLED_ENGLISH)
        ko = (settings.korean_emotion_model if settings is not None else None) or str(BUNDLED_KOREAN)
        runs = [(en, english), (ko, sample_messages(KOREAN, messages))]
    return {"device": "cpu", "machine": machine(),
            "models": [bench_model(ref, texts, batch_size, batches) for ref, texts in runs]}

