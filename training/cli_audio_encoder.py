"""`moodtape train audio`: train the learned audio encoder (self-supervised + supervised heads)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from moodtape.core.config import Settings
from moodtape.training.cli_output import emit


def _default_cache() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("moodtape")) / "audio_encoder"


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    audio = train.add_parser(
        "audio", help="train the learned audio encoder (contrastive + label heads) on log-mels",
        description="Trains on Debian game music (--debian, labels: game), Emotify (--emotify, labels: genre and "
                    "listener emotions) and any labelled folder (--data/--labels). A share of each source's "
                    "groups (games, artists) is held out and never trained on; their CSVs are written to OUT "
                    "for `moodtape eval audio`. Log-mels are computed once and cached.",
    )
    audio.add_argument("--debian", type=Path, action="append", default=None,
                       help="OUTDIR of fetch-debian-music.sh (manifest.csv); repeat for several")
    audio.add_argument("--emotify", type=Path, default=None, help="the Emotify folder (tracks.csv, clips/)")
    audio.add_argument("--data", type=Path, default=None, help="another labelled folder ...")
    audio.add_argument("--labels", type=Path, default=None, help="... and its CSV (file relative to --data)")
    audio.add_argument("--file-column", default="file")
    audio.add_argument("--label-column", default="label")
    audio.add_argument("--preset", choices=["short", "full"], default="short",
                       help="short: a few minutes on a CPU (a pipeline check); full: the shipped recipe")
    audio.add_argument("--steps", type=int, default=None)
    audio.add_argument("--batch", type=int, default=None, help="tracks per step (two crops each)")
    audio.add_argument("--lr", type=float, default=None)
    audio.add_argument("--seed", type=int, default=0)
    audio.add_argument("--sup-weight", type=float, default=None, help="weight of the label heads' loss")
    audio.add_argument("--emotion-weight", type=float, default=None,
                       help="weight of the listener-emotion regression (0 with --sup-weight 0: self-supervised only)")
    audio.add_argument("--group-weight", type=float, default=None,
                       help="weight of the same-group (game, artist, collection) contrastive loss; 0: off")
    audio.add_argument("--augment", choices=["full", "light", "production"], default="full",
                       help="augmentation strength (production: no gain, EQ, filter or compression)")
    audio.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    audio.add_argument("--skip-tasks", default="", help="comma-separated label tasks left out (e.g. game)")
    audio.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    audio.add_argument("--holdout-share", type=float, default=0.35,
                       help="share of each source's tracks held out (0.35 with seed 0: 3 of the 7 Debian games)")
    audio.add_argument("--holdout-games", default=None,
                       help="comma-separated Debian packages to hold out instead of a seeded choice")
    audio.add_argument("--holdout-from", type=Path, default=None,
                       help="hold out exactly the music of an earlier run's split.json (same test split)")
    audio.add_argument("--fold", default=None, metavar="I/K",
                       help="cross-validation by game: hold out the Debian games of fold I of K (e.g. 0/3); "
                            "games are dealt into folds by size, games under 8 tracks always train")
    audio.add_argument("--val-share", type=float, default=0.0,
                       help="share of the training groups kept out to pick the exported epoch by (0: last step)")
    audio.add_argument("--out", type=Path, default=None,
                       help="run folder, resumed if it holds a checkpoint (default: <user cache>/run)")
    audio.add_argument("--cache", type=Path, default=None, help="log-mel cache (default: the user cache dir)")
    audio.add_argument("--workers", type=int, default=None, help="decoding processes")
    audio.add_argument("--ship", action="store_true",
                       help="also copy the weights, model card and split into core/data/audio_encoder/")
    audio.add_argument("--init", choices=["scratch", "musicnn"], default="scratch",
                       help="scratch: the CNN encoder; musicnn: a projection head on the frozen musicnn, "
                            "trained self-supervised on the training split and measured against musicnn on "
                            "the test split (training/musicnn_head.py; uses --steps --batch --lr --seed "
                            "--augment --val-share)")
    audio.add_argument("--json", action="store_true")
    audio.set_defaults(handler=_train_audio)

    render = train.add_parser(
        "render-midi", help="render music21's score corpus to audio with FluidSynth (extra training music)",
        description="Renders a seeded sample of the music21 corpus (needs the `train` extra and the system "
                    "packages fluidsynth and fluid-soundfont-gm) with random General MIDI instruments per part "
                    "into OUT/audio/, and writes OUT/labels.csv (file, collection, ...) for "
                    "`moodtape train audio --data OUT --labels OUT/labels.csv --label-column collection`. "
                    "Resumes an interrupted render.",
    )
    render.add_argument("out", type=Path)
    render.add_argument("--pieces", type=int, default=400)
    render.add_argument("--per-collection", type=int, default=50, help="at most this many scores per collection")
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--max-seconds", type=float, default=60.0)
    render.set_defaults(handler=_render_midi)

    latency = bench.add_parser("encoder", help="latency of one clip through each content embedder")
    latency.add_argument("--seconds", type=float, default=30.0, help="clip length")
    latency.add_argument("--threads", type=int, default=1, help="torch threads (1: one core)")
    latency.add_argument("--repeats", type=int, default=10)
    latency.add_argument("--audio", type=Path, default=None, help="take the clip from this file (default: noise)")
    latency.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    latency.add_argument("--json", action="store_true")
    latency.set_defaults(handler=_bench_encoder)


def _parse_fold(text: str) -> tuple[int, int]:
    """'I/K' -> (I, K) with 0 <= I < K and K >= 2; anything else is a clear error."""
    from moodtape.core.errors import UserError

    index, sep, k = text.partition("/")
    if not sep or not index.strip().isdigit() or not k.strip().isdigit():
        raise UserError(f"--fold wants I/K such as 0/3, got {text!r}")
    i, n = int(index), int(k)
    if n < 2 or not 0 <= i < n:
        raise UserError(f"--fold {text}: need K >= 2 and 0 <= I < K")
    return i, n


def _train_audio(args: argparse.Namespace, settings: Settings) -> int:
    from importlib import resources

    from moodtape.core.device import resolve_device
    from moodtape.core.errors import UserError
    from moodtape.training.audio_run import run

    if (args.data is None) != (args.labels is None):
        raise UserError("--data and --labels go together")
    if not 0.0 <= args.holdout_share < 1.0:
        raise UserError("--holdout-share must be in [0, 1)")
    if not 0.0 <= args.val_share < 1.0:
        raise UserError("--val-share must be in [0, 1)")
    fold = _parse_fold(args.fold) if args.fold is not None else None
    if fold is not None and (args.holdout_games or args.holdout_from is not None):
        raise UserError("--fold chooses the held-out games itself: leave out --holdout-games and --holdout-from")
    if args.holdout_from is not None and not args.holdout_from.is_file():
        raise UserError(f"--holdout-from: {args.holdout_from} not found (an earlier run's split.json)")
    if args.threads is not None:
        import torch

        torch.set_num_threads(max(1, args.threads))
    if args.init == "musicnn":
        return _train_musicnn_head(args)
    from moodtape.training.audio_augment import AUGMENT_PRESETS

    overrides: dict[str, object] = {"seed": args.seed, "device": resolve_device(args.device),
                                    "skip_tasks": tuple(t.strip() for t in args.skip_tasks.split(",")
                                                        if t.strip())}
    overrides["augment"] = AUGMENT_PRESETS[args.augment]
    for name in ("steps", "batch", "lr", "sup_weight", "emotion_weight", "group_weight"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    extra = [(args.data, args.labels, args.file_column, args.label_column)] if args.data is not None else []
    ship = Path(str(resources.files("moodtape.core") / "data" / "audio_encoder")) if args.ship else None
    games = [g.strip() for g in args.holdout_games.split(",") if g.strip()] if args.holdout_games else None
    result = run(debian=args.debian, emotify=args.emotify, extra=extra,
                 out_dir=args.out or _default_cache() / "run",
                 cache_dir=args.cache or _default_cache(), preset=args.preset, overrides=overrides,
                 holdout_share=args.holdout_share, holdout_games=games, holdout_from=args.holdout_from, fold=fold,
                 val_share=args.val_share, ship=ship,
                 command="moodtape " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                 log=lambda line: print(line, file=sys.stderr, flush=True), workers=args.workers)
    return emit(result, args.json)


def _train_musicnn_head(args: argparse.Namespace) -> int:
    """`--init musicnn`: the head goes to --out only; the engine is not touched (it ships if it wins)."""
    from importlib import resources

    from moodtape.core.errors import UserError
    from moodtape.training.audio_augment import AUGMENT_PRESETS
    from moodtape.training.musicnn_head import run as run_head

    if args.data is not None or args.ship:
        raise UserError("--init musicnn trains on --emotify / --debian only and never ships: "
                        "leave out --data/--labels and --ship")
    if args.threads is None:  # the feature pass runs beside other work: one core unless told otherwise
        import torch

        torch.set_num_threads(1)
    shipped = resources.files("moodtape.core") / "data" / "audio_encoder" / "split.json"
    result = run_head(debian=args.debian, emotify=args.emotify,
                      out_dir=args.out or _default_cache() / "musicnn_head",
                      cache_dir=args.cache or _default_cache(),
                      holdout_from=args.holdout_from or Path(str(shipped)),
                      augment=AUGMENT_PRESETS[args.augment], seed=args.seed, steps=args.steps,
                      batch=args.batch, lr=args.lr, val_share=args.val_share,
                      command="moodtape " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    return emit(result, args.json)


def _render_midi(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.errors import UserError

    try:
        from moodtape.training.audio_render import render_corpus

        labels = render_corpus(args.out, pieces=args.pieces, per_collection=args.per_collection, seed=args.seed,
                               max_s=args.max_seconds, log=lambda line: print(line, file=sys.stderr, flush=True))
    except ModuleNotFoundError as exc:
        raise UserError(f"{exc.name} is missing: pip install 'moodtape[train]'") from exc
    print(labels)
    return 0


def _bench_encoder(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.results import print_json
    from moodtape.core.device import resolve_device
    from moodtape.training.bench import bench_encoder_latency

    result = bench_encoder_latency(seconds=args.seconds, threads=args.threads, repeats=args.repeats,
                                   audio=args.audio, device=resolve_device(args.device))
    if args.json:
        print_json(result)
    else:
        for name, figures in result["encoders"].items():
            print(f"{name}: median {figures['median_ms']:.1f} ms for {result['clip_seconds']} s "
                  f"({result['threads']} thread(s))")
    return 0
