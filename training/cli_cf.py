"""Collaborative-filtering commands: `train cf`, `eval continuation` (and its reproducible split)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.results import print_json


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    cf = train.add_parser(
        "cf", help="fit collaborative vectors on the database's playlists and 👍/👎",
        description="Fits the chosen model on every playlist (and feedback) in the database and writes 64-d "
                    "vectors to the cf table, versioned; tracks with audio but no playlists get vectors "
                    "predicted from their sound when enough tracks have both. The scheduler does the same "
                    "periodically.",
    )
    cf.add_argument("--method", choices=["als", "dae", "itemknn"], default="als")
    cf.add_argument("--dims", type=int, default=64, help="vector size (the store keeps 64)")
    cf.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the autoencoder trains")
    cf.add_argument("--json", action="store_true")
    cf.set_defaults(handler=_train_cf)

    cont = evaluate.add_parser(
        "continuation", help="RecSys Challenge 2018 metrics of every collaborative method on held-out playlists",
        description="Fits every method (and a popularity baseline) on the --train MPD file, hides all but the "
                    "first --seeds tracks of each --test playlist, recommends 500 and reports R-precision, "
                    "NDCG and recommended-songs clicks. With --split FILE --out DIR it instead writes a "
                    "reproducible train/test split of FILE (by playlist) to DIR.",
    )
    cont.add_argument("--train", type=Path, help="MPD-format training file (plain or gzipped)")
    cont.add_argument("--test", type=Path, help="MPD-format file of held-out playlists")
    cont.add_argument("--seeds", type=int, default=5, help="tracks given per test playlist (default 5)")
    cont.add_argument("--methods", default=None,
                      help="comma-separated subset of popularity,itemknn,itemknn:vectors,als,als:vectors,dae,"
                           "dae:vectors (default: all of these), or als-numpy,als-numpy:vectors (the former "
                           "hand-written ALS, to compare with `implicit`'s in one run)")
    cont.add_argument("--param", action="append", default=[], metavar="GROUP.NAME=VALUE",
                      help="override a hyper-parameter, e.g. als.alpha=40 or dae.epochs=10 (repeatable)")
    cont.add_argument("--fraction", type=float, default=1.0,
                      help="train on this seeded random share of the training playlists (cost scaling)")
    cont.add_argument("--limit", type=int, default=None, help="evaluate at most this many test playlists")
    cont.add_argument("--seed", type=int, default=0, help="random seed (split, --fraction, model init)")
    cont.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    cont.add_argument("--split", type=Path, default=None, metavar="FILE", help="MPD file to split instead")
    cont.add_argument("--test-fraction", type=float, default=0.1, help="share of playlists held out by --split")
    cont.add_argument("--out", type=Path, default=None, help="folder for --split's train.json.gz and test.json.gz")
    cont.add_argument("--json", action="store_true")
    cont.set_defaults(handler=_eval_continuation)


class _PhaseBars:
    """A `progress(done, total, phase)` callback: one stderr bar per phase (fit, then scoring per method)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.phase = ""

    def __call__(self, done: int, total: int, phase: str) -> None:
        from tqdm import tqdm

        if phase != self.phase or self.bar is None:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=phase, file=sys.stderr, leave=False, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _emit(data: dict, as_json: bool) -> int:
    if as_json:
        print_json(data)
        return 0
    for key, value in data.items():
        if key == "methods":
            print(f"{'method':<18} {'R-prec':>7} {'NDCG':>7} {'clicks':>7} {'fit s':>8} {'fit MB':>8}")
            for name, row in value.items():
                print(f"{name:<18} {row['r_precision']:>7.4f} {row['ndcg']:>7.4f} {row['clicks']:>7.2f} "
                      f"{row['fit_s']:>8.1f} {row['fit_peak_mb']:>8.1f}")
        else:
            print(f"{key}: {value}")
    return 0


async def _train_cf(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.cf.refresh import refresh_cf
    from moodtape.core.errors import StorageError
    from moodtape.db.store import Store, StoreError

    try:
        store = await Store.open(settings.db_path)
    except StoreError as exc:  # the database cannot be used: say why, as `Engine.open` does
        raise StorageError(str(exc)) from exc
    try:
        report = await refresh_cf(store, method=args.method, dims=args.dims, device=args.device)
    finally:
        await store.close()
    return _emit(report, args.json)


def _eval_continuation(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.errors import UserError
    from moodtape.training.cf import DEFAULT_METHODS, evaluate_continuation, parse_params, split_mpd

    if args.split is not None:
        if args.out is None:
            raise UserError("--split needs --out DIR (outside the repository) for train.json.gz and test.json.gz")
        return _emit(split_mpd(args.split, args.out, test_fraction=args.test_fraction, seed=args.seed), args.json)
    if args.train is None or args.test is None:
        raise UserError("give --train FILE and --test FILE (or --split FILE --out DIR to make them)")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else list(DEFAULT_METHODS)
    bars = _PhaseBars()
    try:
        result = evaluate_continuation(
            args.train, args.test, n_seeds=args.seeds, methods=methods, params=parse_params(args.param),
            fraction=args.fraction, seed=args.seed, device=args.device, limit=args.limit, progress=bars,
        )
    finally:
        bars.close()
    return _emit(result, args.json)
