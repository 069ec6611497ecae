"""Latency summaries shared by the `moodtape bench` commands: one percentile definition for every figure.

Nearest rank (the smallest sample with at least q of the samples at or below it), so a p99 is always a time
that was really measured; benches report medians and p99s of one run, never a single timing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["latency_ms", "percentile"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q <= 1) of samples sorted ascending; 0.0 for none."""
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1])


def latency_ms(samples_ms: Sequence[float], digits: int = 4, median_key: str = "p50_ms") -> dict[str, float]:
    """Median (under `median_key`: the knn/chat JSON says p50_ms, embed/emotion median_ms), p99, mean and max
    of latencies in milliseconds, rounded to `digits`; zeros for no samples."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {median_key: 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "max_ms": 0.0}
    return {median_key: round(statistics.median(ordered), digits), "p99_ms": round(percentile(ordered, 0.99), digits),
            "mean_ms": round(statistics.fmean(ordered), digits), "max_ms": round(ordered[-1], digits)}
