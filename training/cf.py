"""Collaborative models trained and measured offline: `moodtape train cf`, `moodtape eval continuation`.

The evaluation follows the RecSys Challenge 2018 protocol on MPD-format files: every method (and a
popularity baseline) is fitted on the train file alone, each test playlist is cut after its first N tracks,
and the methods recommend 500 tracks (seeds excluded) that are scored against the hidden rest.  Items are
track URIs, as in the challenge.  A test playlist whose seeds are all unknown to the train file gets the
popularity ranking from every method (nothing collaborative can be said about it); how often that happens
is reported.

"<method>:vectors" rows measure what the running engine does with the 64-d unit vectors it stores in
`vec_cf`: rank tracks by cosine to the normalised mean of the seeds' vectors (`core.continuation`).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from moodtape.core.cf.als import ALSModel, fit_als
from moodtape.core.cf.dae import fit_dae
from moodtape.core.cf.itemknn import ItemKNN
from moodtape.core.cf.matrix import from_playlists
from moodtape.core.errors import UserError
from moodtape.core.pipeline.importer import read_mpd
from moodtape.core.text import match_key
from moodtape.core.vectors import unit
from moodtape.training.als_numpy import fit_als_numpy
from moodtape.training.cf_metrics import clicks, ndcg, r_precision

Progress = Callable[[int, int, str], None]

METHODS = ("popularity", "itemknn", "itemknn:vectors", "als", "als:vectors", "als-numpy", "als-numpy:vectors", "dae",
           "dae:vectors")
#: What runs when no --methods is given: the numpy ALS is a reference, asked for by name.
DEFAULT_METHODS = tuple(m for m in METHODS if not m.startswith("als-numpy"))

#: Defaults chosen on a validation split carved from the training part (see README / report).
DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "itemknn": {"alpha": 1.0},
    "als": {"factors": 64, "regularization": 30.0, "alpha": 40.0, "iterations": 15},
    # the hand-written numpy solver the engine used before `implicit`: the reference for side-by-side runs
    "als-numpy": {"factors": 64, "regularization": 30.0, "alpha": 40.0, "iterations": 15},
    "dae": {"dims": 64, "dropout": 0.8, "masked_weight": 20.0, "epochs": 30, "lr": 2e-3, "batch_size": 128,
            "sampled": 16384, "threads": 1},
}


# ---------------------------------------------------------------------------------------------- MPD files
def read_playlists(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(info, playlists that have a track list) of an MPD slice, read by the importer's reader."""
    mpd = read_mpd(path)
    return mpd.info, [p for p in mpd.playlists if isinstance(p, dict) and isinstance(p.get("tracks"), list)]


def track_keys(playlist: dict[str, Any]) -> list[str]:
    """The playlist's tracks in order, by URI (by normalised artist + title where a URI is missing)."""
    keys = []
    for entry in playlist["tracks"]:
        if not isinstance(entry, dict):
            continue
        uri = entry.get("track_uri")
        if uri:
            keys.append(str(uri))
        elif entry.get("track_name"):
            keys.append("key:" + match_key(entry.get("artist_name"), str(entry["track_name"])))
    return keys


def _inside_checkout(path: Path) -> bool:
    root = Path(__file__).resolve().parents[1]
    return (root / ".git").exists() and path.resolve().is_relative_to(root)


def split_mpd(path: Path, out_dir: Path, *, test_fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Write OUT/train.json.gz and OUT/test.json.gz: a seeded random split by playlist (never both sides).

    Refuses to write inside this checkout: MPD data is research-only and must not end up in the repository.
    """
    if not 0.0 < test_fraction < 1.0:
        raise UserError("--test-fraction must be between 0 and 1")
    if _inside_checkout(out_dir):
        raise UserError(f"{out_dir} is inside the Moodtape checkout; write MPD splits elsewhere (research-only data)")
    info, playlists = read_playlists(path)
    order = list(range(len(playlists)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(playlists) * test_fraction))
    if n_test >= len(playlists):
        raise UserError(f"{path.name}: {len(playlists)} playlist(s) are too few to split")
    test_ids = set(order[:n_test])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for part in ("train", "test"):
        chosen = [p for i, p in enumerate(playlists) if (i in test_ids) == (part == "test")]
        meta = {**info, "split": part, "split_of": path.name, "test_fraction": test_fraction, "seed": seed,
                "num_playlists": len(chosen)}
        target = out_dir / f"{part}.json.gz"
        with gzip.open(target, "wt", encoding="utf-8") as handle:
            json.dump({"info": meta, "playlists": chosen}, handle)
        written[part] = {"file": str(target), "playlists": len(chosen),
                         "entries": sum(len(p["tracks"]) for p in chosen)}
    return {"source": str(path), "test_fraction": test_fraction, "seed": seed, **written}


# ---------------------------------------------------------------------------------------------- measuring
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


@dataclass
class Usage:
    seconds: float = 0.0
    peak_mb: float = 0.0  # peak resident memory above the level at the start


@contextmanager
def measure() -> Iterator[Usage]:
    """Wall time and peak RSS growth of a block (RSS sampled every 20 ms: numpy and torch alike)."""
    usage = Usage()
    base = _rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        yield usage
    finally:
        usage.seconds = time.perf_counter() - start
        stop.set()
        thread.join()
        peak[0] = max(peak[0], _rss_bytes())
        usage.peak_mb = (peak[0] - base) / 2**20


# ---------------------------------------------------------------------------------------------- methods
Scorer = Callable[[np.ndarray], np.ndarray]


def vector_scorer(vectors: np.ndarray) -> Scorer:
    """The engine's continuation: cosine to the normalised mean of the seeds' unit vectors."""
    rows = unit(vectors).astype(np.float32)

    def score(items: np.ndarray) -> np.ndarray:
        query = rows[items].mean(axis=0)
        norm = float(np.linalg.norm(query))
        return rows @ (query / norm) if norm > 0 else np.zeros(len(rows), dtype=np.float32)

    return score


def build_scorers(
    matrix: sp.csr_matrix, methods: Sequence[str], params: dict[str, dict[str, float]], *, device: str = "cpu",
    seed: int = 0, progress: Progress | None = None,
) -> tuple[dict[str, Scorer], dict[str, dict[str, Any]]]:
    """Fit what `methods` need; returns scorers and, per method, fit time / memory / model version."""
    scorers: dict[str, Scorer] = {}
    costs: dict[str, dict[str, Any]] = {}
    popularity = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float32)
    wanted = {name.split(":")[0] for name in methods}
    if "popularity" in wanted:
        scorers["popularity"] = lambda items: popularity
        costs["popularity"] = {"fit_s": 0.0, "fit_peak_mb": 0.0, "version": "popularity"}
    if "itemknn" in wanted:
        with measure() as usage:
            knn = ItemKNN(matrix, alpha=float(params["itemknn"]["alpha"]))
        costs["itemknn"] = {"fit_s": usage.seconds, "fit_peak_mb": usage.peak_mb, "version": knn.version}
        scorers["itemknn"] = knn.score
        if "itemknn:vectors" in methods:
            with measure() as usage:
                vectors = knn.item_vectors(64, seed=seed)
            costs["itemknn:vectors"] = {"fit_s": usage.seconds, "fit_peak_mb": usage.peak_mb,
                                        "version": knn.version + "-puresvd64"}
            scorers["itemknn:vectors"] = vector_scorer(vectors)
    for name, fit in (("als", fit_als), ("als-numpy", fit_als_numpy)):
        if name not in wanted:
            continue
        p = params[name]
        with measure() as usage:
            als: ALSModel = fit(matrix, factors=int(p["factors"]), regularization=float(p["regularization"]),
                                alpha=float(p["alpha"]), iterations=int(p["iterations"]), seed=seed,
                                progress=(lambda i, n, name=name: progress(i, n, name)) if progress else None)
        costs[name] = {"fit_s": usage.seconds, "fit_peak_mb": usage.peak_mb, "version": als.version}
        scorers[name] = als.score
        costs[f"{name}:vectors"] = costs[name]
        scorers[f"{name}:vectors"] = vector_scorer(als.item_vectors())
    if "dae" in wanted:
        p = params["dae"]
        with measure() as usage:
            dae = fit_dae(matrix, dims=int(p["dims"]), hidden=int(p["hidden"]) if p.get("hidden") else None,
                          dropout=float(p["dropout"]), masked_weight=float(p["masked_weight"]),
                          epochs=int(p["epochs"]), lr=float(p["lr"]), batch_size=int(p["batch_size"]),
                          sampled=int(p["sampled"]) or None, threads=int(p["threads"]) or None,
                          seed=seed, device=device,
                          progress=(lambda i, n: progress(i, n, "dae")) if progress else None)
        costs["dae"] = {"fit_s": usage.seconds, "fit_peak_mb": usage.peak_mb, "version": dae.version,
                        "final_loss": round(dae.losses[-1], 4)}
        scorers["dae"] = dae.score
        costs["dae:vectors"] = costs["dae"]
        scorers["dae:vectors"] = vector_scorer(dae.item_vectors())
    return {name: scorers[name] for name in methods}, costs


def top_n(scores: np.ndarray, exclude: np.ndarray, popularity_rank: np.ndarray, n: int) -> np.ndarray:
    """The n best columns, seeds excluded, ties broken by popularity (so no method returns arbitrary zeros)."""
    ranked = scores.astype(np.float64) + popularity_rank
    ranked[exclude] = -np.inf
    n = min(n, len(ranked) - len(exclude))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-ranked, n - 1)[:n]
    return top[np.argsort(-ranked[top], kind="stable")]


# ---------------------------------------------------------------------------------------------- evaluation
@dataclass
class _Case:
    seeds: list[str]
    truth: set[str]
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _cases(test: list[dict[str, Any]], n_seeds: int, index: dict[str, int]) -> tuple[list[_Case], int]:
    cases, skipped = [], 0
    for playlist in test:
        keys = track_keys(playlist)
        seeds = keys[:n_seeds]
        truth = set(keys[n_seeds:]) - set(seeds)
        if not truth:
            skipped += 1
            continue
        known = np.asarray(sorted({index[s] for s in seeds if s in index}), dtype=np.int64)
        cases.append(_Case(seeds, truth, known))
    return cases, skipped


def evaluate_continuation(
    train_path: Path,
    test_path: Path,
    *,
    n_seeds: int = 5,
    n_recommendations: int = 500,
    methods: Sequence[str] = DEFAULT_METHODS,
    params: dict[str, dict[str, float]] | None = None,
    fraction: float = 1.0,
    seed: int = 0,
    device: str = "cpu",
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit every method on the train file and score continuations of the test file's playlists."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if n_seeds < 0:
        raise UserError("--seeds must be 0 or more")
    if not 0.0 < fraction <= 1.0:
        raise UserError("--fraction must be in (0, 1]")
    merged = {name: dict(values) for name, values in DEFAULT_PARAMS.items()}
    for name, values in (params or {}).items():
        if name not in merged:
            raise UserError(f"unknown parameter group {name!r}; use one of {', '.join(merged)}")
        merged[name].update(values)
    started = time.perf_counter()
    base_rss = _rss_bytes()
    _, train = read_playlists(train_path)
    _, test = read_playlists(test_path)
    train_pids = {p.get("pid") for p in train if p.get("pid") is not None}
    overlap = sum(1 for p in test if p.get("pid") is not None and p.get("pid") in train_pids)
    if overlap:
        raise UserError(f"{overlap} test playlist(s) also appear in the train file (same pid): not held out")
    if fraction < 1.0:
        chosen = sorted(random.Random(seed).sample(range(len(train)), max(1, round(len(train) * fraction))))
        train = [train[i] for i in chosen]
    matrix, keys = from_playlists([track_keys(p) for p in train])
    if matrix.shape[1] == 0:
        raise UserError(f"{train_path.name}: no tracks to train on")
    index = {key: col for col, key in enumerate(keys)}
    cases, skipped = _cases(test, n_seeds, index)
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise UserError(f"{test_path.name}: no playlist has tracks beyond its first {n_seeds}")
    popularity = np.asarray(matrix.sum(axis=0)).ravel()
    # a tie-breaker far below any real score difference: rank by popularity among equal scores
    order = np.argsort(np.argsort(popularity, kind="stable"), kind="stable")
    popularity_rank = (order / max(len(order), 1)) * 1e-7

    try:
        scorers, costs = build_scorers(matrix, list(methods), merged, device=device, seed=seed, progress=progress)
    except ValueError as exc:  # the fitters refuse out-of-range settings, which only `--param` can give
        raise UserError(str(exc)) from exc
    keys_array = np.asarray(keys, dtype=object)
    results: dict[str, dict[str, Any]] = {}
    for name, scorer in scorers.items():
        rp, nd, ck, latency = [], [], [], []
        for number, case in enumerate(cases):
            began = time.perf_counter()
            scores = scorer(case.known) if len(case.known) else popularity.astype(np.float32)
            recommended = keys_array[top_n(scores, case.known, popularity_rank, n_recommendations)].tolist()
            latency.append(time.perf_counter() - began)
            rp.append(r_precision(case.truth, recommended))
            nd.append(ndcg(case.truth, recommended, n_recommendations))
            ck.append(clicks(case.truth, recommended, n_recommendations))
            if progress is not None and (number + 1) % 50 == 0:
                progress(number + 1, len(cases), name)
        cost = costs[name.split(":")[0]] if name not in costs else costs[name]
        results[name] = {
            "r_precision": round(float(np.mean(rp)), 4),
            "ndcg": round(float(np.mean(nd)), 4),
            "clicks": round(float(np.mean(ck)), 3),
            "fit_s": round(cost["fit_s"], 2),
            "fit_peak_mb": round(cost["fit_peak_mb"], 1),
            "recommend_ms_median": round(statistics.median(latency) * 1000, 2),
            "version": cost["version"],
            **({"final_loss": cost["final_loss"]} if "final_loss" in cost else {}),
        }
    truth_total = sum(len(c.truth) for c in cases)
    truth_known = sum(sum(1 for t in c.truth if t in index) for c in cases)
    return {
        "methods": results,
        "n_playlists": len(cases),
        "seeds": n_seeds,
        "recommendations": n_recommendations,
        "train": {"file": str(train_path), "playlists": int(matrix.shape[0]), "tracks": int(matrix.shape[1]),
                  "entries": int(matrix.nnz), "fraction": fraction},
        "test": {
            "file": str(test_path), "playlists_skipped_no_hidden_tracks": skipped,
            "hidden_tracks": truth_total,
            "hidden_tracks_seen_in_train": round(truth_known / truth_total, 4) if truth_total else 0.0,
            "playlists_with_no_known_seed": sum(1 for c in cases if len(c.known) == 0),
        },
        "params": merged,
        "total_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb_above_start": round((max(_rss_bytes(), base_rss) - base_rss) / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def parse_params(items: Sequence[str]) -> dict[str, dict[str, float]]:
    """`als.alpha=40` style overrides -> {"als": {"alpha": 40.0}}."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        name, _, value = item.partition("=")
        group, _, key = name.partition(".")
        if not group or not key or not value:
            raise UserError(f"--param {item!r}: expected GROUP.NAME=VALUE, e.g. als.alpha=40")
        try:
            number = float(value)
        except ValueError as exc:
            raise UserError(f"--param {item!r}: {value!r} is not a number") from exc
        if not math.isfinite(number):
            raise UserError(f"--param {item!r}: not a finite number")
        out.setdefault(group, {})[key] = number
    return out
