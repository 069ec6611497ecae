"""`moodtape eval title`: a playlist from its name alone, measured on held-out MPD playlists.

The cold-start task of the RecSys Challenge 2018 (its "title only" challenge set): the playlists of an MPD
file are split by a seeded shuffle into training playlists (names and tracks: the index is built from them,
as `moodtape import` would give the bots) and held-out ones, of which only the name is given.  Each method
ranks `--n` tracks per held-out name; R-precision and NDCG (the challenge's definitions, `cf_metrics`) are
averaged over the held-out playlists, next to the popularity baseline scored on the same cases.

Besides the method the bots use (`title`: words + character n-grams), its two halves are scored alone
(`title:words`, `title:chars`) so the value of the character n-grams is measured, not assumed, and so is
weighting songs by their position in the playlist (`title:position`).  The mood
blend is not part of this measurement: MPD tracks have no audio, hence no mood vectors.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.results import print_json

__all__ = ["METHODS", "add_commands", "evaluate_title", "split_names"]

#: Method -> options of `TitleIndex` (None: popularity).
METHODS: dict[str, dict[str, float] | None] = {
    "popularity": None,
    "title": {},
    "title:words": {"word_weight": 1.0},
    "title:chars": {"word_weight": 0.0},
    "title:position": {"position_scale": 50.0},
}


def split_names(playlists: list[dict[str, Any]], test_fraction: float, seed: int
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, held-out) playlists: a seeded shuffle by playlist, `test_fraction` of them held out."""
    if not 0 < test_fraction < 1:
        raise ValueError("the held-out share must be between 0 and 1")
    order = list(range(len(playlists)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(order) * test_fraction)) if len(order) > 1 else 0
    test = sorted(order[:n_test])
    train = sorted(order[n_test:])
    return [playlists[i] for i in train], [playlists[i] for i in test]


def evaluate_title(path: Path, *, test_fraction: float = 0.1, seed: int = 0, n: int = 500,
                   limit: int | None = None, methods: list[str] | None = None, tile: int = 0) -> dict[str, Any]:
    """Index the training names, rank `n` tracks per held-out name with each method, average the metrics.

    `tile` > 1 also times an index of the training playlists repeated `tile` times (each copy with track
    keys of its own, names unchanged but numbered), to show the speed a bot sees at that many playlists.
    """
    from moodtape.core.errors import UserError
    from moodtape.core.recommend.title import TitleIndex
    from moodtape.training.cf import read_playlists, track_keys
    from moodtape.training.cf_metrics import ndcg, r_precision

    chosen = methods or list(METHODS)
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    if n < 1:
        raise UserError("--n must be at least 1")
    if tile < 0:
        raise UserError("--tile must be 0 (off) or more")
    _, playlists = read_playlists(path)
    named = [p for p in playlists if isinstance(p.get("name"), str) and p["name"].strip() and track_keys(p)]
    if len(named) < 2:
        raise UserError(f"{path}: needs at least two named playlists with tracks (found {len(named)})")
    try:
        train, test = split_names(named, test_fraction, seed)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if limit is not None:
        test = test[:max(1, limit)]
    train_names = [p["name"] for p in train]
    train_tracks = [track_keys(p) for p in train]
    known = {key for tracks in train_tracks for key in tracks}
    cases = [(p["name"], set(track_keys(p))) for p in test]
    report: dict[str, Any] = {
        "file": str(path), "seed": seed, "test_fraction": test_fraction, "n": n,
        "playlists": {"train": len(train), "held_out": len(cases)},
        "tracks": {"train": len(known),
                   "held_out_share_known": round(statistics.fmean(len(t & known) / len(t) for _, t in cases), 4)},
        "methods": {},
    }
    indexes: dict[str, Any] = {}
    for method in chosen:
        options = METHODS[method]
        key = "default" if not options else repr(sorted(options.items()))
        if key not in indexes:
            began = time.perf_counter()
            indexes[key] = TitleIndex.build(train_names, train_tracks, **(options or {}))
            if key == "default":
                report["index"] = {"distinct_names": len(indexes[key].names),
                                   "build_s": round(time.perf_counter() - began, 3)}
        index = indexes[key]
        r_prec, gains, matched, seconds = [], [], 0, []
        for name, truth in cases:
            began = time.perf_counter()
            if options is None:
                ranked = index.popular(n)
            else:
                ranked = index.rank(name, n)
                matched += bool(index.matches(name, top=1))
            seconds.append(time.perf_counter() - began)
            r_prec.append(r_precision(truth, ranked))
            gains.append(ndcg(truth, ranked, cap=n))
        row: dict[str, Any] = {"r_precision": round(statistics.fmean(r_prec), 4),
                               "ndcg": round(statistics.fmean(gains), 4),
                               "query_ms_median": round(1000 * statistics.median(seconds), 3)}
        if options is not None:
            row["names_matched"] = round(matched / len(cases), 4)
        report["methods"][method] = row
    if tile > 1:
        report["scale"] = _time_at_scale(train_names, train_tracks, [name for name, _ in cases], tile, n)
    return report


def _time_at_scale(names: list[str], tracks: list[list[str]], queries: list[str], tile: int, n: int
                   ) -> dict[str, Any]:
    """Build time and median query time of an index of `tile` numbered copies of the training playlists."""
    from moodtape.core.recommend.title import TitleIndex

    big_names = [name if copy == 0 else f"{name} {copy}" for copy in range(tile) for name in names]
    big_tracks = [[f"{copy}:{key}" for key in keys] for copy in range(tile) for keys in tracks]
    began = time.perf_counter()
    index = TitleIndex.build(big_names, big_tracks)
    build_s = time.perf_counter() - began
    seconds = []
    for query in queries:
        began = time.perf_counter()
        index.rank(query, n)
        seconds.append(time.perf_counter() - began)
    return {"playlists": len(big_names), "distinct_names": len(index.names), "tracks": len(index.track_keys),
            "build_s": round(build_s, 3), "query_ms_median": round(1000 * statistics.median(seconds), 3),
            "query_ms_p95": round(1000 * sorted(seconds)[int(0.95 * (len(seconds) - 1))], 3)}


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    parser = evaluate.add_parser(
        "title", help="a playlist from its name alone vs popularity, on held-out playlists (R-precision, NDCG)",
        description="Splits the playlists of an MPD file (seeded, by playlist) into training playlists, whose "
                    "names and tracks build the title index, and held-out playlists given only their names; "
                    "ranks --n tracks per held-out name with each method and reports the mean R-precision and "
                    "NDCG (RecSys Challenge 2018 definitions) as JSON.",
    )
    parser.add_argument("--playlists", type=Path, required=True, help="MPD-format file (plain or gzipped)")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="share of playlists held out (0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    parser.add_argument("--n", type=int, default=500, help="tracks ranked per playlist (500, as the challenge)")
    parser.add_argument("--limit", type=int, default=None, help="score at most this many held-out playlists")
    parser.add_argument("--methods", default=None, help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--tile", type=int, default=0, metavar="N",
                        help="also time an index of the training playlists repeated N times (speed at scale)")
    parser.add_argument("--json", action="store_true", help="JSON (the output is JSON either way)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    print_json(evaluate_title(args.playlists, test_fraction=args.test_fraction, seed=args.seed, n=args.n,
                              limit=args.limit, methods=methods, tile=args.tile))
    return 0
