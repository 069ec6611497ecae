"""Telegram conventions through the real python-telegram-bot: the command menu in English and Korean, /start
deep links that open with a strategy, and inline mode (`@bot rainy day blues` in any chat)."""

from __future__ import annotations

import re

from moodtape.bot.shared.help import COMMANDS
from moodtape.bot.shared.help_ko import DESCRIPTIONS
from moodtape.bot.telegram.handlers import user_ref

from tests.bot.test_telegram import ANA, APOLOGY, Running, bot, start_bot, tiny_model  # noqa: F401 - fixtures
from tests.fakes.telegram_server import FakeTelegram

BO = FakeTelegram.user(1002, "Bo")


async def test_the_menu_is_published_in_english_and_korean(bot: Running) -> None:  # noqa: F811
    server = bot.server
    await server.wait_for(lambda: "ko" in server.commands_by_language or None, what="the Korean menu")
    english = server.commands_by_language[""]
    korean = server.commands_by_language["ko"]
    assert [c["command"] for c in english] == [c["command"] for c in korean] == [c.name for c in COMMANDS]
    assert [c["description"] for c in korean] == [DESCRIPTIONS[c.name] for c in COMMANDS]
    assert all(re.search("[가-힣]", c["description"]) for c in korean)


async def test_a_deep_link_opens_with_a_strategy(bot: Running) -> None:  # noqa: F811
    server = bot.server
    server.send_text(ANA, "/start mood-calm")  # what t.me/<bot>?start=mood-calm sends
    reply = await server.wait_for_message(ANA["id"], contains="calm")
    assert APOLOGY not in reply["text"]
    assert await bot.engine.strategy_for(user_ref(ANA["id"])) == "calm"
    server.send_text(BO, "/start nonsense-payload")
    reply = await server.wait_for_message(BO["id"])
    assert "Moodtape" in reply["text"]  # the usual welcome, nothing changed
    assert await bot.engine.strategy_for(user_ref(BO["id"])) == "match"


async def test_inline_queries_answer_with_songs_and_are_cached(bot: Running) -> None:  # noqa: F811
    server = bot.server
    calls = 0
    real_chat = bot.engine.chat

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await real_chat(*args, **kwargs)

    bot.engine.chat = counted  # type: ignore[method-assign]
    first = server.inline_query(ANA, "rainy day blues")
    answer = await server.wait_for(lambda: server.inline_answers.get(first), what="the inline answer")
    results = answer["results"]
    assert 1 <= len(results) <= 8 and all(r["type"] == "article" for r in results)
    assert all("Moodtape" in r["input_message_content"]["message_text"] for r in results)
    assert int(answer["cache_time"]) >= 60
    again = server.inline_query(BO, "  Rainy day   BLUES ")  # the same words: from the cache
    cached = await server.wait_for(lambda: server.inline_answers.get(again), what="the cached answer")
    assert [r["id"] for r in cached["results"]] == [r["id"] for r in results] and calls == 1
    short = server.inline_query(ANA, "ra")
    hint = await server.wait_for(lambda: server.inline_answers.get(short), what="the hint")
    assert hint["results"] == [] and hint["button"]["start_parameter"] == "inline"
