"""Benchmarks behind `moodtape bench knn` and `moodtape bench embed`.

Figures are medians and ratios measured side by side in one run (the machines are noisy); nothing here
asserts a speed, the numbers go to the README with the command that produced them.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from moodtape.core.config import Settings
from moodtape.training.bench_stats import latency_ms
from moodtape.core.errors import UserError


#: bench embed/emotion report the median as "median_ms" (their JSON predates the knn/chat benches)
_percentiles = functools.partial(latency_ms, median_key="median_ms")


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(terse=True)}


def bench_knn(n: int = 100_000, dim: int = 128, k: int = 10, queries: int = 100, seed: int = 0,
              clusters: int = 1000) -> dict[str, Any]:
    """sqlite-vec exact, the store's HNSW index (alone and through `Store.knn`), faiss flat and NumPy side by
    side: p50/p99 latency, recall@k against exact, build time and bytes (see `training/bench_knn.py`)."""
    from moodtape.training.bench_knn import bench_knn as run

    return {**run(n, dim, k, queries, seed, clusters), "machine": machine()}


def bench_embed(folder: Path, *, device: str = "cpu", limit: int | None = None, workers: int = 1,
                settings: Settings | None = None, encoder: str = "default") -> dict[str, Any]:
    """Decode + embed (content and mood vectors) every audio file in `folder`; tracks per second.

    `encoder` picks the content embedder (default: the installation's); musicnn and the descriptor always run
    (the mood model and the tags read them), so every figure includes their cost, as the engine pays it.
    """
    from moodtape.core.audio.decode import AudioError
    from moodtape.core.audio.embedders import load_audio_embedder
    from moodtape.core.pipeline.embedding import TrackEmbedder
    from moodtape.training.descriptor_stats import audio_files

    files = audio_files(folder)
    if limit:
        files = files[:limit]
    if not files:
        raise UserError(f"no audio files under {folder}")
    embedder = TrackEmbedder(settings or Settings(), device=device, audio=load_audio_embedder(device, encoder))
    embedder.embed_file(files[0])  # warm-up: filter banks, first-call overheads

    per_track: list[float] = []
    audio_s = 0.0
    failed = 0

    def one(path: Path) -> tuple[float, float] | None:
        t0 = time.perf_counter()
        try:
            vectors = embedder.embed_file(path)
        except AudioError:
            return None
        return time.perf_counter() - t0, min(vectors.duration_s, embedder.settings.analysis_s)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in tqdm(pool.map(one, files), total=len(files), desc="embedding", unit="track", leave=False):
            if result is None:
                failed += 1
                continue
            per_track.append(result[0] * 1000)
            audio_s += result[1]
    wall = time.perf_counter() - started
    done = len(per_track)
    return {
        "device": device, "workers": workers, "tracks": done, "failed": failed,
        "tracks_per_s": round(done / wall, 3) if wall > 0 else None,
        "audio_seconds_analysed": round(audio_s, 1),
        "realtime_factor": round(audio_s / wall, 1) if wall > 0 else None,
        "per_track": _percentiles(per_track) if per_track else None,
        "encoder": encoder, "audio_version": embedder.audio.version, "mood_version": embedder.mood.version,
        "analysis_s": embedder.settings.analysis_s,
        "machine": machine(),
    }


def bench_encoder_latency(*, seconds: float = 30.0, threads: int = 1, repeats: int = 10,
                          audio: Path | None = None, device: str = "cpu") -> dict[str, Any]:
    """Latency of one clip through each content embedder (log-mel/features + model), `threads` torch threads.

    The clip is `seconds` from the middle of `audio`, or seeded noise; the first call of each embedder is a
    warm-up and not counted.
    """
    from moodtape.core.audio.decode import SAMPLE_RATE, decode
    from moodtape.core.audio.embedders import EMBEDDERS, load_audio_embedder

    if audio is not None:
        samples = decode(audio, window_s=seconds).samples
    else:
        samples = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out: dict[str, Any] = {}
        for name in EMBEDDERS:
            embedder = load_audio_embedder(device, name)
            embedder.embed(samples)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                embedder.embed(samples)
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = {**_percentiles(times), "version": embedder.version}
    finally:
        torch.set_num_threads(previous)
    return {"clip_seconds": round(samples.size / SAMPLE_RATE, 2), "threads": threads, "repeats": repeats,
            "device": device, "encoders": out, "machine": machine()}
