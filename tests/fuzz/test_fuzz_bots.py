"""Generated texts and queries through the `Engine` calls the Telegram and Discord bots make.

A bot turns a `MoodtapeError` into its message and anything else into the apology, so each call must end in
a result or a `MoodtapeError` with a sentence (`LoopEngine.outcome`); any other exception fails here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import strategies as gen
from tests.fuzz.helpers import LoopEngine, engine_on_loop

DEFAULT = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large])
SLOW = settings(DEFAULT, max_examples=500)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopEngine]:
    with engine_on_loop(tmp_path_factory.mktemp("fuzz-bots")) as opened:
        yield opened


def chat_holds(loop: LoopEngine, text: str, strategy: str) -> None:
    assert loop.outcome(loop.engine.chat(text, 3, strategy)) == "ok"  # any text gets a reading
    loop.outcome(loop.engine.set_strategy("fuzz-user", text))


def queries_hold(loop: LoopEngine, query: str, seeds: list[str]) -> None:
    loop.outcome(loop.engine.similar(query, 3, paths=False))
    loop.outcome(loop.engine.continue_playlist(seeds, 3))


STRATEGY = st.sampled_from(["match", "lift", "calm", "energize"])


@DEFAULT
@given(text=gen.texts, strategy=STRATEGY)
def test_any_chat_text(loop: LoopEngine, text: str, strategy: str) -> None:
    chat_holds(loop, text, strategy)


@DEFAULT
@given(query=gen.queries, seeds=st.lists(gen.queries, max_size=4))
def test_any_song_query(loop: LoopEngine, query: str, seeds: list[str]) -> None:
    queries_hold(loop, query, seeds)


@pytest.mark.slow
@SLOW
@given(text=gen.texts, strategy=STRATEGY)
def test_any_chat_text_long_run(loop: LoopEngine, text: str, strategy: str) -> None:
    chat_holds(loop, text, strategy)


@pytest.mark.slow
@SLOW
@given(query=gen.queries, seeds=st.lists(gen.queries, max_size=4))
def test_any_song_query_long_run(loop: LoopEngine, query: str, seeds: list[str]) -> None:
    queries_hold(loop, query, seeds)
