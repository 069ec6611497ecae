"""Small helpers shared by command modules."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.results import print_json

__all__ = ["engine_for", "print_json", "stop_on_signals"]


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
