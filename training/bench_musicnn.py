"""`moodtape bench musicnn`: how many 30 s clips per second musicnn analyses, end to end, on one core and on CUDA.

Each clip is timed through `Musicnn.analyse_file` (ffmpeg decode at 16 kHz, log-mel, network), the call an
embedder would make, so decode is included.  Two figures per device come from the same run, side by side: all
of a clip's 3 s patches (what musicnn's own extractor analyses) and a bounded excerpt (`--max-patches`, default
3, spread over the clip).  CPU seconds (this process plus ffmpeg's) are reported next to wall seconds, because
the machines these run on are shared and wall time then measures the neighbours too.  Nothing asserts a speed.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from moodtape.core.audio.musicnn import SAMPLE_RATE, Musicnn, log_mel, patches
from moodtape.training.bench import machine

CLIP_S = 30.0


def synthetic_clips(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` 30 s mp3 clips of chords, drums and noise (decoding mp3 costs what real catalogues cost)."""
    from moodtape.core.audio.decode import ffmpeg_binary

    rng = np.random.default_rng(seed)
    t = np.arange(int(CLIP_S * SAMPLE_RATE)) / SAMPLE_RATE
    paths = []
    for i in range(count):
        tones = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(80, 900, 4))
        beat = np.sin(2 * np.pi * 55 * t) * (np.mod(t, 60 / rng.uniform(80, 160)) < 0.08)
        wave = 0.2 * tones / 4 + 0.5 * beat + 0.05 * rng.standard_normal(t.size)
        raw = folder / f"clip{i}.f32"
        raw.write_bytes((0.7 * wave / np.abs(wave).max()).astype("<f4").tobytes())
        path = folder / f"clip{i}.mp3"
        subprocess.run(
            [
                ffmpeg_binary(),
                "-y",
                "-v",
                "error",
                "-f",
                "f32le",
                "-ar",
                str(SAMPLE_RATE),
                "-ac",
                "1",
                "-i",
                str(raw),
                "-b:a",
                "128k",
                str(path),
            ],
            check=True,
        )
        raw.unlink()
        paths.append(path)
    return paths


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _time_clips(model: Musicnn, clips: list[Path], max_patches: int | None) -> dict[str, Any]:
    model.analyse_file(clips[0], max_patches=max_patches)  # warm-up: caches, allocator
    wall, cpu, n_patches = [], [], []
    for path in clips:
        if model.device.startswith("cuda"):
            torch.cuda.synchronize()
        w0, c0 = time.perf_counter(), _cpu_seconds()
        result = model.analyse_file(path, max_patches=max_patches)
        if model.device.startswith("cuda"):
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - w0)
        cpu.append(_cpu_seconds() - c0)
        n_patches.append(result.taggram.shape[0])
    wall_s, cpu_s = statistics.median(wall), statistics.median(cpu)
    return {
        "patches_per_clip": int(statistics.median(n_patches)),
        "median_wall_s": round(wall_s, 4),
        "median_cpu_s": round(cpu_s, 4),
        "clips_per_s_wall": round(1 / wall_s, 2),
        "clips_per_s_cpu": round(1 / cpu_s, 2) if cpu_s > 0 else None,
    }


def _network_only(model: Musicnn, clips: int, batch_clips: int) -> dict[str, Any]:
    """Throughput of log-mel + network alone on `clips` clips' patches, batched (the GPU path's ceiling)."""
    wave = torch.randn(int(CLIP_S * SAMPLE_RATE), device=model.device) * 0.1
    batch = patches(log_mel(wave, model.device)).repeat(batch_clips, 1, 1)
    model.run_patches(batch)
    if model.device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    rounds = max(1, clips // batch_clips)
    for _ in range(rounds):
        model.run_patches(patches(log_mel(wave, model.device)).repeat(batch_clips, 1, 1))
    if model.device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    return {
        "clips": rounds * batch_clips,
        "batch_clips": batch_clips,
        "clips_per_s": round(rounds * batch_clips / elapsed, 1),
    }


def bench_musicnn(
    model: str = "MTT_musicnn",
    clips: int = 6,
    audio: list[Path] | None = None,
    max_patches: int | None = None,
    threads: int = 1,
    device: str = "both",
    log: TextIO | None = None,
) -> dict[str, Any]:
    bounded = max_patches or 3
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    result: dict[str, Any] = {"model": model, "clip_s": CLIP_S, "threads": threads}
    try:
        with tempfile.TemporaryDirectory(prefix="moodtape-bench-musicnn-") as folder:
            paths = list(audio) if audio else synthetic_clips(Path(folder), clips)
            result["clips"] = len(paths)
            result["machine"] = machine()
            if device in ("cpu", "both"):
                net = Musicnn.load(model, device="cpu")
                if log:
                    print(f"timing {len(paths)} clips on {threads} CPU thread(s) ...", file=log)
                result["cpu"] = {
                    "all_patches": _time_clips(net, paths, None),
                    f"max_patches_{bounded}": _time_clips(net, paths, bounded),
                }
            if device in ("cuda", "both"):
                if torch.cuda.is_available():
                    net = Musicnn.load(model, device="cuda")
                    if log:
                        print("timing on CUDA ...", file=log)
                    result["cuda"] = {
                        "device_name": torch.cuda.get_device_name(0),
                        "all_patches": _time_clips(net, paths, None),
                        "network_only": _network_only(net, 512, 64),
                    }
                else:
                    result["cuda"] = None
    finally:
        torch.set_num_threads(previous)
    return result
