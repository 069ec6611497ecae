"""Small helpers shared by command modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.config import Settings
from core.engine import Engine
from core.results import print_json

__all__ = ["engine_for", "print_json"]


@asynccontextmanager
async def engine_for(settings: Settings) -> AsyncIterator[Engine]:
    engine = await Engine.open(settings)
    try:
        yield engine
    finally:
        await engine.close()
