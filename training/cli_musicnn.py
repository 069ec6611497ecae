"""`moodtape train import-musicnn` (convert the pretrained musicnn weights) and `moodtape bench musicnn` (speed)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from moodtape.core.config import Settings
from moodtape.training.cli_output import emit


def _package_dir() -> Path:
    """core/data/musicnn of this checkout / installation."""
    from moodtape.core.audio.musicnn import weights_dir

    return weights_dir()


def add_commands(
    train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction, bench: argparse._SubParsersAction
) -> None:
    imp = train.add_parser(
        "import-musicnn",
        help="convert musicnn's pretrained TensorFlow checkpoints to safetensors (no TensorFlow)",
        description="Reads MTT_musicnn and MSD_musicnn from the musicnn 0.1.0 wheel (pip download musicnn==0.1.0 "
        "--no-deps) or its unpacked folder, and writes float16 safetensors, musicnn.json (tags, hashes) "
        "and MODEL_CARD.md (provenance, ISC licence) into OUT (default: the package's data folder).",
    )
    imp.add_argument("source", type=Path, metavar="WHEEL_OR_DIR")
    imp.add_argument("--out", type=Path, default=None, help="output folder (default: core/data/musicnn)")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=_import)

    emb = train.add_parser(
        "musicnn-embedding",
        help="choose and fit the musicnn content vector on dev music; measure it on held-out music",
        description="Analyses every clip as ingestion does (cached per file), fits each candidate mix of musicnn "
        "blocks (with and without the handcrafted descriptor) on the dev groups of --split, picks the best by "
        "dev precision@5 (Emotify genre, Debian game), and reports it beside the handcrafted descriptor on the "
        "held-out groups. --out writes embedding.json + embedding.safetensors (default: report only).",
    )
    emb.add_argument("--emotify", type=Path, default=None, help="the Emotify folder (tracks.csv, clips/)")
    emb.add_argument("--debian", type=Path, default=None, help="OUTDIR of fetch-debian-music.sh (manifest.csv)")
    emb.add_argument("--split", type=Path, default=Path("core/data/audio_encoder/split.json"),
                     help="held-out groups (default: the audio encoder's split.json)")
    emb.add_argument("--out", type=Path, default=None, help="write the spec here (e.g. core/data/musicnn)")
    emb.add_argument("--cache", type=Path, default=None, help="cache folder for per-file analyses")
    emb.add_argument("--workers", type=int, default=1, help="processes analysing clips (default 1)")
    emb.add_argument("--max-patches", type=int, default=8,
                     help="3 s patches analysed per track, spread over the excerpt; ingestion follows the spec (8)")
    emb.add_argument("--json", action="store_true")
    emb.set_defaults(handler=_embedding)

    ev = evaluate.add_parser(
        "musicnn",
        help="genre precision@k and valence/arousal probes of musicnn layers vs the handcrafted descriptor",
        description="On the Emotify folder (tracks.csv, clips/): every musicnn layer of both models, their mixes, "
        "and each with the handcrafted descriptor, measured side by side. Reports numbers; changes no default.",
    )
    ev.add_argument("--emotify", type=Path, required=True, help="the Emotify folder (tracks.csv, clips/)")
    ev.add_argument("--max-patches", type=int, default=None, help="3 s patches per clip (default: all)")
    ev.add_argument("--window", type=float, default=None, help="seconds decoded from the middle (default: all)")
    ev.add_argument("--cache", type=Path, default=None, help="cache folder for per-file vectors")
    ev.add_argument("--workers", type=int, default=None, help="processes for the handcrafted descriptor")
    ev.add_argument("--threads", type=int, default=1, help="torch CPU threads for musicnn (default 1)")
    ev.add_argument("--no-probe", action="store_true", help="skip the valence/arousal ridge probes")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=_evaluate)

    bn = bench.add_parser(
        "musicnn",
        help="musicnn clips/s on 30 s clips: one CPU core end to end (decode included), and CUDA",
        description="Writes --clips synthetic 30 s clips (or takes --audio files), then times decode + log-mel + "
        "network per clip on one CPU thread, and batched patches on CUDA when there is a GPU.",
    )
    bn.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    bn.add_argument("--clips", type=int, default=6, help="synthetic clips to time (default 6)")
    bn.add_argument("--audio", type=Path, nargs="*", default=None, help="time these files instead")
    bn.add_argument(
        "--max-patches",
        type=int,
        default=None,
        help="analyse at most this many 3 s patches per clip (default: all, as musicnn does)",
    )
    bn.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: clips/s per core)")
    bn.add_argument(
        "--device", choices=["cpu", "cuda", "both"], default="both", help="both: CPU, and CUDA when available"
    )
    bn.add_argument("--json", action="store_true")
    bn.set_defaults(handler=_bench)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.musicnn_import import import_musicnn

    out = args.out or _package_dir()
    command = "moodtape train import-musicnn " + shlex.quote(args.source.name)
    result = import_musicnn(args.source, out, command)
    return emit(result, args.json)


def _embedding(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.musicnn_embedding import run

    return emit(run(args.emotify, args.debian, args.split, out=args.out, cache_dir=args.cache,
                    workers=args.workers, max_patches=args.max_patches, log=sys.stderr), args.json)


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.eval_musicnn import evaluate_musicnn

    result = evaluate_musicnn(args.emotify, max_patches=args.max_patches, window_s=args.window,
                              cache_dir=args.cache, workers=args.workers, probe=not args.no_probe,
                              threads=args.threads, log=sys.stderr)
    return emit(result, args.json)


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.bench_musicnn import bench_musicnn

    result = bench_musicnn(
        model=args.model,
        clips=args.clips,
        audio=args.audio,
        max_patches=args.max_patches,
        threads=args.threads,
        device=args.device,
        log=sys.stderr,
    )
    return emit(result, args.json)
