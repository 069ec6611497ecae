"""What the fuzz suite and the hostile-input regressions share: one engine kept open across many inputs.

Opening an engine builds the demo catalogue and loads the emotion model (about a second); hundreds of
generated inputs must not pay that each, so a module opens one engine on its own event loop and every input
runs on it, the way a bot serves many messages from one engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from moodtape.core.engine import Engine
from moodtape.core.errors import MoodtapeError
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.service import LinkService
from tests.conftest import make_settings
from tests.fakes.dns import StubDNS

T = TypeVar("T")


class LoopEngine:
    """An open `Engine` and the loop it lives on; `run` drives one engine call to its end."""

    def __init__(self, runner: asyncio.Runner, engine: Engine) -> None:
        self.runner = runner
        self.engine = engine

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(call)

    def outcome(self, call: Coroutine[Any, Any, object]) -> str:
        """"ok", or the message of the `MoodtapeError` it raised (asserted to be a sentence); anything else
        escapes and fails the test, which is the point."""
        try:
            self.run(call)
        except MoodtapeError as exc:
            message = str(exc)
            assert message.strip(), f"{type(exc).__name__} without a message"
            message.encode("utf-8")  # a reply a bot can send and a terminal can print
            return message
        return "ok"


@contextmanager
def engine_on_loop(tmp_path: Path) -> Iterator[LoopEngine]:
    """An engine on the demo catalogue whose links never reach a network (no name resolves)."""
    with asyncio.Runner() as runner:
        settings = make_settings(tmp_path)
        engine = runner.run(Engine.open(settings))
        engine.links = LinkService(settings, client=GuardedClient(settings, resolver=StubDNS({})),
                                   ytdlp_factory=_no_ytdlp)
        try:
            runner.run(engine.chat("warming up", 1))  # load the model and build the demo once, up front
            yield LoopEngine(runner, engine)
        finally:
            runner.run(engine.close())


def _no_ytdlp(params: dict[str, Any]) -> Any:
    raise AssertionError("the fuzz suite never asks yt-dlp for a generated link")
