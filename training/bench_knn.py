"""`moodtape bench knn`: exact and approximate nearest-neighbour search side by side, in one run.

Methods over the same clustered unit vectors (cosine): `sqlite_vec` (vec0's exact scan, straight SQL on the
store's file), `ann` (the store's usearch HNSW index from `db/ann.py`, the library called directly),
`ann_via_store` (`Store.knn` end to end through aiosqlite with that index: what `similar` pays),
`faiss_flat` (exact, BLAS) and `numpy` (exact brute force, also the ground truth of recall@k).  Each reports
`p50_ms`, `p99_ms`, `recall_at_10` (recall at --k, named for the usual k=10), `build_s` and `bytes`; the
ratios compare medians measured in this one run, since the machines are shared and noisy.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from moodtape.core.errors import UserError
from moodtape.db.connect import connector, pick_driver
from moodtape.db.models import VECTOR_DIMS
from moodtape.db.store import Store
from moodtape.training.bench_stats import latency_ms

__all__ = ["bench_knn", "clustered_vectors", "numpy_exact", "sqlite_vec_exact"]

_VERSION = "bench"
_EF_SWEEP = (64, 128, 256, 384, 512)


def clustered_vectors(n: int, dim: int, queries: int, seed: int, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` unit vectors around `clusters` centres and `queries` probes near random members of them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    data = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: a 1M x 128 float64 temporary would need 1 GB
        stop = min(n, start + 100_000)
        data[start:stop] = centres[rng.integers(0, clusters, stop - start)]
        data[start:stop] += 0.5 * rng.standard_normal((stop - start, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    probe = data[rng.integers(0, n, queries)] + 0.1 * rng.standard_normal((queries, dim)).astype(np.float32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    return data, probe


def _summary(times_ms: list[float], found: list[Sequence[int]], truth: list[list[int]], k: int,
             build_s: float, size: int) -> dict[str, Any]:
    recall = statistics.fmean(len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth))
    times = latency_ms(times_ms)
    return {"p50_ms": times["p50_ms"], "p99_ms": times["p99_ms"],
            "recall_at_10": round(recall, 4), "build_s": round(build_s, 3), "bytes": int(size)}


def _timed(label: str, probe: np.ndarray, search: Callable[[np.ndarray], Sequence[int]]) -> tuple[list[float], list[Sequence[int]]]:
    search(probe[0])  # warm caches and lazy setup
    times, found = [], []
    for q in tqdm(probe, desc=label, unit="query", leave=False):
        t0 = time.perf_counter()
        ids = search(q)
        times.append((time.perf_counter() - t0) * 1000)
        found.append(ids)
    return times, found


def _kind_of(dim: int) -> str:
    for kind, kind_dim in VECTOR_DIMS.items():
        if kind_dim == dim and kind != "mood":
            return kind
    choices = sorted(d for kind, d in VECTOR_DIMS.items() if kind != "mood")
    raise UserError(f"--dim must be one of {choices} (the store's cosine tables), got {dim}")


def bench_knn(n: int = 100_000, dim: int = 128, k: int = 10, queries: int = 100, seed: int = 0,
              clusters: int = 1000) -> dict[str, Any]:
    """All methods on one data set; see the module docstring for what each measures."""
    if n < k or queries < 1 or k < 1:
        raise UserError("need --n >= --k >= 1 and --queries >= 1")
    kind = _kind_of(dim)
    data, probe = clustered_vectors(n, dim, queries, seed, clusters)
    with tempfile.TemporaryDirectory(prefix="moodtape-bench-") as folder:
        return asyncio.run(_run(Path(folder) / "knn.db", kind, data, probe, k))


async def _run(path: Path, kind: str, data: np.ndarray, probe: np.ndarray, k: int) -> dict[str, Any]:
    n, dim = data.shape
    out: dict[str, Any] = {"n": n, "dim": dim, "k": k, "queries": len(probe), "kind": kind}

    out["numpy"], truth = numpy_exact(data, probe, k)

    out["faiss_flat"] = _faiss(data, probe, k, truth)

    store = await Store.open(path, ann_min_tracks=n + 1)  # exact until the index is built explicitly
    try:
        out["sqlite_vec"] = await sqlite_vec_exact(store, path, kind, data, probe, k, truth)

        started = time.perf_counter()
        with tqdm(total=n, desc="HNSW build", unit="vector", leave=False) as bar:
            await store.build_ann([kind], on_rows=bar.update)
        build_s = time.perf_counter() - started
        index = store.ann.index(kind, _VERSION)
        assert index is not None
        (stats,) = [i for i in store.ann.stats()["indexes"] if i["kind"] == kind]
        times, found = _timed("ann", probe, lambda q: (index.search(q, k).keys - 1).tolist())
        out["ann"] = {**_summary(times, found, truth, k, build_s, stats["bytes_memory"]),
                      "bytes_disk": stats["bytes_disk"], "params": store.ann.stats()["params"]}
        out["ann_ef_sweep"] = _ef_sweep(index, probe, k, truth, store.ann.params.expansion_search)

        store.ann.min_tracks = n  # the catalogue is now over the threshold: `knn` goes through the index
        loop_times, loop_found = [], []
        await store.knn(kind, probe[0], k, model_version=_VERSION)
        for q in tqdm(probe, desc="ann via Store.knn", unit="query", leave=False):
            t0 = time.perf_counter()
            hits = await store.knn(kind, q, k, model_version=_VERSION)
            loop_times.append((time.perf_counter() - t0) * 1000)
            loop_found.append([h.track_id - 1 for h in hits])
        out["ann_via_store"] = _summary(loop_times, loop_found, truth, k, build_s, stats["bytes_memory"])
        out["ann_via_store"]["path"] = store.ann.state(kind)
    finally:
        await store.close()

    out["ratios"] = _ratios(out)
    return out


async def sqlite_vec_exact(store: Store, path: Path, kind: str, data: np.ndarray, probe: np.ndarray, k: int,
                           truth: list[list[int]]) -> dict[str, Any]:
    """Insert `data` as track ids 1..n into `store` (the file at `path`) and time vec0's exact KNN over it."""
    n = len(data)
    started = time.perf_counter()
    for start in tqdm(range(0, n, 50_000), desc="sqlite-vec insert", unit="50k", leave=False):
        rows = ((start + i + 1, v) for i, v in enumerate(data[start:start + 50_000]))
        await store.put_vectors(kind, rows, _VERSION)
    insert_s = time.perf_counter() - started
    db_bytes = sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())

    conn = connector(path, pick_driver(), isolation_level=None)()
    sql = f"SELECT track_id FROM vec_{kind} WHERE embedding MATCH ? AND k = ? ORDER BY distance"
    try:
        times, found = _timed("sqlite-vec", probe,
                              lambda q: [r[0] - 1 for r in conn.execute(sql, (q.tobytes(), k)).fetchall()])
    finally:
        conn.close()
    return _summary(times, found, truth, k, insert_s, db_bytes)


def numpy_exact(data: np.ndarray, probe: np.ndarray, k: int) -> tuple[dict[str, Any], list[list[int]]]:
    """NumPy brute force: its summary and its answers, the ground truth of every recall@k."""
    times, truth_found = _timed("numpy", probe, lambda q: _numpy_top(data, q, k))
    truth = [list(t) for t in truth_found]
    return _summary(times, truth_found, truth, k, 0.0, data.nbytes), truth


def _numpy_top(data: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    sims = data @ q
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])].tolist()


def _faiss(data: np.ndarray, probe: np.ndarray, k: int, truth: list[list[int]]) -> dict[str, Any]:
    try:
        import faiss
    except ImportError as exc:
        return {"skipped": f"faiss is not installed ({exc}); pip install 'moodtape[bench]'"}
    started = time.perf_counter()
    index = faiss.IndexFlatIP(data.shape[1])  # inner product = cosine on unit vectors
    index.add(data)
    build_s = time.perf_counter() - started
    times, found = _timed("faiss flat", probe, lambda q: index.search(q[None, :], k)[1][0].tolist())
    return _summary(times, found, truth, k, build_s, data.nbytes)


def _ef_sweep(index: Any, probe: np.ndarray, k: int, truth: list[list[int]], configured: int) -> list[dict[str, Any]]:
    """Recall and latency of the HNSW search at other `expansion_search` values (the tuning knob)."""
    sweep = []
    try:
        for ef in _EF_SWEEP:
            index.expansion_search = ef
            times, found = _timed(f"ann ef={ef}", probe, lambda q: (index.search(q, k).keys - 1).tolist())
            summary = _summary(times, found, truth, k, 0.0, 0)
            sweep.append({"expansion_search": ef, "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
                          "recall_at_10": summary["recall_at_10"]})
    finally:
        index.expansion_search = configured
    return sweep


def _ratios(out: dict[str, Any]) -> dict[str, float]:
    def ratio(a: str, b: str, key: str = "p50_ms") -> float:
        return round(out[a][key] / max(out[b][key], 1e-9), 3)

    ratios = {"ann_via_store_over_ann_p50": ratio("ann_via_store", "ann"),
              "ann_via_store_over_ann_p99": ratio("ann_via_store", "ann", "p99_ms"),
              "sqlite_vec_over_ann_p50": ratio("sqlite_vec", "ann"),
              "numpy_over_ann_p50": ratio("numpy", "ann"),
              "sqlite_vec_over_numpy_p50": ratio("sqlite_vec", "numpy")}
    if "p50_ms" in out["faiss_flat"]:
        ratios["faiss_flat_over_ann_p50"] = ratio("faiss_flat", "ann")
    return ratios
