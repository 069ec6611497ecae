"""What a `moodtape train audio` run leaves beside the weights: curves, held-out split CSVs, the model card."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from moodtape.training.audio_corpus import MelCorpus
from moodtape.training.plots import pyplot


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    """Training curves: the losses, the embedding spread, and held-out precision@5 per label task."""
    plt = pyplot()
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
