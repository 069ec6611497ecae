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

import csv
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

from core.audio.encoder import AudioCNN, EncoderConfig, pool_windows, save_encoder, window_starts
from training.audio_augment import AugmentConfig, augment, crop_batch
from training.audio_corpus import EMOTION_OUTPUTS, MelCorpus
from training.retrieval_metrics import chance_precision, precision_at_k

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


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss for N positive pairs (a[i], b[i]); the other 2N - 2 views are the negatives."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = a.shape[0]
    sims = z @ z.T / temperature
    sims.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sims, targets)


def group_contrastive(unit: torch.Tensor, groups: list[str], temperature: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020): every other view of the same group is a positive.

    Anchors without a positive in the batch add nothing; a batch with none at all gives 0.
    """
    n = unit.shape[0]
    codes = {g: k for k, g in enumerate(dict.fromkeys(groups))}
    ids = torch.tensor([codes[g] for g in groups], device=unit.device)
    eye = torch.eye(n, dtype=torch.bool, device=unit.device)
    positive = (ids.unsqueeze(0) == ids.unsqueeze(1)) & ~eye
    sims = (unit @ unit.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    counts = positive.sum(dim=1)
    has = counts > 0
    if not bool(has.any()):
        return unit.new_zeros(())
    mean_pos = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[has] / counts[has]
    return -mean_pos.mean()


def spread(unit: torch.Tensor) -> dict[str, float]:
    """Collapse monitor on unit vectors: mean per-dimension std and mean pairwise cosine (others only)."""
    n = unit.shape[0]
    sims = unit @ unit.T
    off = (sims.sum() - sims.diagonal().sum()) / max(1, n * (n - 1))
    return {"dim_std": float(unit.std(dim=0).mean()), "mean_cos": float(off)}


@dataclass
class Batch:
    index: np.ndarray
    views: torch.Tensor  # (2B, 1, n_mels, window)


class Trainer:
    def __init__(self, corpus: MelCorpus, train_idx: list[int], heldout_idx: list[int], config: TrainConfig,
                 log: Callable[[str], None] = print, val_idx: list[int] | None = None) -> None:
        if len(train_idx) < 2:
            raise ValueError("need at least 2 training tracks")
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
            raise ValueError(f"{path} was trained with other label tasks: {state['tasks']}")
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


# ---- reports ----------------------------------------------------------------------------------------------

def selection_score(precision: dict[str, dict[str, float]]) -> float:
    """One number to pick a checkpoint by: mean over label tasks of p@5 above chance, as a share of the room."""
    gains = [(r["p@5"] - r["chance"]) / max(1e-9, 1 - r["chance"]) for r in precision.values()]
    return round(float(np.mean(gains)), 4) if gains else float("nan")


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    """Training curves: the losses, the embedding spread, and held-out precision@5 per label task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in history[0]["loss"]:
        axes[0].plot(steps, [h["loss"][name] for h in history], label=name)
    axes[0].set_title("training losses (epoch means)")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[1].plot(steps, [h["spread"]["dim_std"] for h in history], label="per-dim std of unit vectors")
    axes[1].plot(steps, [h["spread"]["mean_cos"] for h in history], label="mean pairwise cosine")
    axes[1].axhline(1 / math.sqrt(128), color="grey", linestyle=":", label="1/sqrt(128)")
    axes[1].set_title("embedding spread (collapse monitor)")
    axes[1].set_xlabel("step")
    axes[1].legend()
    tasks = sorted({task for h in history for task in h.get("heldout", {})})
    for task in tasks:
        axes[2].plot(steps, [h.get("heldout", {}).get(task, {}).get("p@5", float("nan")) for h in history],
                     label=f"{task} p@5")
        chance = next((h["heldout"][task]["chance"] for h in history if task in h.get("heldout", {})), None)
        if chance is not None:
            axes[2].axhline(chance, linestyle=":", color=axes[2].lines[-1].get_color())
    for task in sorted({task for h in history for task in h.get("val", {})}):
        axes[2].plot(steps, [h.get("val", {}).get(task, {}).get("p@5", float("nan")) for h in history],
                     linestyle="--", label=f"validation {task} p@5")
    best = [h["step"] for h in history if h.get("best")]
    if best:
        axes[2].axvline(best[-1], color="black", linewidth=0.8, label="exported (best validation)")
    axes[2].set_title("held-out p@5 (dotted: chance; never used to select)")
    axes[2].set_xlabel("step")
    if tasks or best:
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_split_csvs(corpus: MelCorpus, heldout_idx: list[int], out_dir: Path) -> dict[str, str]:
    """One CSV per source of the held-out tracks, for `moodtape eval audio`.

    The rows keep the source's own columns and gain `abs_path`, the file's absolute path: tracks of several
    `--debian` folders have paths relative to different folders, and `--file-column abs_path` finds them all
    whatever `--data` says.
    """
    written = {}
    for source in sorted({corpus.tracks[i].source for i in heldout_idx}):
        tracks = [corpus.tracks[i] for i in heldout_idx if corpus.tracks[i].source == source]
        if not tracks or not tracks[0].row:
            continue
        rows = [{**t.row, "abs_path": str(t.path.resolve())} for t in tracks]
        path = out_dir / f"heldout_{source}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        written[source] = str(path)
    return written


def model_card(summary: dict[str, Any]) -> str:
    """The model card shipped next to the weights: what it was trained on, how it was split and measured."""
    split = summary["split"]
    lines = [
        f"# Moodtape learned audio encoder `{summary['version']}`",
        "",
        "A compact CNN over 64-band log-mel windows of ~3 s (22,050 Hz, FFT 2048, hop 512); a clip's vector is",
        "the normalised mean of its windows' unit vectors (128-d, cosine). "
        f"{summary['parameters']:,} parameters, float32 safetensors.",
        "",
        "## Training",
        f"- Command: `{summary['command']}`",
        f"- Recipe: {summary['config']['steps']} steps of {summary['config']['batch']} tracks x 2 augmented crops, "
        f"AdamW lr {summary['config']['lr']}, seed {summary['config']['seed']}, device {summary['config']['device']}, "
        f"{summary['train_seconds'] / 60:.1f} min.",
        "- Losses: NT-Xent between two augmented crops of a track (temperature "
        f"{summary['config']['temperature']}); cosine-softmax heads for the labels "
        f"({', '.join(t for t in summary['tasks'] if t != 'emotion') or 'none'})"
        + ("; regression of Emotify's listener emotions (valence, arousal, 9 GEMS)" if "emotion" in summary["tasks"]
           else "")
        + (f"; same-group supervised contrastive loss (weight {summary['config']['group_weight']}, groups: game, "
           "artist, rendered collection)." if summary["config"].get("group_weight", 0) > 0 else "."),
        "- Augmentations on log-mels: gain, EQ and low/high-pass, reverb tail, compression, pitch shift, time stretch,",
        "  mixing with another clip, time/frequency masking.",
        "",
        "## Data and split",
    ]
    for source, info in summary["data"].items():
        lines.append(f"- {source}: {info['train']} training tracks, {info.get('validation', 0)} validation "
                     f"({info.get('validation_groups', 0)} groups), {info['heldout']} held out "
                     f"({info['heldout_groups']} of {info['groups']} groups).")
    lines += [
        f"- Held out by group, never by clip: Debian games {', '.join(split['debian_games']) or 'none'}; "
        f"Emotify artists of {len(split['emotify_track_ids'])} clips (track ids in `split.json`), chosen by seed "
        f"{summary['config']['seed']}.",
        "",
        f"- Exported weights: step {summary['exported_step']} of {summary['config']['steps']}, chosen by "
        + ("precision@5 on the validation groups (carved from the training groups; the held-out groups never "
           "chose anything)." if summary["selected_by"] == "validation" else "the last step."),
        "",
        "## Held-out results (precision@5 of same-label neighbours at the exported step, <= 8 windows per track)",
    ]
    for task, result in summary["final"].get("heldout", {}).items():
        lines.append(f"- {task}: p@5 {result['p@5']:.3f} (chance {result['chance']:.3f}, n {result['n']})")
    lines += [
        "",
        "`moodtape eval audio` measures the shipped weights beside the handcrafted baseline (see the README).",
        "",
        "## Licence of the weights",
        "Trained on Emotify (Aljanaki, Wiering & Veltkamp 2016; Magnatune music; research / non-commercial use",
        "only) and on GPL-2+/GPL-3+/CC-BY-SA game music from Debian packages. The weights are a model fitted to",
        "that audio, not the audio itself, but because Emotify's terms are non-commercial, these weights should",
        "be treated as research / non-commercial too: a commercial deployment must retrain on music it may use",
        "(`moodtape train audio` without `--emotify`). Whether model weights are derivative works of GPL / CC-BY-SA",
        "training audio is unsettled; we credit the Debian packages' authors here as attribution.",
    ]
    return "\n".join(lines) + "\n"


def build_corpus(*, debian: Path | list[Path] | None, emotify: Path | None,
                 extra: list[tuple[Path, Path, str, str]] | None, config: TrainConfig, cache_dir: Path | None,
                 workers: int | None) -> MelCorpus:
    """Every source's tracks with their log-mels; each source folder is cached on its own, so adding a
    source to a later run reuses the log-mels of the others."""
    from training.audio_corpus import debian_tracks, emotify_tracks, folder_tracks, load_mels, merge_corpora

    parts = []
    for music_dir in ([debian] if isinstance(debian, Path) else debian or []):
        parts.append(debian_tracks(music_dir))
    if emotify is not None:
        parts.append(emotify_tracks(emotify))
    for data_dir, labels_csv, file_column, label_column in extra or []:
        parts.append(folder_tracks(data_dir, labels_csv, file_column, label_column))
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError("no training data: give --debian, --emotify and/or --data with --labels")
    return merge_corpora([load_mels(p, config.encoder, cache_dir=cache_dir, workers=workers) for p in parts])


def run(*, debian: Path | list[Path] | None, emotify: Path | None,
        extra: list[tuple[Path, Path, str, str]] | None = None, out_dir: Path, cache_dir: Path | None,
        preset: str = "full", overrides: dict[str, Any] | None = None, holdout_share: float = 0.3,
        holdout_games: list[str] | None = None, holdout_from: Path | None = None,
        fold: tuple[int, int] | None = None, val_share: float = 0.0,
        ship: Path | None = None, command: str = "", log: Callable[[str], None] = print,
        workers: int | None = None) -> dict[str, Any]:
    """Build the corpus, split it by group, train, and write weights, checkpoint, plot, card and summary.

    `holdout_from` (an earlier run's split.json) holds out exactly that run's music, so two recipes are
    measured on the same tracks even when one of them trains on more sources.  `fold` = (i, k) holds out
    the Debian games of fold i of k (`game_folds`) for cross-validation by game.
    """
    from training.audio_corpus import game_folds, groups_from_split, split_groups, validation_groups

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = TrainConfig(**{**PRESETS[preset], **(overrides or {})})
    corpus = build_corpus(debian=debian, emotify=emotify, extra=extra, config=config, cache_dir=cache_dir,
                          workers=workers)
    if holdout_from is not None:
        held = groups_from_split(corpus.tracks, json.loads(holdout_from.read_text(encoding="utf-8")))
    else:
        if fold is not None:
            index, k = fold
            holdout_games = game_folds(corpus.tracks, k)[index]
        fixed = {"debian": holdout_games} if holdout_games is not None else None
        held = split_groups(corpus.tracks, holdout_share=holdout_share, seed=config.seed, fixed=fixed)
    training_groups = {t.group for t in corpus.tracks if t.group not in held}
    val_groups = validation_groups(corpus.tracks, training_groups, share=val_share, seed=config.seed)
    train_idx = [i for i, t in enumerate(corpus.tracks) if t.group not in held and t.group not in val_groups]
    val_idx = [i for i, t in enumerate(corpus.tracks) if t.group in val_groups]
    heldout_idx = [i for i, t in enumerate(corpus.tracks) if t.group in held]

    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(corpus, train_idx, heldout_idx, config, log=log, val_idx=val_idx)
    log(json.dumps({"train_tracks": len(train_idx), "val_tracks": len(val_idx), "heldout_tracks": len(heldout_idx),
                    "tasks": trainer.tasks, "device": config.device, "steps": config.steps, "batch": config.batch}))
    checkpoint = out_dir / "checkpoint.pt"
    if checkpoint.exists():
        trainer.load_checkpoint(checkpoint)
        log(f"resumed from {checkpoint} at step {trainer.step}")
    started = time.perf_counter()

    def on_epoch(_: dict[str, Any]) -> None:
        trainer.save_checkpoint(checkpoint)
        plot_history(trainer.history, out_dir / "training_curves.png")

    trainer.fit(on_epoch)
    train_seconds = time.perf_counter() - started
    trainer.model.cpu()
    exported, exported_step = trainer.export_model()
    weights = out_dir / "encoder.safetensors"
    version = save_encoder(exported.cpu(), weights, {"trained_steps": str(exported_step)})
    trainer.model.to(trainer.device)
    final = next((h for h in trainer.history if h["step"] == exported_step), None)
    if final is None:
        final = trainer.history[-1] if trainer.history else trainer.monitor()

    data: dict[str, dict[str, int]] = {}
    for source in sorted({t.source for t in corpus.tracks}):
        idx = [i for i, t in enumerate(corpus.tracks) if t.source == source]
        groups = {corpus.tracks[i].group for i in idx}
        data[source] = {"train": sum(1 for i in idx if i in set(train_idx)),
                        "validation": sum(1 for i in idx if i in set(val_idx)),
                        "heldout": sum(1 for i in idx if i in set(heldout_idx)),
                        "groups": len(groups), "heldout_groups": len(groups & held),
                        "validation_groups": len(groups & val_groups)}
    split = {
        "seed": config.seed,
        "debian_games": sorted({corpus.tracks[i].group for i in heldout_idx
                                if corpus.tracks[i].source == "debian"}),
        "emotify_track_ids": sorted(int(corpus.tracks[i].row["track_id"]) for i in heldout_idx
                                    if corpus.tracks[i].source == "emotify"),
        "other_groups": sorted({corpus.tracks[i].group for i in heldout_idx
                                if corpus.tracks[i].source not in ("debian", "emotify")}),
        "validation_groups": sorted(val_groups),
        **({"fold": list(fold)} if fold is not None else {}),
    }
    summary = {
        "version": version, "weights": str(weights),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "weights_bytes": weights.stat().st_size, "command": command, "train_seconds": round(train_seconds, 1),
        "exported_step": exported_step, "selected_by": "validation" if trainer.best is not None else "last step",
        "config": {**asdict(config), "encoder": asdict(config.encoder), "augment": asdict(config.augment)},
        "tasks": sorted(trainer.tasks) + (["emotion"] if trainer.heads.emotion is not None else []),
        "data": data, "split": split, "final": final, "split_csvs": write_split_csvs(corpus, heldout_idx, out_dir),
    }
    (out_dir / "split.json").write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(model_card(summary), encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    if trainer.history:
        plot_history(trainer.history, out_dir / "training_curves.png")
    if ship is not None:
        import shutil

        ship.mkdir(parents=True, exist_ok=True)
        for name in ("encoder.safetensors", "MODEL_CARD.md", "split.json"):
            shutil.copyfile(out_dir / name, ship / name)
        summary["shipped_to"] = str(ship)
    return {"version": version, "out": str(out_dir), "exported_step": exported_step, "final": final, "data": data,
            "train_seconds": summary["train_seconds"], "split_csvs": summary["split_csvs"],
            **({"shipped_to": str(ship)} if ship is not None else {})}
