"""`moodtape bench picture`: how long drawing the picture of the mood takes (draw + PNG encode).

The issue asks that rendering stays under 50 ms; a bot draws one picture per answer for the people who turned
it on, in a worker thread, so this is time added to their reply.  Each render gets a fresh seeded reading, k
song points and, by turns, each strategy's path (the worst case draws a path and ten songs), exactly as the
bots call it (`render_png`); the first render (font loading, the cached background) is timed apart as
`first_ms`.  Nothing here asserts a speed: the medians and p99 go to the README with the command.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from moodtape.core.config import Settings
from moodtape.core.mood.space import STRATEGIES, strategy_targets
from moodtape.training.bench_stats import latency_ms
from moodtape.training.cli_output import positive_int

__all__ = ["add_commands", "bench_picture"]


def bench_picture(renders: int = 500, k: int = 10, size: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Median/p99 ms of `renders` pictures of k songs each, strategies taking turns; PNG sizes too."""
    from moodtape.bot.shared.picture import SIZE, MoodPicture, render_png

    side = size or SIZE
    rng = np.random.default_rng(seed)
    pictures = []
    for i in range(renders + 1):
        valence, arousal = (float(x) for x in rng.uniform(-0.9, 0.9, 2))
        strategy = STRATEGIES[i % len(STRATEGIES)]
        songs = tuple((float(v), float(a)) for v, a in rng.uniform(-1, 1, (k, 2)))
        pictures.append(MoodPicture(valence, arousal, songs=songs, strategy=strategy,
                                    path=tuple(strategy_targets(valence, arousal, strategy, k))))
    began = time.perf_counter()
    render_png(pictures[0], side)
    first_ms = (time.perf_counter() - began) * 1000
    times: list[float] = []
    sizes: list[int] = []
    for picture in pictures[1:]:
        began = time.perf_counter()
        data = render_png(picture, side)
        times.append((time.perf_counter() - began) * 1000)
        sizes.append(len(data))
    return {"renders": renders, "k": k, "size_px": side, "first_ms": round(first_ms, 3),
            "render": latency_ms(times, digits=3), "png_bytes_median": int(np.median(sizes)),
            "budget_ms": 50.0}


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    parser = bench.add_parser(
        "picture", help="time drawing the picture of the mood (draw + PNG), median and p99 over N renders",
        description="Draws N pictures of the mood (seeded readings, k songs, the strategies taking turns) the "
                    "way the bots and `chat --picture` do, and reports the median, p99, mean and max in ms.",
    )
    parser.add_argument("--renders", type=positive_int, default=500, help="pictures to time (default 500)")
    parser.add_argument("--k", type=positive_int, default=10, help="songs per picture (default 10, the bots' most)")
    parser.add_argument("--size", type=positive_int, default=None, help="side in pixels (default 480)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_bench_picture)


def _bench_picture(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.cli_output import emit

    return emit(bench_picture(args.renders, args.k, args.size, args.seed), args.json)
