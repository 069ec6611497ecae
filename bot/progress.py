"""Progress bars for long CLI batches (stderr, so `--json` on stdout stays clean)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(desc: str, *, unit: str = "file", min_total: int = 3) -> Iterator[Callable[[int, int, str], None]]:
    """A `progress(done, total, item)` callback drawing a tqdm bar once a batch has `min_total` items."""
    bar: tqdm | None = None

    def update(done: int, total: int, item: str) -> None:
        nonlocal bar
        if total < min_total:
            return
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
        bar.set_postfix_str(item[:30], refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
