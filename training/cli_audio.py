"""Audio commands: descriptor statistics, song mood, demo catalogue, audio evaluation, KNN/embed benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodtape.core.audio.embedders import EMBEDDERS
from moodtape.core.config import Settings
from moodtape.training.cli_output import emit


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    stats = train.add_parser("descriptor-stats", help="standardisation statistics of the handcrafted descriptor")
    stats.add_argument("folder", type=Path, help="folder of freely licensed audio (searched recursively)")
    stats.add_argument("--out", type=Path, default=Path("core/data/descriptor_stats.json"))
    stats.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    stats.set_defaults(handler=_descriptor_stats)

    mood = train.add_parser("song-mood", help="fit and cross-validate the audio mood model on Emotify")
    mood.add_argument("--data", type=Path, required=True, help="the Emotify folder (tracks.csv, clips/)")
    mood.add_argument("--out", type=Path, default=None, help="write the model JSON here (e.g. core/data/song_mood.json)")
    mood.add_argument("--folds", type=int, default=5)
    mood.add_argument("--seed", type=int, default=0)
    mood.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    mood.add_argument("--text-reference", type=Path, default=None, metavar="FILE",
                      help="labelled messages (e.g. goemotions/train.tsv) whose mood spread the song moods are "
                           "calibrated to, so songs and chat messages share one scale")
    mood.add_argument("--text-format", default="goemotions-ekman",
                      help="layout of --text-reference (an `eval emotion --format` name)")
    mood.add_argument("--repeats", type=int, default=1,
                      help="also cross-validate with this many fold seeds and report mean/min/max per scale")
    mood.add_argument("--inputs", default="handcrafted.raw",
                      help="comma-separated feature blocks: handcrafted.raw, mtt.taggram, mtt.penultimate, "
                           "msd.taggram, msd.penultimate (default handcrafted.raw)")
    mood.add_argument("--json", action="store_true")
    mood.set_defaults(handler=_song_mood)

    demo = train.add_parser("demo", help="rebuild the bundled demo catalogue from Debian music")
    demo.add_argument("music", type=Path, help="OUTDIR of ../shared/scripts/fetch-debian-music.sh")
    demo.add_argument("--out", type=Path, default=Path("core/data/demo_catalogue.json"))
    demo.add_argument("--limit", type=int, default=None)
    demo.set_defaults(handler=_demo)

    audio = evaluate.add_parser(
        "audio", help="precision@k of same-label neighbours for every audio encoder",
        description="DATA is a folder, LABELS a CSV whose file column is relative to it.",
    )
    audio.add_argument("--data", type=Path, required=True)
    audio.add_argument("--labels", type=Path, required=True)
    audio.add_argument("--file-column", default="file")
    audio.add_argument("--label-column", default="label")
    audio.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    audio.add_argument("--encoder", type=Path, default=None,
                       help="learned encoder weights to measure (default: the shipped ones)")
    audio.add_argument("--probe-emotify", type=Path, default=None, metavar="DIR",
                       help="also cross-validate a valence/arousal ridge probe on this Emotify folder")
    audio.add_argument("--probe-csv", type=Path, default=None,
                       help="the probe's clip table (Emotify columns; default DIR/tracks.csv)")
    audio.add_argument("--json", action="store_true")
    audio.set_defaults(handler=_eval_audio)

    knn = bench.add_parser("knn", help="exact (sqlite-vec, faiss flat, NumPy) vs HNSW search: latency, recall@k, "
                                       "build time, bytes")
    knn.add_argument("--n", type=int, default=100_000, help="vectors in the table (default 100000)")
    knn.add_argument("--dim", type=int, default=128, help="their dimension: one of a store table's (128 or 64)")
    knn.add_argument("--k", type=int, default=10, help="neighbours per query (recall is measured at k)")
    knn.add_argument("--queries", type=int, default=100, help="queries timed one at a time per method")
    knn.add_argument("--seed", type=int, default=0, help="seed of the random vectors and queries")
    knn.add_argument("--clusters", type=int, default=1000, help="centres the random unit vectors gather around")
    knn.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                     help="sqlite: sqlite-vec, the usearch index, faiss and NumPy; postgres: pgvector's HNSW "
                          "(through PgStore.knn, with an ef_search sweep) beside sqlite-vec and NumPy")
    knn.add_argument("--database-url", default=None, metavar="URL",
                     help="with --backend postgres: the server to use (a throwaway database is made on it; "
                          "default MOODTAPE_DATABASE_URL, else a pgserver started for the run)")
    knn.add_argument("--ef-search", type=int, default=None,
                     help="with --backend postgres: hnsw.ef_search of PgStore (default: the store's default)")
    knn.add_argument("--json", action="store_true")
    knn.set_defaults(handler=_bench_knn)

    embed = bench.add_parser("embed", help="decode + embed throughput on a folder of audio")
    embed.add_argument("folder", type=Path)
    embed.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    embed.add_argument("--limit", type=int, default=None)
    embed.add_argument("--workers", type=int, default=1, help="tracks embedded concurrently")
    embed.add_argument("--encoder", choices=["default", *EMBEDDERS], default="default",
                       help="content embedder to time (default: the installation's default)")
    embed.add_argument("--json", action="store_true")
    embed.set_defaults(handler=_bench_embed)


def _descriptor_stats(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.descriptor_stats import build

    return emit(build(args.folder, args.out, cache_dir=args.cache), False)


def _song_mood(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.song_mood import run

    return emit(run(args.data, args.out, folds=args.folds, seed=args.seed, cache_dir=args.cache,
                     text_reference=args.text_reference, text_format=args.text_format,
                     inputs=tuple(n.strip() for n in args.inputs.split(",") if n.strip()),
                     repeats=args.repeats), args.json)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.demo_catalogue import build

    return emit(build(args.music, args.out, limit=args.limit), False)


def _eval_audio(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.eval_audio import evaluate

    result = evaluate(args.data, args.labels, file_column=args.file_column, label_column=args.label_column,
                      cache_dir=args.cache, encoder_path=args.encoder, probe_emotify=args.probe_emotify,
                      probe_csv=args.probe_csv)
    return emit(result, args.json)


def _bench_knn(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.bench import bench_knn, machine

    if args.backend == "postgres":
        from moodtape.training.bench_knn_pg import bench_knn_postgres

        result = bench_knn_postgres(args.n, args.dim, args.k, args.queries, args.seed, args.clusters,
                                    url=args.database_url, ef_search=args.ef_search)
        return emit({**result, "machine": machine()}, args.json)
    return emit(bench_knn(args.n, args.dim, args.k, args.queries, args.seed, args.clusters), args.json)


def _bench_embed(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.device import resolve_device
    from moodtape.training.bench import bench_embed

    device = resolve_device(args.device)
    return emit(bench_embed(args.folder, device=device, limit=args.limit, workers=args.workers,
                             settings=settings, encoder=args.encoder), args.json)
