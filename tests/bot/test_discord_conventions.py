"""Discord conventions through the real discord.py: autocomplete on /similar and /strategy, the "Songs like
this" message command, and the commands' Korean names and descriptions as synced."""

from __future__ import annotations

from typing import Any

from moodtape.bot.discord import MoodtapeBot
from moodtape.bot.shared.help import COMMANDS
from moodtape.bot.shared.help_ko import DESCRIPTIONS, NAMES

from tests.bot.test_discord import bot, bot_engine, bot_settings, fake, running, tiny_model  # noqa: F401
from tests.conftest import AUDIO
from tests.fakes.discord_server import FakeDiscord


def a_message(fake: FakeDiscord, content: str, author: dict[str, Any],  # noqa: F811
              attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A channel message as Discord resolves it for a message command (content included: no intent needed)."""
    return {"id": str(fake.snowflake()), "channel_id": str(fake.channel_id), "guild_id": str(fake.guild_id),
            "author": author, "content": content, "timestamp": "2026-12-01T00:00:00+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": attachments or [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
            "components": []}


async def test_similar_suggests_catalogue_songs_as_you_type(bot: MoodtapeBot, fake: FakeDiscord) -> None:  # noqa: F811
    asked = await fake.autocomplete("similar", "query", "wesn", fake.user("ann"))
    await fake.wait_until(lambda: asked.choices is not None, 20, "the suggestions")
    assert asked.response_type == 8 and 1 <= len(asked.choices) <= 25
    assert all(c["value"].startswith("#") for c in asked.choices)
    # a suggestion is a query /similar understands: it answers for exactly that song
    first = asked.choices[0]
    [reply] = await fake.answered(await fake.slash("similar", fake.user("ann"), query=first["value"]), timeout=60)
    assert first["name"].split(" - ")[-1] in reply.embeds[0]["title"]
    nothing = await fake.autocomplete("similar", "query", "zzqx", fake.user("ann"))
    await fake.wait_until(lambda: nothing.choices is not None, 20, "an empty answer")
    assert nothing.choices == []


async def test_strategy_suggests_the_strategies(bot: MoodtapeBot, fake: FakeDiscord) -> None:  # noqa: F811
    asked = await fake.autocomplete("strategy", "choice", "", fake.user("ann"))
    await fake.wait_until(lambda: asked.choices is not None, 20, "the suggestions")
    assert [c["value"] for c in asked.choices] == ["match", "lift", "calm", "energize"]
    narrowed = await fake.autocomplete("strategy", "choice", "calm", fake.user("ann"))
    await fake.wait_until(lambda: narrowed.choices is not None, 20, "the narrowed suggestions")
    assert "calm" in [c["value"] for c in narrowed.choices] and len(narrowed.choices) < 4


async def test_songs_like_this_on_a_message_with_audio(bot: MoodtapeBot, fake: FakeDiscord) -> None:  # noqa: F811
    clip = fake.attachment("beat_a.ogg", (AUDIO / "beat_a.ogg").read_bytes())
    message = a_message(fake, "listen to this", fake.user("bo"), [clip])
    asked = await fake.message_command("Songs like this", message, fake.user("ann"))
    [reply] = await fake.answered(asked, timeout=60)
    assert not reply.ephemeral and reply.embeds[0]["title"] == "Songs like beat_a.ogg"
    plain = await fake.message_command("Songs like this", a_message(fake, "good morning", fake.user("bo")),
                                       fake.user("ann"))
    [reply] = await fake.answered(plain)
    assert reply.ephemeral and "no audio file and no song link" in reply.content


async def test_commands_are_localised_to_korean(bot: MoodtapeBot, fake: FakeDiscord) -> None:  # noqa: F811
    synced = {c["name"]: c for commands in fake.commands.values() for c in commands}
    for command in COMMANDS:
        if command.name not in synced:
            continue  # (a command limited to some contexts may be synced elsewhere)
        assert synced[command.name]["name_localizations"]["ko"] == NAMES[command.name]
        assert synced[command.name]["description_localizations"]["ko"] == DESCRIPTIONS[command.name]
    menu = synced["Songs like this"]
    assert menu["type"] == 3 and menu["name_localizations"]["ko"] == "이런 노래 더"
    assert all("ko" not in (c.get("name_localizations") or {}) or c["name_localizations"]["ko"]
               for c in synced.values())


def test_every_command_has_korean_lines() -> None:
    assert {c.name for c in COMMANDS} <= set(DESCRIPTIONS) and {c.name for c in COMMANDS} <= set(NAMES)
    assert all(len(text) <= 100 for text in DESCRIPTIONS.values())  # Discord's limit (Telegram's is 256)
