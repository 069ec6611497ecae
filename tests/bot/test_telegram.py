"""The Telegram bot end to end: the real python-telegram-bot client against a fake Bot API server.

Each test starts the fake server (tests/fakes/telegram_server.py), builds the application exactly as
`moodtape run` does, polls it for updates, and then acts as a person would: sends text, shares audio, taps
buttons.  Assertions are on what that person would see (the messages in the chat after edits, the button
answers) and on what the engine stored.  The fake refuses what Telegram refuses (bad HTML, long texts,
oversized callback data, unchanged edits), so a rendering bug fails here as it would fail in production.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moodtape.bot.telegram import build_application, check_telegram, start_telegram, stop_telegram
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES
from telegram.ext import Application

from tests.conftest import AUDIO, make_settings
from tests.fakes.http_server import FakeWeb
from tests.fakes.telegram_server import FakeTelegram
from tests.tiny_models import EKMAN, build_tiny_roberta

APOLOGY = "Sorry, something went wrong"
ANA = FakeTelegram.user(1001, "Ana")
BEN = FakeTelegram.user(1002, "Ben")
ADMIN = FakeTelegram.user(7, "Admin")


@dataclass
class Running:
    server: FakeTelegram
    engine: Engine
    app: Application
    settings: Settings


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
async def start_bot(tmp_path: Path, tiny_model: Path) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start fake server + engine + bot with settings overrides; everything is stopped after the test."""
    async with AsyncExitStack() as stack:
        servers: list[FakeTelegram] = []

        async def start(**overrides: Any) -> Running:
            server = await stack.enter_async_context(FakeTelegram())
            servers.append(server)
            values: dict[str, Any] = {
                "telegram_token": server.token, "telegram_api_url": server.root, "user_cooldown_s": 0,
                "emotion_model": str(tiny_model), "korean_emotion_model": str(tiny_model),
            }
            values.update(overrides)
            settings = make_settings(tmp_path, **values)
            engine = await Engine.open(settings)
            stack.push_async_callback(engine.close)
            app = build_application(engine, settings)
            await start_telegram(app, poll_timeout_s=1)
            stack.push_async_callback(stop_telegram, app)
            return Running(server, engine, app, settings)

        yield start
    for server in servers:  # the bot only ever called methods Telegram has (and the fake implements)
        assert server.unknown_methods == []


@pytest.fixture
async def bot(start_bot: Callable[..., Awaitable[Running]]) -> Running:
    return await start_bot()


def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def listed_ids(text: str) -> list[int]:
    """Track ids of the numbered song lines ("1. Artist - Title · Album  #42")."""
    return [int(m) for m in re.findall(r"^\d+\. .*#(\d+)$", text, flags=re.MULTILINE)]


def assert_feedback_keyboard(server: FakeTelegram, message: dict[str, Any]) -> list[int]:
    """Every listed song has its own 👍 and 👎 button, in list order, then one 💾 Save; returns the ids."""
    ids = listed_ids(message["text"])
    assert ids, message["text"]
    *rows, save = server.buttons(message)
    assert [[b["callback_data"] for b in row] for row in rows] == [[f"fb:+:{i}", f"fb:-:{i}"] for i in ids]
    assert len(save) == 1 and save[0]["callback_data"].startswith("sv:") and save[0]["text"].startswith("💾")
    assert all(row[0]["text"].startswith("👍") and row[1]["text"].startswith("👎") for row in rows)
    return ids


# ---------------------------------------------------------------------------------------------- start, help
async def test_startup_publishes_the_command_menu_and_help_explains_the_bot(bot: Running) -> None:
    server = bot.server
    await server.wait_for(lambda: server.calls_to("getUpdates"), what="polling")
    methods = [c.method for c in server.calls]
    assert methods.index("getMe") < methods.index("deleteWebhook") < methods.index("getUpdates")
    assert server.commands is not None
    menu = {c["command"]: c["description"] for c in server.commands}
    assert set(menu) == {"mood", "similar", "continue", "strategy", "room", "forget", "add", "help"}
    assert all(menu.values())

    server.send_text(ANA, "/start")
    reply = await server.wait_for_message(ANA["id"], contains="Moodtape")
    for command in ("/mood", "/similar", "/strategy", "/add", "/help"):
        assert command in reply["text"]
    for strategy in STRATEGIES:
        assert strategy in reply["text"]


# ---------------------------------------------------------------------------------------------- moods
async def test_a_mood_message_is_answered_with_songs_and_rating_buttons(bot: Running) -> None:
    server = bot.server
    server.send_text(ANA, "everything went wrong today")
    reply = await server.wait_for_message(ANA["id"], contains="I read:")
    first_line = reply["text"].splitlines()[0]
    assert any(label in first_line for label in EKMAN), first_line  # the tiny model's labels, with shares
    assert "%" in first_line
    assert "Songs that match your mood" in reply["text"]  # the default strategy
    ids = assert_feedback_keyboard(server, reply)
    assert len(ids) == bot.settings.default_k
    assert any(c.params.get("action") == "typing" for c in server.calls_to("sendChatAction"))

    server.send_text(ANA, "/mood so much fun at the party")
    second = await server.wait_for_message(ANA["id"], contains="I read:", after=reply["message_id"])
    assert_feedback_keyboard(server, second)


async def test_rating_buttons_store_feedback_and_thank_the_person(bot: Running) -> None:
    server = bot.server
    server.send_text(ANA, "/similar Wesnoth")
    reply = await server.wait_for_message(ANA["id"], contains="Songs like")
    first, second = assert_feedback_keyboard(server, reply)[:2]

    up = server.click(ANA, reply, f"fb:+:{first}")
    answer = await server.wait_for(lambda: server.callback_answer(up), what="the 👍 answer")
    assert answer["text"].startswith("Thanks!")
    down = server.click(BEN, reply, f"fb:-:{second}")
    await server.wait_for(lambda: server.callback_answer(down), what="the 👎 answer")

    store, _ = await bot.engine.catalogue()
    assert sorted(await store.feedback()) == sorted([(first, "tg:1001", 1), (second, "tg:1002", -1)])

    # Changing one's mind on the same recommendation updates the vote instead of adding a second one.
    again = server.click(ANA, reply, f"fb:-:{first}")
    await server.wait_for(lambda: server.callback_answer(again), what="the second answer")
    assert sorted(await store.feedback()) == sorted([(first, "tg:1001", -1), (second, "tg:1002", -1)])


# ---------------------------------------------------------------------------------------------- similar
async def test_similar_finds_songs_like_a_demo_track(bot: Running) -> None:
    store, catalogue = await bot.engine.catalogue()
    assert catalogue == "demo"
    query = next(t for t in await store.list_tracks(status="ready") if t.artist)
    bot.server.send_text(ANA, f"/similar {query.artist} - {query.title}")
    reply = await bot.server.wait_for_message(ANA["id"], contains="Songs like")
    assert reply["text"].startswith(f"Songs like {query.artist} - {query.title} #{query.id}")
    assert "demo catalogue" in reply["text"]
    ids = assert_feedback_keyboard(bot.server, reply)
    assert len(ids) == bot.settings.default_k and query.id not in ids
    assert "similarity" in reply["text"]  # every song comes with its reason


async def test_similar_without_a_query_explains_how_to_ask(bot: Running) -> None:
    bot.server.send_text(ANA, "/similar")
    reply = await bot.server.wait_for_message(ANA["id"], contains="Tell me a song")
    assert "reply_markup" not in reply


async def test_similar_never_reads_files_on_the_server(bot: Running, tmp_path: Path) -> None:
    secret = tmp_path / "beat.ogg"
    secret.write_bytes((AUDIO / "beat_a.ogg").read_bytes())
    bot.server.send_text(ANA, f"/similar {secret}")
    reply = await bot.server.wait_for_message(ANA["id"])
    assert "Songs like" not in reply["text"] and APOLOGY not in reply["text"]


async def test_a_bad_link_is_answered_politely(start_bot: Callable[..., Awaitable[Running]]) -> None:
    bot = await start_bot(allow_private_networks=True)
    server = bot.server
    with FakeWeb() as web:
        server.send_text(ANA, f"/similar {web.url('/status/404')}")
        reply = await server.wait_for_message(ANA["id"])
        server.send_text(BEN, f"/similar {web.url('/page.mp3')}")  # a web page where audio was promised
        page = await server.wait_for_message(BEN["id"])
    for answer in (reply, page):
        assert APOLOGY not in answer["text"] and "Songs like" not in answer["text"]
        assert "reply_markup" not in answer
    assert "404" in reply["text"], reply["text"]


async def test_similar_to_a_link(start_bot: Callable[..., Awaitable[Running]]) -> None:
    bot = await start_bot(allow_private_networks=True)
    with FakeWeb() as web:
        url = web.url("/audio/beat_a.ogg")
        bot.server.send_text(ANA, f"/similar {url}")
        reply = await bot.server.wait_for_message(ANA["id"], contains="Songs like", timeout=30)
        assert web.hits["/audio/beat_a.ogg"] >= 1
    assert len(assert_feedback_keyboard(bot.server, reply)) == bot.settings.default_k


async def test_links_to_private_addresses_are_refused(bot: Running) -> None:
    """Links come from strangers: one to the host's own network is refused without being fetched."""
    with FakeWeb() as web:
        bot.server.send_text(ANA, f"/similar {web.url('/audio/beat_a.ogg')}")
        reply = await bot.server.wait_for_message(ANA["id"])
        assert web.hits == {}
    assert APOLOGY not in reply["text"] and "Songs like" not in reply["text"]


# ---------------------------------------------------------------------------------------------- audio
@pytest.mark.parametrize(
    ("kind", "name", "mime", "shown"),
    [
        ("audio", "beat_a.ogg", "audio/ogg", "beat_a.ogg"),
        ("voice", "", "audio/ogg", "voice-note.ogg"),
        ("document", "beat_b.mp3", "application/octet-stream", "beat_b.mp3"),
    ],
)
async def test_shared_audio_is_answered_with_similar_songs(
    bot: Running, kind: str, name: str, mime: str, shown: str
) -> None:
    server = bot.server
    data = (AUDIO / (name or "beat_a.ogg")).read_bytes()
    server.send_audio(ANA, data, kind=kind, file_name=name, mime_type=mime)
    placeholder = await server.wait_for_message(ANA["id"], contains="Listening to")
    assert shown in placeholder["text"]
    await server.wait_for(
        lambda: "Songs like" in server.messages[(ANA["id"], placeholder["message_id"])]["text"],
        what="the placeholder edited into the answer",
    )
    reply = server.messages[(ANA["id"], placeholder["message_id"])]
    assert reply["text"].startswith(f"Songs like {shown}")
    assert "it sounds" in reply["text"]  # the clip's own mood
    assert len(assert_feedback_keyboard(server, reply)) == bot.settings.default_k
    assert [c.status for c in server.calls_to("download")] == [200]
    assert len(server.bot_messages(ANA["id"])) == 1  # progress and answer are one message


async def test_replying_similar_to_an_audio_message_uses_that_audio(bot: Running) -> None:
    server = bot.server
    group = server.group_chat()
    clip = server.send_audio(ANA, (AUDIO / "pad_a.mp3").read_bytes(), file_name="pad_a.mp3", chat=group,
                             mime_type="audio/mpeg")
    server.send_text(BEN, "/similar", chat=group, reply_to=clip)
    placeholder = await server.wait_for_message(group["id"], contains="Listening to pad_a.mp3")
    await server.wait_for(
        lambda: "Songs like pad_a.mp3" in server.messages[(group["id"], placeholder["message_id"])]["text"],
        what="the answer about the replied clip",
    )
    # The clip itself, shared without mentioning the bot, got no answer of its own.
    assert len(server.bot_messages(group["id"])) == 1


async def test_files_over_the_limits_are_refused_before_or_at_download(
    start_bot: Callable[..., Awaitable[Running]],
) -> None:
    bot = await start_bot(max_file_bytes=10_000)
    server = bot.server
    big = (AUDIO / "beat_a.ogg").read_bytes()
    assert len(big) > 10_000
    server.send_audio(ANA, big, file_name="long.ogg")
    reply = await server.wait_for_message(ANA["id"], contains="too big")
    assert "long.ogg" in reply["text"]
    assert server.calls_to("getFile") == []  # refused from the size Telegram told us, nothing downloaded

    # Telegram's own getFile limit (20 MB on the cloud API) becomes a friendly message too.
    server.send_audio(ANA, b"\x00" * 100, file_name="huge.ogg", too_big=True)
    second = await server.wait_for_message(ANA["id"], contains="huge.ogg", after=reply["message_id"])
    await server.wait_for(lambda: "too big" in second["text"], what="the placeholder edited into the refusal")
    assert "20 MB" in second["text"] and APOLOGY not in second["text"]
    assert [c.status for c in server.calls_to("getFile")] == [400] and server.calls_to("download") == []


async def test_broken_audio_gets_the_decoders_reason(bot: Running) -> None:
    server = bot.server
    broken = (AUDIO / "corrupt.mp3").read_bytes()
    server.send_audio(ANA, broken, file_name="corrupt.mp3", mime_type="audio/mpeg")
    placeholder = await server.wait_for_message(ANA["id"], contains="Listening to")

    def answered() -> str | None:
        text = server.messages[(ANA["id"], placeholder["message_id"])]["text"]
        return text if "Listening" not in text else None

    text = await server.wait_for(answered, what="the placeholder edited into an error")
    assert text.startswith("corrupt.mp3") and APOLOGY not in text


# ---------------------------------------------------------------------------------------------- admin /add
async def test_non_admins_cannot_add(start_bot: Callable[..., Awaitable[Running]]) -> None:
    bot = await start_bot(telegram_admins=[ADMIN["id"]], allow_private_networks=True)
    with FakeWeb() as web:
        bot.server.send_text(ANA, f"/add {web.url('/audio/beat_b.mp3')}")
        reply = await bot.server.wait_for_message(ANA["id"])
        assert "only the bot's admins" in reply["text"]
        assert web.hits == {}
    assert await bot.engine.store.count_tracks() == 0


async def test_an_admin_adds_a_link(start_bot: Callable[..., Awaitable[Running]]) -> None:
    bot = await start_bot(telegram_admins=[ADMIN["id"]], allow_private_networks=True)
    server = bot.server
    with FakeWeb() as web:
        url = web.url("/audio/beat_b.mp3")
        server.send_text(ADMIN, f"/add {url}")
        placeholder = await server.wait_for_message(ADMIN["id"], contains="Adding")

        def answered() -> str | None:
            text = server.messages[(ADMIN["id"], placeholder["message_id"])]["text"]
            return text if "Adding" not in text else None

        text = await server.wait_for(answered, timeout=30, what="the /add result")
        assert web.hits["/audio/beat_b.mp3"] >= 1
        assert APOLOGY not in text
        tracks = await bot.engine.store.list_tracks()
        assert len(tracks) == 1 and tracks[0].added_by == "tg:7"

        # A link that leads to no audio is a polite answer, and nothing is added.
        server.send_text(ADMIN, f"/add {web.url('/status/404')}")
        # The placeholder may already be edited into the answer when we look: match any next message.
        second = await server.wait_for_message(ADMIN["id"], after=placeholder["message_id"])
        key = (ADMIN["id"], second["message_id"])
        await server.wait_for(lambda: "Adding" not in server.messages[key]["text"], what="the answer")
    assert APOLOGY not in server.messages[key]["text"] and "404" in server.messages[key]["text"]
    assert await bot.engine.store.count_tracks() == 1


# ---------------------------------------------------------------------------------------------- groups
async def test_group_messages_are_read_only_when_meant_for_the_bot(bot: Running) -> None:
    server = bot.server
    group = server.group_chat()
    server.send_text(ANA, "i am so happy today", chat=group)  # chatter between people
    server.send_text(BEN, "@moodtape_test_bot i feel scared and alone", chat=group)
    reply = await server.wait_for_message(group["id"], contains="I read:")
    assert_feedback_keyboard(server, reply)

    server.send_text(ANA, "what a surprise", chat=group, reply_to=reply)  # a reply to the bot
    second = await server.wait_for_message(group["id"], contains="I read:", after=reply["message_id"])
    assert second["message_id"] > reply["message_id"]
    server.send_text(BEN, "/mood@moodtape_test_bot i am angry at everything", chat=group)
    third = await server.wait_for_message(group["id"], contains="I read:", after=second["message_id"])
    assert third["reply_to_message"]["text"].startswith("/mood@")
    # Only the three addressed messages were answered: the first line of chatter got nothing.
    assert len(server.bot_messages(group["id"])) == 3
    assert server.bot_messages(group["id"])[0]["reply_to_message"]["text"].startswith("@moodtape_test_bot")


# ---------------------------------------------------------------------------------------------- strategy
async def test_strategy_buttons_and_direct_choice(bot: Running) -> None:
    server = bot.server
    server.send_text(ANA, "/strategy")
    menu = await server.wait_for_message(ANA["id"], contains="Your strategy: match")
    assert sorted(b["callback_data"] for row in server.buttons(menu) for b in row) == sorted(
        [f"st:{name}" for name in STRATEGIES] + ["pic:on"]  # and the picture of the mood, off by default
    )
    query = server.click(ANA, menu, "st:lift")
    answer = await server.wait_for(lambda: server.callback_answer(query), what="the strategy answer")
    assert answer["text"] == "Strategy: lift"
    await server.wait_for(
        lambda: "Your strategy: lift" in server.messages[(ANA["id"], menu["message_id"])]["text"],
        what="the menu showing the new choice",
    )
    assert any(b["text"] == "✅ lift" for row in server.buttons(menu) for b in row)
    assert await bot.engine.strategy_for("tg:1001") == "lift"

    server.send_text(ANA, "everything went wrong today")
    mood = await server.wait_for_message(ANA["id"], contains="I read:")
    assert "Songs to lift you up" in mood["text"]

    server.send_text(ANA, "/strategy calm")
    await server.wait_for_message(ANA["id"], contains="Your strategy: calm", after=mood["message_id"])
    assert await bot.engine.strategy_for("tg:1001") == "calm"
    assert await bot.engine.strategy_for("tg:1002") == "match"  # one person's choice is theirs only

    server.send_text(ANA, "/strategy loud")
    refused = await server.wait_for_message(ANA["id"], contains="I know these strategies")
    assert APOLOGY not in refused["text"]
    assert await bot.engine.strategy_for("tg:1001") == "calm"


# ---------------------------------------------------------------------------------------------- robustness
async def test_flood_control_429_is_retried_and_the_reply_arrives(bot: Running) -> None:
    server = bot.server
    server.fail_once("sendMessage", retry_after=1)
    server.send_text(ANA, "/similar Wesnoth")
    reply = await server.wait_for_message(ANA["id"], contains="Songs like")
    assert [c.status for c in server.calls_to("sendMessage")] == [429, 200]
    assert_feedback_keyboard(server, reply)


async def test_a_user_sending_too_fast_gets_one_slow_down(
    start_bot: Callable[..., Awaitable[Running]],
) -> None:
    bot = await start_bot(user_cooldown_s=60)
    server = bot.server
    for text in ("i am so happy today", "i am angry at everything", "what a surprise", "that is disgusting"):
        server.send_text(ANA, text)
    server.send_text(BEN, "i love this song")  # someone else is not slowed down by Ana
    await server.wait_for_message(BEN["id"], contains="I read:")
    await server.wait_for(lambda: len(server.bot_messages(ANA["id"])) >= 2, what="Ana's answers")
    texts = [m["text"] for m in server.bot_messages(ANA["id"])]
    assert sum("I read:" in t for t in texts) == 1
    assert sum("Slow down" in t for t in texts) == 1
    assert len(texts) == 2  # no queue of answers
    # /help is never throttled.
    server.send_text(ANA, "/help")
    await server.wait_for_message(ANA["id"], contains="Commands")


async def test_an_engine_failure_becomes_an_apology_and_the_bot_keeps_working(
    bot: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = bot.server

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database melted")

    monkeypatch.setattr(bot.engine, "similar", broken)
    monkeypatch.setattr(bot.engine, "feedback", broken)
    with caplog.at_level(logging.ERROR, logger="moodtape.bot.telegram"):
        server.send_text(ANA, "/similar Wesnoth")
        reply = await server.wait_for_message(ANA["id"], contains=APOLOGY)
    assert "melted" not in reply["text"]  # no internals shown to the person
    assert any(r.exc_info and str(r.exc_info[1]) == "the database melted" for r in caplog.records)

    # A button whose engine call fails still gets an answer (the spinner stops).
    server.send_text(ANA, "so much fun at the party")
    mood = await server.wait_for_message(ANA["id"], contains="I read:")
    first = listed_ids(mood["text"])[0]
    query = server.click(ANA, mood, f"fb:+:{first}")
    answer = await server.wait_for(lambda: server.callback_answer(query), what="the button answer")
    assert answer["text"].startswith("Sorry")

    monkeypatch.undo()
    server.send_text(ANA, "/similar Wesnoth")
    await server.wait_for_message(ANA["id"], contains="Songs like", after=mood["message_id"])


async def test_unknown_commands_and_stale_buttons_get_an_answer(bot: Running) -> None:
    server = bot.server
    server.send_text(ANA, "/dance")
    await server.wait_for_message(ANA["id"], contains="/help")
    server.send_text(ANA, "/strategy")
    menu = await server.wait_for_message(ANA["id"], contains="Your strategy")
    menu_now = server.messages[(ANA["id"], menu["message_id"])]
    menu_now["reply_markup"]["inline_keyboard"].append([{"text": "old", "callback_data": "v0:something"}])
    query = server.click(ANA, menu, "v0:something")
    answer = await server.wait_for(lambda: server.callback_answer(query), what="the stale button answer")
    assert "no longer works" in answer["text"]


# ---------------------------------------------------------------------------------------------- tokens
async def test_missing_and_rejected_tokens_are_one_line_errors(tmp_path: Path) -> None:
    async with FakeTelegram() as server:
        engine_settings = make_settings(tmp_path, telegram_api_url=server.root)
        engine = await Engine.open(engine_settings)
        try:
            with pytest.raises(UserError, match="MOODTAPE_TELEGRAM_TOKEN"):
                build_application(engine, engine_settings)

            wrong = make_settings(tmp_path, telegram_api_url=server.root, telegram_token="999:wrong")
            with pytest.raises(UserError, match="Telegram rejected the token") as raised:
                await check_telegram(wrong)
            assert "999:wrong" not in str(raised.value) and "\n" not in str(raised.value)
            app = build_application(engine, wrong)
            with pytest.raises(UserError, match="Telegram rejected the token"):
                await start_telegram(app, poll_timeout_s=1)
            await stop_telegram(app)  # safe after a failed start

            right = make_settings(tmp_path, telegram_api_url=server.root, telegram_token=server.token)
            assert await check_telegram(right) == "@moodtape_test_bot"

            unreachable = make_settings(tmp_path, telegram_api_url=closed_port_url(),
                                        telegram_token=server.token)
            with pytest.raises(UserError, match="cannot reach the Telegram Bot API") as raised:
                await check_telegram(unreachable)
            assert server.token not in str(raised.value)
        finally:
            await engine.close()
    assert {c.status for c in server.calls_to("getMe")} == {401, 200}


# ---------------------------------------------------------------------------------------------- webhook mode
async def test_webhook_mode_registers_the_url_and_answers_updates_telegram_posts(
    start_bot: Callable[..., Awaitable[Running]]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/updates"  # behind a TLS proxy in production; the fake takes http
    bot = await start_bot(telegram_webhook_url=url, telegram_webhook_port=port)
    server = bot.server
    assert server.webhook is not None and server.webhook["url"] == url
    secret = server.webhook["secret_token"]
    assert secret and len(secret) >= 32  # a random one, since none was configured
    assert set(server.webhook["allowed_updates"]) == {"message", "callback_query"}
    assert not server.calls_to("getUpdates")  # no polling beside the webhook

    server.send_text(ANA, "everything went wrong today")
    reply = await server.wait_for_message(ANA["id"], contains="I read:")
    assert [status for _, status in server.webhook_deliveries] == [200]  # POSTed once, accepted
    rows = server.buttons(reply)
    server.click(ANA, reply, rows[0][0]["callback_data"])  # callback queries arrive by webhook too
    await server.wait_for(lambda: [c for c in server.calls_to("answerCallbackQuery")], what="button answer")


async def test_webhook_posts_without_telegrams_secret_are_refused(
    start_bot: Callable[..., Awaitable[Running]]
) -> None:
    port = free_port()
    bot = await start_bot(telegram_webhook_url=f"http://127.0.0.1:{port}/hook", telegram_webhook_port=port,
                          telegram_webhook_secret="configured_secret-123")
    server = bot.server
    assert server.webhook is not None and server.webhook["secret_token"] == "configured_secret-123"
    forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": {"id": 1001, "type": "private"},
                                             "from": ANA, "text": "/add http://evil.example/a.mp3"}}
    body = json.dumps(forged).encode()
    assert await server.deliver_raw(body, secret=None) == 403
    assert await server.deliver_raw(body, secret="guessed") == 403
    server.send_text(ANA, "/help")  # the real Telegram's delivery still works
    await server.wait_for_message(ANA["id"], contains="Moodtape")
    assert not [c for c in server.calls_to("sendMessage") if "evil" in json.dumps(c.params)]
    assert len([c for c in server.calls_to("sendMessage") if c.params.get("chat_id") == 1001]) == 1


async def test_webhook_misconfiguration_is_a_one_line_error(tmp_path: Path, tiny_model: Path) -> None:
    async with FakeTelegram() as server:
        base = {"telegram_token": server.token, "telegram_api_url": server.root, "emotion_model": str(tiny_model)}
        engine = await Engine.open(make_settings(tmp_path, **base))
        try:
            for overrides, message in (
                ({"telegram_webhook_url": "ftp://bot.example/hook"}, "full https:// URL"),
                ({"telegram_webhook_url": "https://bot.example/hook?x=1"}, "query"),
                ({"telegram_webhook_url": "https://bot.example/hook", "telegram_webhook_secret": "no spaces"},
                 "MOODTAPE_TELEGRAM_WEBHOOK_SECRET"),
            ):
                app = build_application(engine, make_settings(tmp_path, **base, **overrides))
                with pytest.raises(UserError, match=message):
                    await start_telegram(app)
                await stop_telegram(app)
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                port = taken.getsockname()[1]
                settings = make_settings(tmp_path, **base, telegram_webhook_url=f"http://127.0.0.1:{port}/h",
                                         telegram_webhook_port=port)
                app = build_application(engine, settings)
                with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}") as raised:
                    await start_telegram(app)
                assert "\n" not in str(raised.value)
                await stop_telegram(app)
        finally:
            await engine.close()


# ---------------------------------------------------------------------------------------------- the fake
async def test_the_fake_refuses_what_telegram_refuses(bot: Running) -> None:
    """The other tests are only as strict as the fake: it must reject what the real Bot API rejects."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ParseMode
    from telegram.error import BadRequest

    server, tg = bot.server, bot.app.bot
    server.private_chat(ANA)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await tg.send_message(ANA["id"], "<b>unclosed", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await tg.send_message(ANA["id"], "Tom & Jerry <3", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)too long"):
        await tg.send_message(ANA["id"], "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await tg.send_message(ANA["id"], "hi", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("b", callback_data="x" * 65)]]))
    sent = await tg.send_message(ANA["id"], "<b>Tom &amp; Jerry</b>", parse_mode=ParseMode.HTML)
    assert server.bot_messages(ANA["id"])[-1]["text"] == "Tom & Jerry"
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await sent.edit_text("<b>Tom &amp; Jerry</b>", parse_mode=ParseMode.HTML)
