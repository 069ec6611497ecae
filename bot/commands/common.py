"""Small helpers shared by command modules."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.results import print_json

__all__ = ["add_k_option", "checked_k", "checked_limit", "engine_for", "print_json", "stop_on_signals"]


def add_k_option(parser: argparse.ArgumentParser, *, default: int | None, shown: int) -> None:
    """`-k/--k N`: how many songs; `checked_k` says whether N is in the command's range."""
    parser.add_argument("-k", "--k", type=int, default=default, help=f"how many songs (default {shown})")


def checked_k(k: int | None, most: int) -> int | None:
    """`k` itself, or the one-line `UserError` naming the option and its range (exit 2)."""
    if k is not None and not 1 <= k <= most:
        raise UserError(f"--k must be between 1 and {most}")
    return k


def checked_limit(limit: int | None) -> int | None:
    """`--limit` itself (None: no limit), or the one-line `UserError` (exit 2) when it is below 1.

    Zero or a negative limit is a typo, not a request for nothing: silently doing nothing (or everything)
    would hide it.
    """
    if limit is not None and limit < 1:
        raise UserError("--limit must be at least 1")
    return limit


@asynccontextmanager
async def engine_for(settings: Settings) -> AsyncIterator[Engine]:
    engine = await Engine.open(settings)
    try:
        yield engine
    finally:
        await engine.close()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM, for long-running commands that shut down gracefully (call in the loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - platforms without loop signal support
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    return stop
