"""Latency summaries shared by the `moodtape bench` commands: one percentile definition for every figure.

Nearest rank (the smallest sample with at least q of the samples at or below it), so a p99 is always a time
that was really measured; benches report medians and p99s of one run, never a single timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import AsyncIterator, Sequence

__all__ = ["LAG_PERIOD_S", "latency_ms", "loop_lag_sampled", "percentile", "sample_loop_lag"]

#: The loop-lag sampler's sleep (`bench bots`, `bench chat --cold`); its oversleep is the lag.
LAG_PERIOD_S = 0.01


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


async def sample_loop_lag(samples_ms: list[float], period_s: float) -> None:
    """Sleep `period_s` again and again on the running loop until cancelled; each oversleep (ms) is one lag
    sample: how long something else held the loop (a Discord heartbeat due then would have waited as long)."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(period_s)
        samples_ms.append(max(0.0, time.perf_counter() - started - period_s) * 1000)


@contextlib.asynccontextmanager
async def loop_lag_sampled(samples_ms: list[float], period_s: float = LAG_PERIOD_S) -> AsyncIterator[None]:
    """`sample_loop_lag` running for the duration of the block (started before the block's first step)."""
    task = asyncio.create_task(sample_loop_lag(samples_ms, period_s))
    await asyncio.sleep(period_s)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
