"""`moodtape bench knn` on a small catalogue: every method reports the same keys, exact methods agree."""

from __future__ import annotations

import json

import pytest

from moodtape.bot.cli import main

KEYS = {"p50_ms", "p99_ms", "recall_at_10", "build_s", "bytes"}


def test_bench_knn_json_has_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "knn", "--n", "2000", "--queries", "20", "--clusters", "50", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n"] == 2000 and out["k"] == 10
    for method in ("sqlite_vec", "ann", "ann_via_store", "numpy"):
        assert KEYS <= out[method].keys(), method
        assert out[method]["p50_ms"] > 0 and out[method]["p99_ms"] >= out[method]["p50_ms"]
        assert out[method]["bytes"] > 0
    assert KEYS <= out["faiss_flat"].keys() or "skipped" in out["faiss_flat"]
    assert out["numpy"]["recall_at_10"] == 1.0 and out["sqlite_vec"]["recall_at_10"] == 1.0
    assert out["ann"]["recall_at_10"] >= 0.95 and out["ann_via_store"]["recall_at_10"] >= 0.95
    assert out["ann"]["build_s"] > 0 and out["ann"]["bytes_disk"] > 0
    assert out["ann_via_store"]["path"] == "ready"  # the store answered from the index, not the exact scan
    assert out["ratios"]["ann_via_store_over_ann_p50"] > 0
    assert [s["expansion_search"] for s in out["ann_ef_sweep"]] == sorted(s["expansion_search"]
                                                                           for s in out["ann_ef_sweep"])


def test_bench_knn_refuses_a_dimension_without_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "knn", "--n", "100", "--dim", "32", "--json"])
    assert code != 0
    assert "--dim must be one of" in capsys.readouterr().err
