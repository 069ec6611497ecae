"""`moodtape bench knn --backend postgres`: pgvector's HNSW index beside sqlite-vec's exact scan and NumPy.

The same clustered unit vectors as the SQLite bench (`bench_knn.clustered_vectors`) go into a fresh database on
a PostgreSQL server: the one `--database-url` (or `MOODTAPE_DATABASE_URL`) names, else a throwaway server
started from the `pgserver` package (the `bench` and `test` extras install it).  Vectors are loaded with COPY
into the table without its index, and the index is then built once, as `moodtape db copy` does for large
loads (inserting into an indexed table costs milliseconds per vector).  `pgvector` is timed through
`PgStore.knn`, which is what `similar` calls; `pgvector_ef_sweep` shows recall and latency at other
`hnsw.ef_search` values with plain SQL.  Keys per method as in `bench_knn`: `p50_ms`, `p99_ms`,
`recall_at_10`, `build_s`, `bytes`.

The probes are off the data (a member plus noise about as long as the vector itself), the hard case of a
search for a shared clip.  `similar` by a catalogue track asks with a stored vector instead, itself
excluded; `pgvector_similar` and `pgvector_similar_ef_sweep` time that query the same way (members drawn
with the seed, their exact neighbours from NumPy).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from moodtape.core.errors import UserError
from moodtape.db.store import Store
from moodtape.training.bench_knn import (
    _VERSION,
    _kind_of,
    _summary,
    clustered_vectors,
    numpy_exact,
    sqlite_vec_exact,
)
from tqdm import tqdm

__all__ = ["bench_knn_postgres"]

_EF_SWEEP = (40, 100, 200, 400, 500, 600, 800, 1000)
#: Memory for the index build: pgvector builds far faster while the graph fits (1M x 128-d: about 1 GB).
_BUILD_MEMORY = "2GB"
#: shared_buffers of the server the bench starts itself: room for a million vectors' index (about 1 GB).
_SHARED_BUFFERS = "2GB"


def bench_knn_postgres(n: int = 100_000, dim: int = 128, k: int = 10, queries: int = 100, seed: int = 0,
                       clusters: int = 1000, url: str | None = None, ef_search: int | None = None) -> dict[str, Any]:
    """pgvector (through `PgStore.knn`, plus an ef_search sweep), sqlite-vec exact and NumPy on one data set."""
    if n < k or queries < 1 or k < 1:
        raise UserError("need --n >= --k >= 1 and --queries >= 1")
    kind = _kind_of(dim)
    data, probe = clustered_vectors(n, dim, queries, seed, clusters)
    out: dict[str, Any] = {"backend": "postgres", "n": n, "dim": dim, "k": k, "queries": queries, "kind": kind}
    out["numpy"], truth = numpy_exact(data, probe, k)
    members = np.random.default_rng(seed + 1).choice(n, size=min(queries, n), replace=False)
    member_truth = [_numpy_top_without(data, int(i), k) for i in members]
    with tempfile.TemporaryDirectory(prefix="moodtape-bench-") as folder, _server(url) as server_url:
        (out["pgvector"], out["pgvector_ef_sweep"], out["pgvector_similar"], out["pgvector_similar_ef_sweep"],
         out["server"]) = asyncio.run(_pgvector(server_url, kind, data, probe, k, truth, ef_search,
                                                members, member_truth))
        out["sqlite_vec"] = asyncio.run(_sqlite(Path(folder) / "knn.db", kind, data, probe, k, truth))
    out["ratios"] = {
        "sqlite_vec_over_pgvector_p50": round(out["sqlite_vec"]["p50_ms"] / max(out["pgvector"]["p50_ms"], 1e-9), 3),
        "numpy_over_pgvector_p50": round(out["numpy"]["p50_ms"] / max(out["pgvector"]["p50_ms"], 1e-9), 3),
    }
    return out


def _numpy_top_without(data: np.ndarray, member: int, k: int) -> list[int]:
    """The exact k nearest rows of row `member`, itself excluded (what `similar` by a track asks)."""
    sims = data @ data[member]
    sims[member] = -np.inf
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])].tolist()


async def _sqlite(path: Path, kind: str, data: np.ndarray, probe: np.ndarray, k: int,
                  truth: list[list[int]]) -> dict[str, Any]:
    store = await Store.open(path, ann_min_tracks=len(data) + 1)
    try:
        return await sqlite_vec_exact(store, path, kind, data, probe, k, truth)
    finally:
        await store.close()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[str]:
    """The maintenance URL of the server to use: `url`, MOODTAPE_DATABASE_URL, or a pgserver of our own."""
    url = url or os.environ.get("MOODTAPE_DATABASE_URL") or None
    if url:
        yield url
        return
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset: harmless
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise UserError("no PostgreSQL server: pass --database-url postgresql://... or install pgserver "
                        "(pip install 'moodtape[bench]')") from exc
    folder = Path(tempfile.mkdtemp(prefix="moodtape-bench-pg-"))
    server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        _give_memory(server)
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _give_memory(server: Any) -> None:
    """Size the throwaway server as pgvector asks (the index in `shared_buffers`; the packaged default is
    128 MB, which makes every search at a million vectors read index pages through the OS): ALTER SYSTEM and
    a restart through pgserver's own pg_ctl wrapper.  A server named by URL is left as its operator set it;
    `server.shared_buffers` in the output says what a run had."""
    import psycopg
    from pgserver._commands import pg_ctl  # pgserver has no public restart; its wrapper handles the user

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{_SHARED_BUFFERS}'")
    pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)


async def _pgvector(url: str, kind: str, data: np.ndarray, probe: np.ndarray, k: int, truth: list[list[int]],
                    ef_search: int | None, members: np.ndarray, member_truth: list[list[int]]
                    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]],
                               dict[str, Any]]:
    import psycopg
    from moodtape.db.pg.connection import STORED_EF_SEARCH
    from moodtape.db.pg.store import PgStore

    name = f"moodtape_bench_{secrets.token_hex(4)}"
    admin = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await admin.execute(f"CREATE DATABASE {name}")
    bench_url = _with_database(url, name)
    try:
        options = {"ef_search": ef_search} if ef_search else {}
        store = await PgStore.open(bench_url, **options)
        try:
            build_s, size, versions = await _load(bench_url, kind, data)
            await store.knn(kind, probe[0], k, model_version=_VERSION)  # warm the pool and the index pages
            times, found = [], []
            for q in tqdm(probe, desc="pgvector via PgStore.knn", unit="query", leave=False):
                began = time.perf_counter()
                hits = await store.knn(kind, q, k, model_version=_VERSION)
                times.append((time.perf_counter() - began) * 1000)
                found.append([h.track_id - 1 for h in hits])
            summary = {**_summary(times, found, truth, k, build_s, size), "ef_search": store.ef_search,
                       "index": {"definition": versions.pop("index"), "build_memory": _BUILD_MEMORY}}
            times, found = [], []
            for i in tqdm(members.tolist(), desc="similar via PgStore.knn", unit="query", leave=False):
                began = time.perf_counter()
                hits = await store.knn(kind, data[i], k, model_version=_VERSION, exclude={i + 1}, stored_query=True)
                times.append((time.perf_counter() - began) * 1000)
                found.append([h.track_id - 1 for h in hits])
            similar = {**_summary(times, found, member_truth, k, build_s, size),
                       "ef_search": min(store.ef_search, STORED_EF_SEARCH)}  # what a stored vector searches with
        finally:
            await store.close()
        sweep = await _ef_sweep(bench_url, kind, probe, k, truth)
        similar_sweep = await _ef_sweep(bench_url, kind, data[members], k, member_truth, members)
    finally:
        with contextlib.suppress(psycopg.Error):
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    return summary, sweep, similar, similar_sweep, versions


async def _load(url: str, kind: str, data: np.ndarray) -> tuple[float, int, dict[str, Any]]:
    """COPY the vectors in without the index, then build it; (build seconds, index bytes, server versions)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        definition = (await (await conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"vec_{kind}_hnsw",))).fetchone())[0]
        await conn.execute(f"DROP INDEX vec_{kind}_hnsw")
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY vec_{kind} (track_id, embedding, model_version) FROM STDIN") as copy:
                for start in tqdm(range(0, len(data), 10_000), desc="COPY", unit="10k", leave=False):
                    for i, vector in enumerate(data[start:start + 10_000]):
                        text = "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
                        await copy.write_row((start + i + 1, text, _VERSION))
        await conn.execute(f"SET maintenance_work_mem = '{_BUILD_MEMORY}'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        began = time.perf_counter()
        await conn.execute(definition)
        build_s = time.perf_counter() - began
        size = (await (await conn.execute("SELECT pg_relation_size(%s)", (f"vec_{kind}_hnsw",))).fetchone())[0]
        server = (await (await conn.execute("SHOW server_version")).fetchone())[0]
        buffers = (await (await conn.execute("SHOW shared_buffers")).fetchone())[0]
        vector = (await (await conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).fetchone())[0]
    return build_s, int(size), {"postgresql": server, "pgvector": vector, "shared_buffers": buffers,
                                "index": definition}


async def _ef_sweep(url: str, kind: str, probe: np.ndarray, k: int, truth: list[list[int]],
                    members: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Recall and latency at other `hnsw.ef_search` values (plain SQL on one connection: the knob alone).

    `members`: the probes are these rows' own vectors; one more row is fetched and the row itself dropped.
    """
    import psycopg

    sweep = []
    extra = 0 if members is None else 1
    sql = f"SELECT track_id FROM vec_{kind} ORDER BY embedding <=> %s::vector LIMIT %s"
    texts = ["[" + ",".join(f"{x:.7g}" for x in q) + "]" for q in probe]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for ef in _EF_SWEEP:
            await conn.execute(f"SET hnsw.ef_search = {ef}")
            times, found = [], []
            await conn.execute(sql, (texts[0], k + extra))
            for j, text in enumerate(texts):
                began = time.perf_counter()
                rows = await (await conn.execute(sql, (text, k + extra))).fetchall()
                times.append((time.perf_counter() - began) * 1000)
                ids = [int(r[0]) - 1 for r in rows]
                found.append([i for i in ids if members is None or i != int(members[j])][:k])
            summary = _summary(times, found, truth, k, 0.0, 0)
            sweep.append({"ef_search": ef, "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
                          "recall_at_10": summary["recall_at_10"]})
    return sweep
