"""Train the learned audio encoder: self-supervised contrastive learning plus supervised heads, multi-task.

Each step draws a batch of distinct training tracks and two random, independently augmented ~3 s crops of
each (training/audio_augment.py).  The losses:

- NT-Xent (SimCLR) on a projection of the window embeddings: two crops of one track attract, crops of the
  other tracks in the batch repel.  That teaches "these sound like the same recording" without labels;
- cosine-softmax classification heads on the unit embedding for every label a source has (Debian: game;
  Emotify: genre; a labelled folder: its label): the same angular space the catalogue's cosine search uses;
- a regression head for Emotify's listener emotions (valence, arousal, nine GEMS shares, standardised);
- optionally (`group_weight`), a supervised contrastive loss on the unit embedding whose positives are crops
  of other tracks of the same group (game, artist, rendered collection): the batch is drawn in pairs of tracks
  of one group.  Unlike a classifier over the few training games, it asks for "music of one album sits
  together" in general, which is what neighbour search on unseen albums needs.

Contrastive learning can collapse (every clip mapped to one point), which its loss alone does not always
show, so every epoch logs the spread of unit embeddings of un-augmented crops: the mean per-dimension std
(about 1/sqrt(128) = 0.088 when spread out, 0 when collapsed) and the mean pairwise cosine.

Model selection: with a validation split (groups carved from the training groups, `--val-share`), every
epoch measures precision@5 on it and the exported weights are those of the best validation epoch.  The
held-out (test) precision@5 is logged as a curve only and never picks anything.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from moodtape.core.audio.encoder import AudioCNN, EncoderConfig, pool_windows, window_starts
from moodtape.core.errors import UserError
from moodtape.training.audio_augment import AugmentConfig, augment, crop_batch
from moodtape.training.audio_corpus import EMOTION_OUTPUTS, MelCorpus
from moodtape.training.audio_losses import group_contrastive, nt_xent, spread
from moodtape.training.retrieval_metrics import chance_precision, precision_at_k

PRESETS: dict[str, dict[str, Any]] = {
    # minutes on two CPU cores: checks the whole pipeline, not a model to ship
    "short": {"steps": 60, "batch": 24, "steps_per_epoch": 15},
    # the shipped recipe: ~20-60 minutes on two (shared) CPU cores, a few minutes on a GPU
    "full": {"steps": 1000, "batch": 64, "steps_per_epoch": 50},
}


@dataclass
class TrainConfig:
    steps: int = 1000
    batch: int = 64
    steps_per_epoch: int = 50
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    temperature: float = 0.2
    sup_weight: float = 0.5
    emotion_weight: float = 0.5
    cos_scale: float = 10.0
    seed: int = 0
    device: str = "cpu"
    monitor_tracks: int = 256
    eval_windows: int = 8
    skip_tasks: tuple[str, ...] = ()  # label tasks to leave out of the supervised loss (ablations)
    group_weight: float = 0.0  # weight of the same-group contrastive loss (0: off, batches uniform)
    group_temperature: float = 0.1
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


class Heads(nn.Module):
    """Everything trained on top of the window embedding and thrown away afterwards."""

    def __init__(self, dim: int, tasks: dict[str, list[str]], emotions: bool) -> None:
        super().__init__()
        self.projection = nn.Sequential(nn.Linear(dim, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True),
                                        nn.Linear(256, 128))
        self.classes = {task: list(names) for task, names in tasks.items()}
        self.classifiers = nn.ParameterDict(
            {task: nn.Parameter(torch.randn(len(names), dim) * 0.05) for task, names in tasks.items()}
        )
        self.emotion = nn.Linear(dim, EMOTION_OUTPUTS) if emotions else None


@dataclass
class Batch:
    index: np.ndarray
    views: torch.Tensor  # (2B, 1, n_mels, window)


class Trainer:
    def __init__(self, corpus: MelCorpus, train_idx: list[int], heldout_idx: list[int], config: TrainConfig,
                 log: Callable[[str], None] = print, val_idx: list[int] | None = None) -> None:
        if len(train_idx) < 2:
            raise UserError("need at least 2 training tracks")
        self.corpus, self.config, self.log = corpus, config, log
        self.train_idx, self.heldout_idx = list(train_idx), list(heldout_idx)
        self.val_idx = list(val_idx or [])
        self.by_group: dict[str, list[int]] = {}
        for i in self.train_idx:
            self.by_group.setdefault(corpus.tracks[i].group, []).append(i)
        self.best: dict[str, Any] | None = None  # {"step", "score", "model"} of the best validation epoch
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        random.seed(config.seed)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.device = torch.device(config.device)

        tasks: dict[str, list[str]] = {}
        for i in self.train_idx:
            for task, label in corpus.tracks[i].labels.items():
                tasks.setdefault(task, [])
                if label not in tasks[task]:
                    tasks[task].append(label)
        self.tasks = {task: sorted(names) for task, names in tasks.items()
                      if len(names) >= 2 and task not in config.skip_tasks}
        emotion_rows = [corpus.tracks[i].emotions for i in self.train_idx if corpus.tracks[i].emotions is not None]
        if emotion_rows:
            stacked = np.stack(emotion_rows)
            self.emotion_mean = torch.from_numpy(stacked.mean(axis=0)).float()
            self.emotion_std = torch.from_numpy(np.clip(stacked.std(axis=0), 1e-3, None)).float()
        self.model = AudioCNN(config.encoder).to(self.device)
        self.heads = Heads(config.encoder.dim, self.tasks, bool(emotion_rows)).to(self.device)
        params = list(self.model.parameters()) + list(self.heads.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        rng = np.random.default_rng(config.seed + 1)
        monitor = rng.permutation(self.train_idx)[:config.monitor_tracks]
        self.monitor_idx = sorted(int(i) for i in monitor)

    # ---- data -------------------------------------------------------------------------------------------
    def sample_index(self) -> np.ndarray:
        """Distinct training tracks; with the group loss on, drawn in pairs from one group where it can be."""
        size = min(self.config.batch, len(self.train_idx))
        if self.config.group_weight <= 0:
            return self.rng.choice(self.train_idx, size=size, replace=False)
        chosen: list[int] = []
        taken: set[int] = set()
        for i in self.rng.permutation(self.train_idx):
            if len(chosen) >= size:
                break
            if int(i) in taken:
                continue
            chosen.append(int(i))
            taken.add(int(i))
            mates = [j for j in self.by_group[self.corpus.tracks[int(i)].group] if j not in taken]
            if mates and len(chosen) < size:
                mate = int(mates[int(self.rng.integers(len(mates)))])
                chosen.append(mate)
                taken.add(mate)
        return np.asarray(chosen)

    def sample(self) -> Batch:
        index = self.sample_index()
        mels = [self.corpus.track_mel(int(i)) for i in index]
        window = self.config.encoder.window
        views = []
        for _ in range(2):
            crops = crop_batch(mels, window, self.gen, self.config.augment)
            views.append(augment(crops, self.gen, self.config.augment))
        return Batch(index, torch.cat(views).unsqueeze(1))

    # ---- losses -----------------------------------------------------------------------------------------
    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        views = batch.views.to(self.device)
        n = len(batch.index)
        z = self.model(views)
        projected = self.heads.projection(z)
        out = {"ssl": nt_xent(projected[:n], projected[n:], self.config.temperature)}
        unit = F.normalize(z, dim=1)
        tracks = [self.corpus.tracks[int(i)] for i in batch.index] * 2
        sup = []
        for task, names in self.heads.classes.items():
            rows = [k for k, t in enumerate(tracks) if t.labels.get(task) in names]
            if not rows:
                continue
            target = torch.tensor([names.index(tracks[k].labels[task]) for k in rows], device=self.device)
            weights = F.normalize(self.heads.classifiers[task], dim=1)
            sup.append(F.cross_entropy(self.config.cos_scale * unit[rows] @ weights.T, target))
        out["sup"] = torch.stack(sup).mean() if sup else z.new_zeros(())
        if self.config.group_weight > 0:
            groups = [t.group for t in tracks]
            out["group"] = group_contrastive(unit, groups, self.config.group_temperature)
        rows = [k for k, t in enumerate(tracks) if t.emotions is not None]
        if rows and self.heads.emotion is not None:
            target = torch.from_numpy(np.stack([tracks[k].emotions for k in rows])).float()
            target = ((target - self.emotion_mean) / self.emotion_std).to(self.device)
            out["emotion"] = F.mse_loss(self.heads.emotion(unit[rows]), target)
        else:
            out["emotion"] = z.new_zeros(())
        cfg = self.config
        out["total"] = out["ssl"] + cfg.sup_weight * out["sup"] + cfg.emotion_weight * out["emotion"]
        if "group" in out:
            out["total"] = out["total"] + cfg.group_weight * out["group"]
        return out

    def _lr(self) -> float:
        cfg = self.config
        if self.step < cfg.warmup:
            return cfg.lr * (self.step + 1) / cfg.warmup
        progress = (self.step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def train_step(self) -> dict[str, float]:
        self.model.train()
        self.heads.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        losses = self.losses(self.sample())
        if not torch.isfinite(losses["total"]):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {losses}")
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(list(self.model.parameters()) + list(self.heads.parameters()), 5.0)
        self.optimizer.step()
        self.step += 1
        return {name: float(value.detach()) for name, value in losses.items()}

    # ---- monitoring -------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_tracks(self, idx: list[int], max_windows: int) -> np.ndarray:
        """Clip vectors pooled over up to `max_windows` evenly spaced windows per track (eval mode)."""
        self.model.eval()
        window = self.config.encoder.window
        out = []
        for i in idx:
            mel = torch.from_numpy(np.asarray(self.corpus.track_mel(i), dtype=np.float32))
            if mel.shape[1] < window:
                mel = mel.repeat(1, -(-window // mel.shape[1]))[:, :window]
            starts = window_starts(mel.shape[1], window)
            if len(starts) > max_windows:
                starts = [starts[int(k)] for k in np.linspace(0, len(starts) - 1, max_windows).round()]
            crops = torch.stack([mel[:, s:s + window] for s in starts]).unsqueeze(1).to(self.device)
            out.append(pool_windows(self.model(crops).float().cpu()).numpy())
        return np.stack(out)

    @torch.no_grad()
    def monitor(self) -> dict[str, Any]:
        """Embedding spread on un-augmented centre crops of training tracks + held-out p@5 per label task."""
        self.model.eval()
        window = self.config.encoder.window
        crops = []
        for i in self.monitor_idx:
            mel = np.asarray(self.corpus.track_mel(i), dtype=np.float32)
            if mel.shape[1] < window:
                mel = np.tile(mel, (1, -(-window // mel.shape[1])))
            start = (mel.shape[1] - window) // 2
            crops.append(torch.from_numpy(np.ascontiguousarray(mel[:, start:start + window])))
        unit = F.normalize(self.model(torch.stack(crops).unsqueeze(1).to(self.device)).float().cpu(), dim=1)
        report: dict[str, Any] = {"spread": spread(unit)}
        if self.val_idx:
            val = self.heldout_precision(self.config.eval_windows, self.val_idx)
            report["val"] = val
            report["val_score"] = selection_score(val)
        if self.heldout_idx:
            report["heldout"] = self.heldout_precision(self.config.eval_windows)
        return report

    def heldout_precision(self, max_windows: int, idx: list[int] | None = None) -> dict[str, dict[str, float]]:
        """p@5 per label task among `idx` (default: the held-out tracks), with chance beside it."""
        idx = self.heldout_idx if idx is None else idx
        vectors = self.embed_tracks(idx, max_windows)
        out = {}
        tasks = sorted({task for i in idx for task in self.corpus.tracks[i].labels})
        for task in tasks:
            rows = [k for k, i in enumerate(idx) if task in self.corpus.tracks[i].labels]
            labels = [self.corpus.tracks[idx[k]].labels[task] for k in rows]
            if len(rows) >= 3 and len(set(labels)) >= 2:
                result = precision_at_k(vectors[rows], labels, (5,))
                out[task] = {"p@5": round(result["p@5"], 4), "chance": round(chance_precision(labels), 4),
                             "n": len(rows)}
        return out

    # ---- the loop ---------------------------------------------------------------------------------------
    def fit(self, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        cfg = self.config
        sums: dict[str, float] = {}
        count = 0
        started = time.perf_counter()
        while self.step < cfg.steps:
            for name, value in self.train_step().items():
                sums[name] = sums.get(name, 0.0) + value
            count += 1
            if self.step % cfg.steps_per_epoch == 0 or self.step == cfg.steps:
                record = {"epoch": len(self.history) + 1, "step": self.step,
                          "seconds": round(time.perf_counter() - started, 1), "lr": self._lr(),
                          "loss": {name: round(total / count, 4) for name, total in sums.items()},
                          **self.monitor()}
                score = record.get("val_score")
                if score is not None and (self.best is None or score > self.best["score"]):
                    self.best = {"step": self.step, "score": score,
                                 "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}}
                    record["best"] = True
                self.history.append(record)
                self.log(json.dumps(record))
                if on_epoch is not None:
                    on_epoch(record)
                sums, count = {}, 0
        return self.history

    # ---- checkpoints ------------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        return {
            "step": self.step, "model": self.model.state_dict(), "heads": self.heads.state_dict(),
            "optimizer": self.optimizer.state_dict(), "history": self.history, "tasks": self.tasks,
            "config": {**asdict(self.config), "encoder": asdict(self.config.encoder),
                       "augment": asdict(self.config.augment)},
            "generator": self.gen.get_state(), "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),  # dropout masks
            "best": self.best,
        }

    def save_checkpoint(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.checkpoint(), path)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["tasks"] != self.tasks:
            raise UserError(f"{path} was trained with other label tasks: {state['tasks']}")
        self.model.load_state_dict(state["model"])
        self.heads.load_state_dict(state["heads"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.history = int(state["step"]), list(state["history"])
        self.gen.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        self.best = state.get("best")

    def export_model(self) -> tuple[AudioCNN, int]:
        """(the model to ship, the step it is from): the best validation epoch's, else the last step's."""
        if self.best is None:
            return self.model, self.step
        model = AudioCNN(self.config.encoder)
        model.load_state_dict(self.best["model"])
        return model.eval(), int(self.best["step"])


def selection_score(precision: dict[str, dict[str, float]]) -> float:
    """One number to pick a checkpoint by: mean over label tasks of p@5 above chance, as a share of the room."""
    gains = [(r["p@5"] - r["chance"]) / max(1e-9, 1 - r["chance"]) for r in precision.values()]
    return round(float(np.mean(gains)), 4) if gains else float("nan")

