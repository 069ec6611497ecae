"""`moodtape train audio` end to end: build the corpus, split it by group, train, write everything a run leaves."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moodtape.core.audio.encoder import save_encoder
from moodtape.core.errors import UserError
from moodtape.training.audio import PRESETS, Trainer, TrainConfig
from moodtape.training.audio_corpus import (
    MelCorpus, debian_tracks, emotify_tracks, folder_tracks, game_folds, groups_from_split, load_mels,
    merge_corpora, split_groups, validation_groups,
)
from moodtape.training.audio_report import model_card, plot_history, write_split_csvs


def build_corpus(*, debian: Path | list[Path] | None, emotify: Path | None,
                 extra: list[tuple[Path, Path, str, str]] | None, config: TrainConfig, cache_dir: Path | None,
                 workers: int | None) -> MelCorpus:
    """Every source's tracks with their log-mels; each source folder is cached on its own, so adding a
    source to a later run reuses the log-mels of the others."""
    parts = []
    for music_dir in ([debian] if isinstance(debian, Path) else debian or []):
        parts.append(debian_tracks(music_dir))
    if emotify is not None:
        parts.append(emotify_tracks(emotify))
    for data_dir, labels_csv, file_column, label_column in extra or []:
        parts.append(folder_tracks(data_dir, labels_csv, file_column, label_column))
    parts = [p for p in parts if p]
    if not parts:
        raise UserError("no training data: give --debian, --emotify and/or --data with --labels")
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
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = TrainConfig(**{**PRESETS[preset], **(overrides or {})})
    corpus = build_corpus(debian=debian, emotify=emotify, extra=extra, config=config, cache_dir=cache_dir,
                          workers=workers)
    if holdout_from is not None:
        held = groups_from_split(corpus.tracks, json.loads(holdout_from.read_text(encoding="utf-8")))
    else:
        if fold is not None:
            index, k = fold
            try:
                holdout_games = game_folds(corpus.tracks, k)[index]
            except ValueError as exc:  # too few sizeable games for K folds: the person asked for too many
                raise UserError(str(exc)) from exc
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
