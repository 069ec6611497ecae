"""`moodtape train audio --init musicnn`: a SiamRec-style projection head on the frozen musicnn, and its test.

musicnn was trained to tag MagnaTagATune / Million Song Dataset clips, not to place an operator's catalogue
in a similarity space.  SiamRec-style adaptation keeps the tagger frozen and trains only a small head on top
of it, self-supervised on the catalogue's own audio: two views of the same track (different 3 s patches,
each put through the project's augmentations) should land close, other tracks far.  Only the head's
weights would ship, so the engine's musicnn pass is unchanged.

Input: per patch, both models' penultimate layers side by side (MTT 200 + MSD 200 = 400), z-scored with the
training tracks' patch statistics.  Head: 400 -> 256 -> 128 MLP.  Loss: NT-Xent (SimCLR's InfoNCE), not
SimSiam: with a few hundred training tracks and cheap cached features, explicit negatives make collapse
impossible without SimSiam's stop-gradient / predictor balance, which is fragile on tiny data and would need
its own collapse monitoring; NT-Xent's batch of 2N views is also what the project's encoder already uses
(training/audio_losses.py).

The augmentations (training/audio_augment.py) act on dB power: musicnn's input `log10(10000 P + 1)` is turned
back into dB, augmented, and turned back.  Random crops with time stretch, mixing with another track,
pitch shift (at musicnn's 16 kHz band centres), EQ / filter, reverb, compression, gain and masking (stripe
sizes scaled to musicnn's 62.5 frames/s and 96 bands) are used.  musicnn's features of every view are
computed once and cached; training the head then takes seconds and is seeded.

Measured in one run on the held-out split of core/data/audio_encoder/split.json (never trained on): Emotify
genre precision@5 and Debian game precision@5 of the head's clip vectors (mean of unit patch outputs)
against the frozen features it starts from (the clip's mean penultimate layers of both models, z-scored
with training statistics).  It ships only if it wins there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from moodtape.core.audio.musicnn import MODELS, N_FFT, SAMPLE_RATE, Musicnn, log_mel, patches
from moodtape.core.audio.musicnn_layers import N_FRAMES, N_MELS
from moodtape.core.errors import UserError
from moodtape.training.audio_augment import (
    AugmentConfig,
    compress,
    crop_batch,
    equalise,
    mask,
    mix,
    pitch_shift,
    reverb,
)
from moodtape.training.audio_corpus import CorpusTrack, groups_from_split, validation_groups
from moodtape.training.audio_losses import nt_xent
from moodtape.training.npz_cache import file_key, load_arrays, save_arrays
from torch import nn
from torch.nn import functional as F

#: Clean patches per track, evenly spread (the head's input at inference and the frozen baseline).
PATCHES = 8
#: Augmented random crops per training track (each one musicnn pass per model, done once and cached).
VIEWS = 6
#: Seconds decoded from the middle of each track (Debian tracks run for minutes).
WINDOW_S = 120.0
INPUT_DIM = 400  # MTT penultimate 200 + MSD penultimate 200
HIDDEN = 256
OUTPUT_DIM = 128
TEMPERATURE = 0.1
#: audio_augment's stripe sizes are for the encoder's 64 bands at 22050 / 512 = 43 frames/s.
FRAME_RATIO = (SAMPLE_RATE / (N_FFT // 2)) / (22050 / 512)
BAND_RATIO = N_MELS / 64
DEFAULTS = {"steps": 400, "batch": 64, "lr": 1e-3}
_FLOAT16_MAX = 65504.0


# --- augmentations on musicnn's input ------------------------------------------------------------------------


def to_db(m: torch.Tensor) -> torch.Tensor:
    """musicnn's `log10(10000 P + 1)` -> 10 log10 P (silence floors at -100 dB)."""
    power = (torch.pow(10.0, m) - 1.0) / 10000.0
    return 10.0 * torch.log10(power.clamp(min=1e-10))


def from_db(db: torch.Tensor) -> torch.Tensor:
    """10 log10 P -> musicnn's input, with the power rounded to float16 as `log_mel` does."""
    power = torch.pow(10.0, db / 10.0).clamp(max=_FLOAT16_MAX).to(torch.float16).to(torch.float32)
    return torch.log10(10000.0 * power + 1.0)


def musicnn_config(config: AugmentConfig) -> AugmentConfig:
    """The augmentation preset with its masks resized to musicnn's frame rate and band count."""
    return dataclasses.replace(config, time_mask_frames=round(config.time_mask_frames * FRAME_RATIO),
                               freq_mask_bands=round(config.freq_mask_bands * BAND_RATIO))


def _pick(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def augmented_views(mel: torch.Tensor, n: int, gen: torch.Generator, config: AugmentConfig,
                    partner: torch.Tensor | None = None) -> torch.Tensor:
    """`n` augmented random crops of one track's musicnn log-mel (frames, 96) -> (n, 187, 96).

    The chain is audio_augment's `augment` in its order, at musicnn's sample rate; `partner` (dB crops of
    another track, (m, 96, 187)) is what some views are mixed with.
    """
    crops = crop_batch([mel.T.numpy()] * n, N_FRAMES, gen, config)  # n crops at random places, some stretched
    x = to_db(crops)  # (n, 96, 187)
    chosen = _pick(n, config.p_mix, gen)
    if partner is not None and bool(chosen.any()):
        mixed = mix(torch.cat([x, partner]), gen, config)[:n]
        x = torch.where(chosen.view(-1, 1, 1), mixed, x)
    chosen = _pick(n, config.p_pitch, gen)
    if bool(chosen.any()):
        semis = (-config.pitch_semitones + 2 * config.pitch_semitones * torch.rand(n, generator=gen)) * chosen
        x = pitch_shift(x, semis, sr=SAMPLE_RATE)
    for p, effect in ((config.p_eq, lambda v: equalise(v, gen, config)), (config.p_reverb, lambda v: reverb(v, gen)),
                      (config.p_compress, lambda v: compress(v, gen))):
        chosen = _pick(n, p, gen)
        if bool(chosen.any()):
            x = torch.where(chosen.view(-1, 1, 1), effect(x), x)
    gain = (-config.gain_db + 2 * config.gain_db * torch.rand(n, generator=gen)) * _pick(n, config.p_gain, gen)
    x = mask(x + gain.view(n, 1, 1), gen, config)
    return from_db(x).transpose(1, 2).contiguous()


# --- frozen features, cached ---------------------------------------------------------------------------------


def _features(models: Sequence[Musicnn], batch: torch.Tensor) -> np.ndarray:
    """(patches, 187, 96) -> (patches, 400): both models' penultimate layers side by side."""
    return np.concatenate([m.run_patches(batch)["penultimate"].float().numpy() for m in models], axis=1)


def _load_rows(path: Path | None) -> dict[str, np.ndarray]:
    cached = load_arrays(path)
    if not cached:
        return {}
    ends = np.cumsum(cached["counts"])
    return {k: cached["rows"][e - c:e] for k, c, e in zip(cached["keys"].tolist(), cached["counts"], ends)}


def _save_rows(path: Path | None, known: dict[str, np.ndarray]) -> None:
    if path is not None and known:
        keys = sorted(known)
        save_arrays(path, keys=np.asarray(keys), counts=np.asarray([len(known[k]) for k in keys]),
                    rows=np.concatenate([known[k] for k in keys]).astype(np.float32))


def frozen_features(tracks: Sequence[CorpusTrack], train: set[int], *, config: AugmentConfig, seed: int,
                    cache_dir: Path | None, log: Callable[[str], None]) -> tuple[dict[int, np.ndarray],
                                                                                dict[int, np.ndarray]]:
    """Per track index: clean patch features (<= PATCHES, 400); for `train` tracks also (VIEWS, 400) views.

    Cached per file (path, size, mtime), so a rerun or an interrupted run only computes what is missing.  A
    view's randomness comes from the seed and the file, and its mixing partner is the previous training
    track, so a run from scratch is reproducible.
    """
    from moodtape.core.audio.decode import decode

    clean_file = cache_dir / f"musicnn-head-clean-v1-p{PATCHES}-w{WINDOW_S:g}.npz" if cache_dir else None
    tag = hashlib.sha256(repr((config, VIEWS, WINDOW_S, seed)).encode()).hexdigest()[:12]
    views_file = cache_dir / f"musicnn-head-views-v1-{tag}.npz" if cache_dir else None
    clean_known, views_known = _load_rows(clean_file), _load_rows(views_file)
    models = [Musicnn.load(name) for name in MODELS]
    clean: dict[int, np.ndarray] = {}
    views: dict[int, np.ndarray] = {}
    partner: torch.Tensor | None = None
    started, done = time.monotonic(), 0
    for i, track in enumerate(tracks):
        key = file_key(track.path)
        need_views = i in train and key not in views_known
        if key not in clean_known or need_views:
            try:
                samples = decode(track.path, sample_rate=SAMPLE_RATE, window_s=WINDOW_S).samples
            except UserError as exc:
                log(f"skipped {track.path}: {exc}")
                continue
            mel = log_mel(samples)
            if key not in clean_known:
                clean_known[key] = _features(models, patches(mel, PATCHES))
            if need_views:
                gen = torch.Generator().manual_seed(seed * 1_000_003 + int(key[:8], 16))
                batch = augmented_views(mel, VIEWS, gen, config, partner)
                views_known[key] = _features(models, batch)
                partner = to_db(batch.transpose(1, 2))
            done += 1
            if done % 25 == 0:
                _save_rows(clean_file, clean_known)
                _save_rows(views_file, views_known)
                log(f"musicnn features: {i + 1}/{len(tracks)} tracks, {time.monotonic() - started:.0f} s")
        clean[i] = clean_known[key]
        if i in train:
            views[i] = views_known[key]
    _save_rows(clean_file, clean_known)
    _save_rows(views_file, views_known)
    return clean, views


# --- the head ------------------------------------------------------------------------------------------------


class ProjectionHead(nn.Module):
    """z-score (training statistics, kept as buffers so the head is self-contained) -> 400 -> 256 -> 128."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.mlp = nn.Sequential(nn.Linear(len(mean), HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ReLU(),
                                 nn.Linear(HIDDEN, OUTPUT_DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.mean) / self.std)

    @torch.no_grad()
    def clip_vector(self, patch_features: np.ndarray) -> np.ndarray:
        """A clip's vector: the mean of its patches' unit outputs (what the engine would store)."""
        self.eval()
        out = F.normalize(self(torch.from_numpy(np.asarray(patch_features, dtype=np.float32))), dim=1)
        return out.mean(dim=0).numpy()


def zscore_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = rows.std(axis=0)
    return rows.mean(axis=0).astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def train_head(pools: Sequence[np.ndarray], *, steps: int, batch: int, lr: float, seed: int,
               log: Callable[[str], None] | None = None) -> tuple[ProjectionHead, list[float]]:
    """NT-Xent on pairs of different rows of the same pool (one pool per track: its views and patches).

    Each step draws `batch` tracks and two distinct rows of each; returns the head and the loss per step.
    """
    usable = [np.asarray(p, dtype=np.float32) for p in pools if len(p) >= 2]
    if len(usable) < 2:
        raise UserError("the head needs at least two training tracks that decoded")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = zscore_stats(np.concatenate(usable))
    head = ProjectionHead(mean, std)
    optimiser = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, steps))
    size = min(batch, len(usable))
    losses = []
    head.train()
    for step in range(steps):
        chosen = rng.choice(len(usable), size=size, replace=False)
        pairs = [rng.choice(len(usable[i]), size=2, replace=False) for i in chosen]
        a = torch.from_numpy(np.stack([usable[i][p[0]] for i, p in zip(chosen, pairs)]))
        b = torch.from_numpy(np.stack([usable[i][p[1]] for i, p in zip(chosen, pairs)]))
        loss = nt_xent(head(a), head(b), TEMPERATURE)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % 100 == 0:
            log(f"head step {step + 1}/{steps}: loss {np.mean(losses[-100:]):.3f}")
    head.eval()
    return head, losses


# --- measuring -----------------------------------------------------------------------------------------------


def per_item_precision(vectors: np.ndarray, labels: Sequence[str], k: int = 5) -> np.ndarray:
    """Each item's share of same-label items among its k nearest others (cosine); their mean is p@k."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)[:, :min(k, len(labels) - 1)]
    return (np.asarray(labels)[order] == np.asarray(labels)[:, None]).mean(axis=1)


def compare(frozen: np.ndarray, head: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """p@5 of both on one labelled set, with the paired per-item difference and its standard error."""
    from moodtape.training.retrieval_metrics import chance_precision, precision_at_k

    diff = per_item_precision(head, labels) - per_item_precision(frozen, labels)
    return {"n": len(labels), "labels": len(set(labels)), "chance": round(chance_precision(labels), 4),
            "frozen": round(precision_at_k(frozen, labels, (5,))["p@5"], 4),
            "head": round(precision_at_k(head, labels, (5,))["p@5"], 4),
            "diff": round(float(diff.mean()), 4),
            "diff_se": round(float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0, 4),
            "_diff": diff}


def _split_report(parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The per-source comparisons and their pooled numbers (all items of all sources count once)."""
    diffs = np.concatenate([p.pop("_diff") for p in parts.values()]) if parts else np.zeros(0)
    n = sum(p["n"] for p in parts.values())
    pooled = {"n": n,
              "frozen": round(sum(p["frozen"] * p["n"] for p in parts.values()) / max(n, 1), 4),
              "head": round(sum(p["head"] * p["n"] for p in parts.values()) / max(n, 1), 4),
              "diff": round(float(diffs.mean()), 4) if n else 0.0,
              "diff_se": round(float(diffs.std(ddof=1) / math.sqrt(n)), 4) if n > 1 else 0.0}
    return {**parts, "pooled": pooled}


def verdict(test: dict[str, Any]) -> bool:
    """Ships only if the head beats the frozen features on the pooled test items by more than two standard
    errors of the paired difference, and loses on no source: a win inside the noise is not a win."""
    pooled = test["pooled"]
    if not pooled["n"]:
        return False
    sources = [v for k, v in test.items() if k != "pooled"]
    return pooled["diff"] > 2 * pooled["diff_se"] and all(s["diff"] >= 0 for s in sources)


# --- the command ---------------------------------------------------------------------------------------------


def _tracks(debian: Sequence[Path] | None, emotify: Path | None) -> list[CorpusTrack]:
    from moodtape.training.audio_corpus import debian_tracks, emotify_tracks

    tracks: list[CorpusTrack] = []
    for folder in debian or []:
        tracks += debian_tracks(folder)
    if emotify is not None:
        tracks += emotify_tracks(emotify)
    if not tracks:
        raise UserError("give the music to adapt musicnn to: --emotify DIR and/or --debian DIR")
    return tracks


def _label(track: CorpusTrack) -> tuple[str, str]:
    """The source's name in the report and the label precision is measured on (Emotify genre, Debian game)."""
    if track.source == "emotify":
        return "emotify_genre", track.labels["genre"]
    if track.source == "debian":
        return "debian_game", track.labels["game"]
    return track.source, next(iter(track.labels.values()), track.group)


def run(*, debian: Sequence[Path] | None, emotify: Path | None, out_dir: Path, cache_dir: Path | None,
        holdout_from: Path, augment: AugmentConfig, seed: int = 0, steps: int | None = None,
        batch: int | None = None, lr: float | None = None, val_share: float = 0.0, command: str = "",
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Extract, train, measure, write the head to `out_dir`; the JSON report (with `verdict` and `ships`)."""
    from safetensors.torch import save_file

    steps = DEFAULTS["steps"] if steps is None else steps
    batch = DEFAULTS["batch"] if batch is None else batch
    lr = DEFAULTS["lr"] if lr is None else lr
    if steps < 1 or batch < 2:
        raise UserError("--steps must be at least 1 and --batch at least 2")
    tracks = _tracks(debian, emotify)
    try:
        split = json.loads(holdout_from.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the held-out split {holdout_from}: {exc}") from exc
    test_groups = groups_from_split(tracks, split)
    dev_groups = validation_groups(tracks, {t.group for t in tracks} - test_groups, share=val_share, seed=seed)
    role = ["test" if t.group in test_groups else "dev" if t.group in dev_groups else "train" for t in tracks]
    train = {i for i, r in enumerate(role) if r == "train"}
    if not any(r == "test" for r in role):
        raise UserError(f"none of the tracks belong to the held-out split of {holdout_from}: nothing to test on")
    config = musicnn_config(augment)
    started = time.monotonic()
    clean, views = frozen_features(tracks, train, config=config, seed=seed, cache_dir=cache_dir, log=log)
    extract_s = time.monotonic() - started
    train_ids = sorted(i for i in train if i in clean)
    head, losses = train_head([np.concatenate([views[i], clean[i]]) for i in train_ids], steps=steps,
                              batch=batch, lr=lr, seed=seed, log=log)
    clip_rows = np.stack([clean[i].mean(axis=0) for i in train_ids])
    clip_mean, clip_std = zscore_stats(clip_rows)
    report: dict[str, Any] = {}
    for name in ("dev", "test"):
        by_source: dict[str, list[int]] = {}
        for i in sorted(clean):
            if role[i] == name:
                by_source.setdefault(_label(tracks[i])[0], []).append(i)
        parts = {}
        for source, ids in sorted(by_source.items()):
            if len(ids) < 2:
                continue
            frozen = (np.stack([clean[i].mean(axis=0) for i in ids]) - clip_mean) / clip_std
            adapted = np.stack([head.clip_vector(clean[i]) for i in ids])
            parts[source] = compare(frozen, adapted, [_label(tracks[i])[1] for i in ids])
        report[name] = _split_report(parts)
    ships = verdict(report["test"])
    pooled = report["test"]["pooled"]
    line = f"ships: {'yes' if ships else 'no'} (test p@5 frozen {pooled['frozen']:.3f} vs head {pooled['head']:.3f})"
    card = {
        "kind": "musicnn projection head (SiamRec-style, NT-Xent)", "command": command,
        "input": "per 3 s patch: MTT_musicnn penultimate (200) + MSD_musicnn penultimate (200), z-scored by the "
                 "buffers mean/std", "layers": [INPUT_DIM, HIDDEN, OUTPUT_DIM],
        "clip_vector": "mean over the clip's patches of the L2-normalised head output",
        "training": {"tracks": len(train_ids), "steps": steps, "batch": batch, "lr": lr, "seed": seed,
                     "temperature": TEMPERATURE, "views_per_track": VIEWS, "patches_per_track": PATCHES,
                     "window_s": WINDOW_S, "augment": dataclasses.asdict(config),
                     "loss_first_100": round(float(np.mean(losses[:100])), 4),
                     "loss_last_100": round(float(np.mean(losses[-100:])), 4)},
        "split": {"holdout_from": str(holdout_from), "test_groups": len(test_groups), "dev_groups": sorted(dev_groups),
                  "val_share": val_share},
        "dev": report["dev"], "test": report["test"], "ships": ships, "verdict": line,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(out_dir / "musicnn_head.safetensors"))
    (out_dir / "musicnn_head.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    log(line)
    return {**card, "extract_s": round(extract_s, 1), "out": str(out_dir),
            "tracks": {r: role.count(r) for r in ("train", "dev", "test")}}
