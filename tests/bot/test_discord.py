"""The Discord bot as people use it: the real discord.py against a fake Discord REST + gateway server.

Each test starts `tests/fakes/discord_server.FakeDiscord`, points discord.py at it, runs `build_bot(...)` in
the test's event loop, then types slash commands, clicks buttons and writes messages the way the Discord
client would, and asserts on what the fake recorded: the messages people see, whether they are ephemeral,
and what ended up in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import discord.webhook.async_
import pytest
import yarl
from moodtape.bot.discord import MoodtapeBot, build_bot, intents, render, run_discord
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError

from tests.conftest import AUDIO, make_settings
from tests.fakes.discord_server import (
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    PRIVILEGED_INTENTS,
    FakeDiscord,
    Message,
)
from tests.tiny_models import build_tiny_roberta


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("roberta") / "model")


@pytest.fixture
def bot_settings(tmp_path: Path, tiny_model: Path) -> Settings:
    return make_settings(tmp_path, emotion_model=str(tiny_model), korean_emotion_model=str(tiny_model),
                         user_cooldown_s=0, discord_admin_role="DJ", default_k=3)


@pytest.fixture
async def bot_engine(bot_settings: Settings) -> AsyncIterator[Engine]:
    engine = await Engine.open(bot_settings)
    try:
        yield engine
    finally:
        await engine.close()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    # discord.py has no public option for another Discord; these two class attributes are where it looks.
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def running(engine: Engine, settings: Settings, fake: FakeDiscord) -> AsyncIterator[MoodtapeBot]:
    """The bot logged in to the fake, READY, its commands synced; closed (and awaited) afterwards."""
    bot = build_bot(engine, settings, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until(lambda: bot.is_ready() or task.done(), 20, "the bot to be ready")
        if task.done():
            task.result()  # raises what went wrong
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def bot(bot_engine: Engine, bot_settings: Settings, fake: FakeDiscord) -> AsyncIterator[MoodtapeBot]:
    async with running(bot_engine, bot_settings, fake) as started:
        yield started


def feedback_buttons(message: Message) -> list[dict[str, Any]]:
    return [b for b in message.buttons if b["custom_id"].startswith("moodtape:fb:")]


# ---------------------------------------------------------------------- the guard on discord.py internals
def test_discord_py_internals_the_tests_rely_on_are_still_there() -> None:
    """Fails loudly when a discord.py upgrade moves the two hooks that point it at the fake server.

    If this fails, every other test here would try to reach the real Discord: find the new hooks first.
    """
    version = discord.__version__
    base = discord.http.Route.BASE
    assert isinstance(base, str) and base.startswith("https://discord.com/api/v"), version
    assert discord.http.Route("GET", "/users/@me").url == base + "/users/@me", version
    assert discord.webhook.async_.Route is discord.http.Route, f"interaction replies no longer use Route ({version})"
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    assert isinstance(gateway, yarl.URL) and gateway.host == "gateway.discord.gg", version
    assert "cls.DEFAULT_GATEWAY" in inspect.getsource(discord.gateway.DiscordWebSocket.from_client), version


# ---------------------------------------------------------------------- start-up
async def test_logs_in_without_privileged_intents_and_syncs_the_commands(bot: MoodtapeBot,
                                                                          fake: FakeDiscord) -> None:
    assert fake.identify is not None and fake.intents & PRIVILEGED_INTENTS == 0
    assert fake.intents == intents().value
    names = {c["name"]: c for c in fake.commands[None]}
    assert set(names) == {"mood", "similar", "continue", "room", "forget", "add", "strategy", "help",
                          "Songs like this"}
    assert names["Songs like this"]["type"] == 3  # a message context-menu command
    add = names["add"]
    assert int(add["default_member_permissions"]) == MANAGE_GUILD  # hidden from members by default
    assert add["contexts"] == [0]  # server channels only
    assert {o["name"] for o in names["similar"]["options"]} == {"query", "attachment"}
    choice = names["strategy"]["options"][0]
    assert choice["name"] == "choice" and choice["autocomplete"]  # the strategies are suggested as you type
    assert names["similar"]["options"][0]["autocomplete"]  # so are catalogue songs
    assert fake.calls_to("GET", "/oauth2/applications/@me")


async def test_help_is_answered_at_once_and_privately(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    asked = await fake.slash("help", fake.user("ann"))
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and "/mood" in reply.text() and "/add" in reply.text()
    assert asked.response_type == 4 and asked.response_status == 200


# ---------------------------------------------------------------------- moods and feedback
async def test_mood_gets_an_embed_and_a_thumbs_up_is_stored(bot: MoodtapeBot, bot_engine: Engine,
                                                            fake: FakeDiscord) -> None:
    ann = fake.user("ann")
    asked = await fake.slash("mood", ann, text="everything went wrong today")
    [reply] = await fake.answered(asked)
    assert asked.response_type == 5  # deferred ("thinking…") before the model ran
    assert not reply.ephemeral and len(reply.embeds) == 1
    embed = reply.embeds[0]
    assert embed["title"] == render.STRATEGY_HEADINGS["match"] and "I read:" in embed["description"]
    assert len(embed["fields"]) == 3 and all("#" in f["value"] for f in embed["fields"])
    assert "demo catalogue" in embed["footer"]["text"]
    buttons = feedback_buttons(reply)
    assert [b["label"] for b in buttons] == ["1 👍", "1 👎", "2 👍", "2 👎", "3 👍", "3 👎"]

    first_song = buttons[0]["custom_id"].split(":")[3]
    clicked = await fake.click(reply, buttons[0]["custom_id"], ann)
    [thanks] = await fake.answered(clicked)
    assert thanks.ephemeral and thanks.content.startswith("Thanks! Noted 👍 for “")
    assert embed["fields"][0]["name"].split(". ", 1)[1] in thanks.content
    store, _ = await bot_engine.catalogue()
    assert await store.feedback() == [(int(first_song), f"dc:{ann['id']}", 1)]


async def test_strategy_choice_is_remembered_per_person(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    ann, bob = fake.user("ann"), fake.user("bob")
    chose = await fake.slash("strategy", ann, choice="lift")
    [said] = await fake.answered(chose)
    assert said.ephemeral and "lift" in said.content
    [for_ann] = await fake.answered(await fake.slash("mood", ann, text="i feel scared and alone"))
    [for_bob] = await fake.answered(await fake.slash("mood", bob, text="i feel scared and alone"))
    assert for_ann.embeds[0]["title"] == render.STRATEGY_HEADINGS["lift"]
    assert for_bob.embeds[0]["title"] == render.STRATEGY_HEADINGS["match"]
    assert all(b["custom_id"].endswith(":lift") for b in feedback_buttons(for_ann))


async def test_buttons_of_a_message_sent_before_a_restart_still_work(bot_settings: Settings,
                                                                      fake: FakeDiscord) -> None:
    ann = fake.user("ann")
    async with await Engine.open(bot_settings) as engine, running(engine, bot_settings, fake):
        [old] = await fake.answered(await fake.slash("mood", ann, text="so much fun at the party"))
    down = feedback_buttons(old)[1]["custom_id"]  # 👎 on song 1
    async with await Engine.open(bot_settings) as engine, running(engine, bot_settings, fake):
        [thanks] = await fake.answered(await fake.click(old, down, ann))
        assert thanks.ephemeral and "👎" in thanks.content
        store, _ = await engine.catalogue()
        assert await store.feedback() == [(int(down.split(":")[3]), f"dc:{ann['id']}", -1)]


# ---------------------------------------------------------------------- songs like this
async def test_similar_by_query_on_the_demo_catalogue(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    asked = await fake.slash("similar", fake.user("ann"), query="Wesnoth")
    [reply] = await fake.answered(asked)
    embed = reply.embeds[0]
    assert not reply.ephemeral and embed["title"].startswith("Songs like “")
    assert len(embed["fields"]) == 3 and all("sounds alike" in f["value"] for f in embed["fields"])
    assert len(feedback_buttons(reply)) == 6
    assert all(b["custom_id"].endswith(":similar") for b in feedback_buttons(reply))


async def test_similar_to_an_attached_audio_file(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    clip = fake.attachment("beat_a.ogg", (AUDIO / "beat_a.ogg").read_bytes())
    asked = await fake.slash("similar", fake.user("ann"), attachment=clip)
    [reply] = await fake.answered(asked, timeout=60)
    embed = reply.embeds[0]
    assert asked.response_type == 5 and not reply.ephemeral
    assert embed["title"] == "Songs like beat_a.ogg" and embed["description"].startswith("It sounds ")
    assert len(embed["fields"]) == 3


async def test_attachments_that_cannot_be_songs_are_refused_politely(bot: MoodtapeBot,
                                                                     fake: FakeDiscord) -> None:
    picture = fake.attachment("cat.png", b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    asked = await fake.slash("similar", fake.user("ann"), attachment=picture)
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and "cat.png is not an audio file" in reply.content

    noise = fake.attachment("noise.ogg", b"this is not audio at all" * 10)
    asked = await fake.slash("similar", fake.user("ann"), attachment=noise)
    [reply] = await fake.answered(asked, timeout=60)
    assert reply.ephemeral and "noise.ogg" in reply.content and render.APOLOGY not in reply.content


async def test_attachments_over_the_size_limit_are_refused(tmp_path: Path, fake: FakeDiscord) -> None:
    data = (AUDIO / "beat_a.ogg").read_bytes()
    settings = make_settings(tmp_path, user_cooldown_s=0, max_file_bytes=len(data) - 1)
    async with await Engine.open(settings) as engine, running(engine, settings, fake):
        honest = fake.attachment("big.ogg", data)
        [reply] = await fake.answered(await fake.slash("similar", fake.user("ann"), attachment=honest))
        assert reply.ephemeral and "big.ogg is too big" in reply.content
        assert fake.cdn_hits[honest["url"].rsplit("/", 1)[1]] == 0  # refused before downloading
        lying = fake.attachment("small.ogg", data, size=100)
        [reply] = await fake.answered(await fake.slash("similar", fake.user("ann"), attachment=lying))
        assert reply.ephemeral and "small.ogg is too big" in reply.content  # cut off while downloading


async def test_similar_without_anything_and_with_an_unknown_song(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    [reply] = await fake.answered(await fake.slash("similar", fake.user("ann")))
    assert reply.ephemeral and "attach an audio file" in reply.content
    asked = await fake.slash("similar", fake.user("ann"), query="zzqx no such song")
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and "No track in the catalogue matches" in reply.content
    # The public "thinking…" placeholder was removed so the error stays private.
    assert [m.id for m in fake.replies(asked)] == [reply.id]


async def test_similar_never_opens_files_on_the_server(bot: MoodtapeBot, fake: FakeDiscord,
                                                       tmp_path: Path) -> None:
    secret = tmp_path / "beat.ogg"
    secret.write_bytes((AUDIO / "beat_a.ogg").read_bytes())
    [reply] = await fake.answered(await fake.slash("similar", fake.user("eve"), query=str(secret)))
    assert reply.ephemeral and "No track in the catalogue matches" in reply.content


async def test_similar_to_a_link(tmp_path: Path, tiny_model: Path, fake: FakeDiscord) -> None:
    from tests.fakes.http_server import FakeWeb

    settings = make_settings(tmp_path, emotion_model=str(tiny_model), user_cooldown_s=0,
                             allow_private_networks=True, default_k=3)
    async with await Engine.open(settings) as engine, running(engine, settings, fake):
        with FakeWeb() as web:
            link = web.url("/audio/beat_a.ogg")
            asked = await fake.slash("similar", fake.user("ann"), query=link)
            [reply] = await fake.answered(asked, timeout=60)
            assert web.hits["/audio/beat_a.ogg"] >= 1
    assert not reply.ephemeral and reply.embeds[0]["title"].startswith("Songs like ")
    assert len(reply.embeds[0]["fields"]) == 3 and len(feedback_buttons(reply)) == 6


async def test_a_bad_link_is_answered_politely(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    asked = await fake.slash("similar", fake.user("ann"), query="https://nowhere.invalid/not-a-song")
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and render.APOLOGY not in reply.content and "nowhere.invalid" in reply.content


# ---------------------------------------------------------------------- adding music
async def test_non_admins_cannot_add(bot: MoodtapeBot, bot_engine: Engine, fake: FakeDiscord) -> None:
    before = await bot_engine.store.count_tracks()
    asked = await fake.slash("add", fake.user("bob"), link="http://127.0.0.1:9/song.mp3")
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and reply.content.startswith("Only server admins")
    assert "“DJ” role" in reply.content
    assert await bot_engine.store.count_tracks() == before


async def test_admins_add_a_link(tmp_path: Path, tiny_model: Path, fake: FakeDiscord) -> None:
    from tests.fakes.http_server import FakeWeb

    settings = make_settings(tmp_path, emotion_model=str(tiny_model), user_cooldown_s=0,
                             discord_admin_role="DJ", allow_private_networks=True)
    async with await Engine.open(settings) as engine, running(engine, settings, fake):
        with FakeWeb() as web:
            by_role = await fake.slash("add", fake.user("dj"), roles=[fake.dj_role_id],
                                       link=web.url("/audio/beat_b.mp3"))
            [added] = await fake.answered(by_role, timeout=60)
            assert web.hits["/audio/beat_b.mp3"] >= 1
        tracks = await engine.store.list_tracks()
        assert len(tracks) == 1 and tracks[0].added_by == f"dc:{by_role.user['id']}"
        assert tracks[0].status == "pending" and tracks[0].source == web.url("/audio/beat_b.mp3")
        assert added.ephemeral and added.content.startswith(f"Added \"{tracks[0].label}\"")

        # Manage Server is enough too; a link that leads nowhere is a polite answer and adds nothing.
        by_manager = await fake.slash("add", fake.user("owner"), link="https://nowhere.invalid/song.mp3",
                                      permissions=MEMBER_PERMISSIONS | MANAGE_GUILD)
        [refused] = await fake.answered(by_manager, timeout=60)
        assert refused.ephemeral and "nowhere.invalid" in refused.content
        assert render.APOLOGY not in refused.content
        assert await engine.store.count_tracks() == 1


# ---------------------------------------------------------------------- mentions and DMs
async def test_a_mention_is_read_as_a_mood(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    ann = fake.user("ann")
    said = await fake.post_message("i am so happy today", ann, mention_bot=True)
    [reply] = await fake.wait_until(lambda: fake.channel_messages() or None, 30, "a reply in the channel")
    assert reply.payload["message_reference"]["message_id"] == said["id"]
    assert reply.embeds[0]["title"] == render.STRATEGY_HEADINGS["match"] and len(feedback_buttons(reply)) == 6
    assert fake.calls_to("POST", rf"/channels/{fake.channel_id}/typing")

    # Without the message-content intent Discord sends other messages without their text; they get no answer.
    # (The next mention is a barrier: events are handled in order, so its reply comes after any other.)
    await fake.post_message("just chatting with friends", ann)
    barrier = await fake.post_message("what a surprise", ann, mention_bot=True)
    replies = await fake.wait_until(lambda: fake.channel_messages()[1:] and fake.channel_messages(), 30,
                                    "the reply to the second mention")
    assert [m.payload["message_reference"]["message_id"] for m in replies] == [said["id"], barrier["id"]]


async def test_a_dm_is_read_as_a_mood(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    said = await fake.post_message("i feel scared and alone", fake.user("ann"), dm=True)
    channel = said["channel_id"]
    [reply] = await fake.wait_until(lambda: fake.channel_messages(channel) or None, 30, "a reply in the DM")
    assert reply.embeds[0]["title"] == render.STRATEGY_HEADINGS["match"]


async def test_audio_shared_in_a_dm_gets_songs_like_it(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    voice = fake.attachment("voice-message.ogg", (AUDIO / "beat_a.ogg").read_bytes())
    said = await fake.post_message("", fake.user("ann"), dm=True, attachments=[voice])
    [reply] = await fake.wait_until(lambda: fake.channel_messages(said["channel_id"]) or None, 60, "a reply")
    assert reply.embeds[0]["title"] == "Songs like voice-message.ogg" and len(feedback_buttons(reply)) == 6


# ---------------------------------------------------------------------- Discord being Discord
async def test_rate_limited_requests_are_retried(bot: MoodtapeBot, fake: FakeDiscord) -> None:
    fake.rate_limit_once("POST", r"/interactions/\d+/[^/]+/callback", retry_after=0.2)
    asked = await fake.slash("help", fake.user("ann"))
    [reply] = await fake.answered(asked)
    assert reply.ephemeral and "/mood" in reply.text()
    statuses = [c.status for c in fake.calls_to("POST", rf"/interactions/{asked.id}/[^/]+/callback")]
    assert statuses == [429, 200]

    fake.rate_limit_once("POST", rf"/channels/{fake.channel_id}/messages", retry_after=0.2)
    await fake.post_message("", fake.user("ann"), mention_bot=True)
    [hint] = await fake.wait_until(lambda: fake.channel_messages() or None, 10, "the reply after a 429")
    assert hint.content == render.EMPTY_MENTION
    assert [c.status for c in fake.calls_to("POST", rf"/channels/{fake.channel_id}/messages")] == [429, 200]


async def test_an_engine_failure_is_an_apology_and_the_bot_keeps_working(
    bot: MoodtapeBot, bot_engine: Engine, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk caught fire")

    with monkeypatch.context() as patched, caplog.at_level(logging.ERROR, logger="moodtape.bot.discord"):
        patched.setattr(bot_engine, "similar", broken)
        asked = await fake.slash("similar", fake.user("ann"), query="Wesnoth")
        [reply] = await fake.answered(asked)
    assert reply.ephemeral and reply.content.startswith(render.APOLOGY)
    assert "the disk caught fire" not in reply.content
    assert any("the disk caught fire" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert [m.id for m in fake.replies(asked)] == [reply.id]

    [works] = await fake.answered(await fake.slash("similar", fake.user("ann"), query="Wesnoth"))
    assert not works.ephemeral and works.embeds[0]["title"].startswith("Songs like")


async def test_every_interaction_was_acknowledged_within_three_seconds(bot: MoodtapeBot,
                                                                       fake: FakeDiscord) -> None:
    clip = fake.attachment("beat_a.ogg", (AUDIO / "beat_a.ogg").read_bytes())
    asked = [await fake.slash("similar", fake.user("ann"), attachment=clip),
             await fake.slash("mood", fake.user("bob"), text="what a surprise")]
    for interaction in asked:
        await fake.answered(interaction, timeout=60)
    assert all(i.response_status == 200 for i in fake.interactions.values())


# ---------------------------------------------------------------------- tokens
async def test_missing_and_refused_tokens_are_one_line_errors(tmp_path: Path, fake: FakeDiscord) -> None:
    async with await Engine.open(make_settings(tmp_path)) as engine:
        with pytest.raises(UserError, match="MOODTAPE_DISCORD_TOKEN is not set"):
            await run_discord(engine, make_settings(tmp_path))
        wrong = make_settings(tmp_path, discord_token="not-the-token")
        with pytest.raises(UserError, match="Discord refused MOODTAPE_DISCORD_TOKEN") as refused:
            await asyncio.wait_for(run_discord(engine, wrong), 20)
        assert "not-the-token" not in str(refused.value) and "\n" not in str(refused.value)


async def test_run_discord_serves_until_cancelled(tmp_path: Path, tiny_model: Path,
                                                  fake: FakeDiscord) -> None:
    settings = make_settings(tmp_path, emotion_model=str(tiny_model), discord_token=fake.token)
    async with await Engine.open(settings) as engine:
        task = asyncio.create_task(run_discord(engine, settings, guild_ready_timeout=0.05))
        await fake.wait_until(lambda: fake.identify is not None or task.done(), 20, "the bot to connect")
        [reply] = await fake.answered(await fake.slash("help", fake.user("ann")))
        assert "/mood" in reply.text()
        # Let the command's task finish (it logs its completion after the reply) so only the serving is cut.
        await fake.wait_until(lambda: not any(t.get_name() == "CommandTree-invoker" and not t.done()
                                              for t in asyncio.all_tasks()), 10, "the command to finish")
        task.cancel()  # what `moodtape run` does on SIGINT/SIGTERM
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await fake.wait_until(lambda: not fake.connected, 10, "the gateway to close")


# ---------------------------------------------------------------------- cooldown
async def test_a_person_asking_too_fast_is_asked_to_slow_down(tmp_path: Path, tiny_model: Path,
                                                              fake: FakeDiscord) -> None:
    settings = make_settings(tmp_path, emotion_model=str(tiny_model), user_cooldown_s=60)
    async with await Engine.open(settings) as engine, running(engine, settings, fake):
        ann = fake.user("ann")
        [first] = await fake.answered(await fake.slash("similar", ann, query="Wesnoth"))
        [second] = await fake.answered(await fake.slash("similar", ann, query="Wesnoth"))
        [other] = await fake.answered(await fake.slash("similar", fake.user("bob"), query="Wesnoth"))
    assert not first.ephemeral and not other.ephemeral
    assert second.ephemeral and second.content.startswith("Easy there")
