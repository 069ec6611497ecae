"""Taste end to end in both bots: a person's 👎 changes their next answer (the song and its sound-alikes drop),
nobody else's, and /forget brings the old answer back.

The real python-telegram-bot and discord.py talk to the fake servers (tests/fakes); the answers come from the
bundled demo catalogue, whose audio vectors say which songs sound alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from moodtape.bot.cli import main
from moodtape.bot.discord import MoodtapeBot
from moodtape.core.engine import Engine
from moodtape.core.recommend.taste import sound_scale

from tests.bot.test_discord import bot, bot_engine, bot_settings, fake, feedback_buttons  # noqa: F401 - fixtures
from tests.bot.test_telegram import ANA, BEN, Running, listed_ids, start_bot, tiny_model  # noqa: F401 - fixtures
from tests.conftest import make_settings
from tests.fakes.discord_server import FakeDiscord

MOOD = "everything went wrong today"


async def cosines(engine: Engine, disliked: int, among: list[int]) -> dict[int, float]:
    """How much each song of `among` sounds like `disliked` (cosine of the demo's audio vectors)."""
    store, _ = await engine.catalogue("mood")
    vectors = await store.get_vectors("audio", [disliked, *among])
    ref = np.asarray(vectors[disliked].vector)
    return {t: float(ref @ np.asarray(vectors[t].vector)
                     / np.linalg.norm(ref) / np.linalg.norm(vectors[t].vector)) for t in among}


async def alike_above(engine: Engine, track: int) -> float:
    """The cosine above which songs clearly sound alike: 0.2 above the taste module's floor for the vectors'
    embedding."""
    store, _ = await engine.catalogue("mood")
    return sound_scale((await store.get_vectors("audio", [track]))[track].model_version)[0] + 0.2


async def sound_alikes(engine: Engine, disliked: int, among: list[int]) -> set[int]:
    """The songs of `among` that clearly sound like `disliked`."""
    above = await alike_above(engine, disliked)
    return {t for t, c in (await cosines(engine, disliked, among)).items() if t != disliked and c > above}


async def test_telegram_a_dislike_changes_that_persons_next_answer_and_forget_restores_it(
        start_bot: Callable[..., Awaitable[Running]]) -> None:  # noqa: F811 - the imported fixture
    running = await start_bot()
    server = running.server
    server.send_text(ANA, MOOD)
    first = await server.wait_for_message(ANA["id"], contains="I read:")
    before = listed_ids(first["text"])
    assert len(before) == running.settings.default_k
    disliked = before[0]
    alikes = await sound_alikes(running.engine, disliked, before)

    down = server.click(ANA, first, f"fb:-:{disliked}")
    await server.wait_for(lambda: server.callback_answer(down), what="the 👎 answer")

    server.send_text(ANA, MOOD)
    second = await server.wait_for_message(ANA["id"], contains="I read:", after=first["message_id"])
    after = listed_ids(second["text"])
    assert len(after) == len(before) and disliked not in after
    assert not alikes & set(after), (alikes, after)
    assert after != before

    server.send_text(BEN, MOOD)  # someone else: the 👎 is not theirs
    for_ben = await server.wait_for_message(BEN["id"], contains="I read:")
    assert listed_ids(for_ben["text"]) == before

    server.send_text(ANA, "/forget")
    forgot = await server.wait_for_message(ANA["id"], contains="Forgotten", after=second["message_id"])
    assert "1 👎" in forgot["text"]
    server.send_text(ANA, MOOD)
    third = await server.wait_for_message(ANA["id"], contains="I read:", after=forgot["message_id"])
    assert listed_ids(third["text"]) == before
    server.send_text(ANA, "/forget")
    again = await server.wait_for_message(ANA["id"], contains="nothing to forget", after=third["message_id"])
    assert "Forgotten" not in again["text"]


def discord_ids(reply: object) -> list[int]:
    return [int(b["custom_id"].split(":")[3]) for b in feedback_buttons(reply) if "👍" in b["label"]]  # type: ignore[arg-type]


async def test_discord_a_dislike_changes_that_persons_next_answer_and_forget_restores_it(
        bot: MoodtapeBot, bot_engine: Engine, fake: FakeDiscord) -> None:  # noqa: F811 - the imported fixtures
    ann, bob = fake.user("ann"), fake.user("bob")
    [first] = await fake.answered(await fake.slash("mood", ann, text=MOOD))
    before = discord_ids(first)
    assert len(before) == 3
    disliked = before[0]
    alikes = await sound_alikes(bot_engine, disliked, before)
    down = next(b for b in feedback_buttons(first) if b["label"] == "1 👎")
    [thanks] = await fake.answered(await fake.click(first, down["custom_id"], ann))
    assert "👎" in thanks.content

    [second] = await fake.answered(await fake.slash("mood", ann, text=MOOD))
    after = discord_ids(second)
    assert len(after) == 3 and disliked not in after and not alikes & set(after)
    [for_bob] = await fake.answered(await fake.slash("mood", bob, text=MOOD))
    assert discord_ids(for_bob) == before

    [forgot] = await fake.answered(await fake.slash("forget", ann))
    assert forgot.ephemeral and "Forgotten: 1 👎" in forgot.content
    [third] = await fake.answered(await fake.slash("mood", ann, text=MOOD))
    assert discord_ids(third) == before


async def test_telegram_a_dislike_in_similar_drops_the_songs_that_sound_most_like_it(
        start_bot: Callable[..., Awaitable[Running]]) -> None:  # noqa: F811 - the imported fixture
    running = await start_bot()
    server = running.server
    server.send_text(ANA, "/similar Wesnoth")
    first = await server.wait_for_message(ANA["id"], contains="Songs like")
    before = listed_ids(first["text"])
    disliked = before[0]
    closeness = await cosines(running.engine, disliked, before)
    two_most_alike = sorted((t for t in before if t != disliked), key=closeness.__getitem__)[-2:]
    assert min(closeness[t] for t in two_most_alike) > await alike_above(running.engine, disliked), \
        "songs like one song sound alike"
    down = server.click(ANA, first, f"fb:-:{disliked}")
    await server.wait_for(lambda: server.callback_answer(down), what="the 👎 answer")

    server.send_text(ANA, "/similar Wesnoth")
    second = await server.wait_for_message(ANA["id"], contains="Songs like", after=first["message_id"])
    after = listed_ids(second["text"])
    # near-ties between the most alike songs are decided by their relevance: one of the two at least goes
    assert len(after) == len(before) and disliked not in after and not set(two_most_alike) <= set(after)
    closeness.update(await cosines(running.engine, disliked, after))
    kept_before = [closeness[t] for t in before if t != disliked]
    assert np.mean([closeness[t] for t in after]) < np.mean(kept_before)  # the answer sounds less like it
    server.send_text(BEN, "/similar Wesnoth")
    for_ben = await server.wait_for_message(BEN["id"], contains="Songs like")
    assert listed_ids(for_ben["text"]) == before


def test_cli_user_option_and_forget(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`similar --user REF` answers as that person's votes shape it; `forget --user REF` deletes and counts them."""
    db = str(tmp_path / "lib.db")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", db, *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("similar", "Wesnoth", "--json")
    before = [t["id"] for t in json.loads(out)["tracks"]]
    assert code == 0 and before
    assert [t["id"] for t in json.loads(run("similar", "Wesnoth", "--json", "--user", "tg:5")[1])["tracks"]] == before

    async def dislike() -> None:
        async with await Engine.open(make_settings(tmp_path, db=Path(db))) as engine:
            await engine.feedback(before[0], "tg:5", -1, {"via": "test"})

    asyncio.run(dislike())
    mine = [t["id"] for t in json.loads(run("similar", "Wesnoth", "--json", "--user", "tg:5")[1])["tracks"]]
    assert before[0] not in mine and len(mine) == len(before)
    assert [t["id"] for t in json.loads(run("similar", "Wesnoth", "--json")[1])["tracks"]] == before

    code, out, _ = run("forget", "--user", "tg:5", "--json")
    assert code == 0 and json.loads(out) == {"user": "tg:5", "liked": 0, "disliked": 1}
    code, out, _ = run("forget", "--user", "tg:5")
    assert code == 0 and "nothing to forget" in out
    assert [t["id"] for t in json.loads(run("similar", "Wesnoth", "--json", "--user", "tg:5")[1])["tracks"]] == before
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error is exit status 2 with one line
        run("forget")
    assert usage.value.code == 2 and "--user" in capsys.readouterr().err
