"""`moodtape bench knn --backend postgres` on the test suite's PostgreSQL + pgvector server: every method's keys,
exact methods at recall 1, the index used through PgStore.knn, and its throwaway database dropped again."""

from __future__ import annotations

import json

import psycopg
import pytest

from moodtape.bot.cli import main
from tests.pg_server import PgServer


def test_bench_knn_postgres_reports_pgvector_beside_the_exact_methods(
        pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "knn", "--backend", "postgres", "--database-url", pg_server.url, "--n", "3000",
                 "--queries", "20", "--clusters", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "postgres" and result["n"] == 3000
    for method in ("numpy", "sqlite_vec", "pgvector"):
        assert {"p50_ms", "p99_ms", "recall_at_10", "build_s", "bytes"} <= set(result[method]), method
    assert result["numpy"]["recall_at_10"] == 1.0 and result["sqlite_vec"]["recall_at_10"] == 1.0
    assert result["pgvector"]["recall_at_10"] >= 0.9 and result["pgvector"]["bytes"] > 0
    assert [row["ef_search"] for row in result["pgvector_ef_sweep"]] == [40, 100, 200, 400, 500, 600, 800, 1000]
    # `similar`'s query, a stored vector with itself excluded: found again among its neighbours
    assert result["pgvector_similar"]["recall_at_10"] >= 0.95  # 0.9 if the query track came back itself
    assert result["pgvector_similar"]["ef_search"] == 100 and result["pgvector"]["ef_search"] == 500
    assert [row["ef_search"] for row in result["pgvector_similar_ef_sweep"]][-1] == 1000
    assert result["pgvector_similar_ef_sweep"][-1]["recall_at_10"] >= 0.95
    assert result["server"]["pgvector"] >= "0.5"  # HNSW
    with psycopg.connect(pg_server.url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'moodtape_bench_%'").fetchone()
    assert left == (0,)
