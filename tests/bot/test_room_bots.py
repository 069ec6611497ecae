"""`/room` end to end: a Telegram group of three members and a Discord channel, through the real client
libraries against the fakes, and `moodtape room` on a chat log.

The bots note the reading of every message meant for them in a group (never the text); `/room` answers with
songs for the combined reading and says how many people it read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from moodtape.bot.cli import main
from moodtape.bot.discord import MoodtapeBot, build_bot
from moodtape.bot.discord import render as discord_render
from moodtape.bot.shared.room import ROOM_HEADINGS, ROOM_PRIVATE, discord_room, telegram_room
from moodtape.bot.telegram import build_application, start_telegram, stop_telegram
from moodtape.core.config import Settings
from moodtape.core.engine import Engine

from tests.conftest import make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
from tests.tiny_models import build_tiny_roberta, one_torch_thread  # noqa: F401 - an autouse fixture

BOT = "@moodtape_test_bot"
ANA = FakeTelegram.user(1001, "Ana")
BEN = FakeTelegram.user(1002, "Ben")
MIN = FakeTelegram.user(1003, "Min")
DEE = FakeTelegram.user(1004, "Dee")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "model")


def bot_settings(tmp_path: Path, tiny_model: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, emotion_model=str(tiny_model), korean_emotion_model=str(tiny_model),
                         user_cooldown_s=0, default_k=3, **overrides)


def listed_ids(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"^\d+\. .*#(\d+)$", text, flags=re.MULTILINE)]


# ---------------------------------------------------------------------------------------------- Telegram
@pytest.fixture
async def telegram(tmp_path: Path, tiny_model: Path) -> AsyncIterator[tuple[FakeTelegram, Engine]]:
    async with FakeTelegram() as server:
        settings = bot_settings(tmp_path, tiny_model, telegram_token=server.token, telegram_api_url=server.root)
        async with await Engine.open(settings) as engine:
            app = build_application(engine, settings)
            await start_telegram(app, poll_timeout_s=1)
            try:
                yield server, engine
            finally:
                await stop_telegram(app)
        assert server.unknown_methods == []


async def test_room_in_a_telegram_group_of_three(telegram: tuple[FakeTelegram, Engine]) -> None:
    server, engine = telegram
    group = server.group_chat()

    server.send_text(ANA, "/room", chat=group)
    empty = await server.wait_for_message(group["id"], contains="I haven't read anyone here yet")
    assert "reply_markup" not in empty

    # Three members talk to the bot three ways (a mention, /mood, a reply to it; one in Korean); a fourth
    # only chats with the others, which the bot never reads (privacy mode: it does not even get it).
    server.send_text(DEE, "i am so happy today", chat=group)
    server.send_text(ANA, f"{BOT} i am so happy today", chat=group)
    first = await server.wait_for_message(group["id"], contains="I read:", after=empty["message_id"])
    server.send_text(BEN, f"/mood{BOT} i feel scared and alone", chat=group)
    second = await server.wait_for_message(group["id"], contains="I read:", after=first["message_id"])
    server.send_text(MIN, "오늘 너무 행복해", chat=group, reply_to=first)
    third = await server.wait_for_message(group["id"], contains="I read:", after=second["message_id"])
    server.send_text(ANA, f"{BOT} so much fun at the party", chat=group)
    fourth = await server.wait_for_message(group["id"], contains="I read:", after=third["message_id"])

    notes = engine.rooms.notes(telegram_room(group["id"]))
    assert sorted({n.person for n in notes}) == ["tg:1001", "tg:1002", "tg:1003"] and len(notes) == 4
    assert all("happy" not in repr(n) and "party" not in repr(n) for n in notes)  # readings, never the texts

    server.send_text(BEN, f"/room{BOT}", chat=group)
    room = await server.wait_for_message(group["id"], contains="I read 3 people here",
                                         after=fourth["message_id"])
    assert "4 messages" in room["text"] and ROOM_HEADINGS["match"] in room["text"]
    ids = listed_ids(room["text"])
    assert len(ids) == 3
    *rows, save = server.buttons(room)
    assert [[b["callback_data"] for b in row] for row in rows] == [[f"fb:+:{i}", f"fb:-:{i}"] for i in ids]
    assert save[0]["callback_data"].startswith("sv:")  # the room's songs can be saved like any answer

    server.send_text(MIN, "/room lift", chat=group)
    lifted = await server.wait_for_message(group["id"], contains=ROOM_HEADINGS["lift"], after=room["message_id"])
    assert "I read 3 people here" in lifted["text"] and "step 3 of 3" in lifted["text"]

    server.send_text(ANA, "/room dance", chat=group)
    refused = await server.wait_for_message(group["id"], contains="not \"dance\"", after=lifted["message_id"])
    assert "lift" in refused["text"] and "Sorry" not in refused["text"]


async def test_room_in_a_private_telegram_chat_explains_itself(telegram: tuple[FakeTelegram, Engine]) -> None:
    server, engine = telegram
    server.send_text(ANA, "i am so happy today")  # a private mood: answered, but kept in no room
    await server.wait_for_message(ANA["id"], contains="I read:")
    server.send_text(ANA, "/room")
    reply = await server.wait_for_message(ANA["id"], contains="/room reads the mood of a group")
    assert reply["text"] == ROOM_PRIVATE
    assert len(engine.rooms) == 0


async def test_the_command_menu_offers_room(telegram: tuple[FakeTelegram, Engine]) -> None:
    server, _ = telegram
    await server.wait_for(lambda: server.commands, what="the command menu")
    assert "room" in {c["command"] for c in server.commands or []}


# ---------------------------------------------------------------------------------------------- Discord
@pytest.fixture
async def discord_bot(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
                      ) -> AsyncIterator[tuple[FakeDiscord, MoodtapeBot, Engine]]:
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    settings = bot_settings(tmp_path, tiny_model)
    try:
        async with await Engine.open(settings) as engine:
            bot = build_bot(engine, settings, guild_ready_timeout=0.05)
            task = asyncio.create_task(bot.start(fake.token))
            try:
                await fake.wait_until(lambda: bot.is_ready() or task.done(), 20, "the bot to be ready")
                if task.done():
                    task.result()
                yield fake, bot, engine
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
    finally:
        await fake.close()


async def test_room_in_a_discord_channel(discord_bot: tuple[FakeDiscord, MoodtapeBot, Engine]) -> None:
    fake, _, engine = discord_bot
    ann, bob, cy = fake.user("ann"), fake.user("bob"), fake.user("cy")
    assert "room" in {c["name"] for c in fake.commands[None]}

    [empty] = await fake.answered(await fake.slash("room", ann))
    assert "I haven't read anyone here yet" in empty.content

    # Two moods by /mood and one by a mention; a message that does not mention the bot arrives without its
    # text (no message-content intent) and is never read.
    await fake.answered(await fake.slash("mood", ann, text="i am so happy today"))
    await fake.answered(await fake.slash("mood", bob, text="this is terrible and i am sad"))
    await fake.post_message("just chatting", fake.user("dee"))
    await fake.post_message("what a surprise", cy, mention_bot=True)
    await fake.wait_until(lambda: fake.channel_messages(), 30, "the reply to the mention")
    notes = engine.rooms.notes(discord_room(fake.channel_id))
    assert sorted(n.person for n in notes) == sorted(f"dc:{u['id']}" for u in (ann, bob, cy))

    [room] = await fake.answered(await fake.slash("room", bob))
    assert not room.ephemeral and len(room.embeds) == 1
    embed = room.embeds[0]
    assert embed["title"] == ROOM_HEADINGS["match"]
    assert "I read 3 people here (3 messages" in embed["description"]
    assert len(embed["fields"]) == 3 and all("#" in f["value"] for f in embed["fields"])
    buttons = [b for b in room.buttons if b["custom_id"].startswith("moodtape:fb:")]
    assert len(buttons) == 6 and all(b["custom_id"].endswith(":match") for b in buttons)

    [steered] = await fake.answered(await fake.slash("room", cy, steer="calm"))
    assert steered.embeds[0]["title"] == ROOM_HEADINGS["calm"]

    [private] = await fake.answered(await fake.slash("room", ann, dm=True))
    assert private.ephemeral and private.content == ROOM_PRIVATE
    assert discord_render.APOLOGY not in private.content


# ---------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def cli_env(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOODTAPE_EMOTION_MODEL", str(tiny_model))
    monkeypatch.setenv("MOODTAPE_KOREAN_EMOTION_MODEL", str(tiny_model))
    return tmp_path


def test_room_cli_reads_a_chat_log(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = cli_env / "chat.txt"
    lines = ["ana: i am so happy today", "", "min: 오늘 너무 행복해"]
    lines += ["loud: this is terrible and i am sad"] * 10 + ["ben: what a surprise"]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code = main(["--db", str(cli_env / "x.db"), "room", str(log), "--json", "-k", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["room"]["people"] == 4 and data["room"]["messages"] == 13
    # Ten of the thirteen lines, but one capped share: no more than a third of the room.
    assert data["room"]["shares"]["loud"] < 1 / 3 + 0.01
    assert data["strategy"] == "match" and len(data["tracks"]) == 2
    assert set(data["mood"]) >= {"label", "probs", "valence", "arousal"}

    code = main(["--db", str(cli_env / "x.db"), "room", str(log), "--strategy", "lift"])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith("I read 4 people in 13 lines; each one's weight: ")
    assert ROOM_HEADINGS["lift"] in out


def test_room_cli_reports_bad_lines_and_refuses_empty_logs(cli_env: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        b"ana: so much fun at the party\nno colon here\nben:   \n")))
    code = main(["--db", str(cli_env / "x.db"), "room", "-"])
    out, err = capsys.readouterr()
    assert code == 1 and "I read 1 person in 1 line" in out
    assert "line 2: not a `name: message` line, skipped" in err and "line 3: ben wrote nothing" in err

    empty = cli_env / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    code = main(["--db", str(cli_env / "x.db"), "room", str(empty)])
    _, err = capsys.readouterr()
    assert code == 2 and "no `name: message` lines" in err and "Traceback" not in err
    code = main(["--db", str(cli_env / "x.db"), "room", str(cli_env / "missing.txt")])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot read" in err
