"""One percentile definition for every bench figure (nearest rank: a p99 is a time that was measured)."""

from __future__ import annotations

from moodtape.training.bench_stats import latency_ms, percentile


def test_nearest_rank_percentiles() -> None:
    hundred = [float(i) for i in range(1, 101)]
    assert percentile(hundred, 0.5) == 50.0 and percentile(hundred, 0.99) == 99.0 and percentile(hundred, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0 and percentile([], 0.5) == 0.0
    # with few samples the p99 is the slowest one, never an interpolated time nobody saw
    assert percentile([1.0, 2.0, 30.0], 0.99) == 30.0


def test_latency_summary_keys_and_rounding() -> None:
    summary = latency_ms([3.0, 1.0, 2.0, 10.0], digits=1)
    assert summary == {"p50_ms": 2.5, "p99_ms": 10.0, "mean_ms": 4.0, "max_ms": 10.0}
    assert set(latency_ms([1.0], median_key="median_ms")) == {"median_ms", "p99_ms", "mean_ms", "max_ms"}
    assert latency_ms([])["p99_ms"] == 0.0
