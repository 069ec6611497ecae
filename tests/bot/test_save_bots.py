"""The "💾 Save" button in both bots: the answer's songs arrive as a JSPF and an M3U8 file, in the answer's order."""

from __future__ import annotations

import json

import jsonschema
from moodtape.bot.discord import MoodtapeBot
from moodtape.bot.shared.saved import parse_save_token, save_token
from moodtape.core.errors import UserError
from moodtape.core.results import RecommendedTrack

from tests.bot.test_discord import bot as discord_bot  # noqa: F401 - fixtures of the Discord suite
from tests.bot.test_discord import bot_engine, bot_settings, fake, tiny_model  # noqa: F401
from tests.bot.test_telegram import ANA, APOLOGY, Running, listed_ids, start_bot  # noqa: F401
from tests.bot.test_telegram import bot as telegram_bot  # noqa: F401
from tests.conftest import FIXTURES
from tests.fakes.discord_server import FakeDiscord

SCHEMA = json.loads((FIXTURES / "export" / "jspf.schema.json").read_text())


def test_the_token_round_trips_and_refuses_strangers() -> None:
    def songs(*ids: int) -> list[RecommendedTrack]:
        return [RecommendedTrack(i, "t", None, None, None, 0.0, "") for i in ids]

    for ids in [(1, 35, 36, 60_000_000), (900_000_233, 900_000_001, 900_000_120, 900_000_005, 900_000_006,
                                          900_000_007, 900_000_008, 900_000_009, 900_000_010, 900_000_011),
                (2_000_000_000, 1_960_000_000, 2_000_000_000 + 36**5 - 1)]:
        token = save_token(songs(*ids))
        assert token is not None and len("sv:" + token) <= 64, ids
        assert parse_save_token(token) == list(ids)
    assert save_token(songs(36**6)) is None  # too big to carry
    assert save_token(songs(1, 36**5 + 1)) is None  # too far apart
    for forged in ("", "a..b", "ABC", "1." * 11 + "1", "x" * 7, "-1"):
        try:
            parse_save_token(forged)
        except UserError:
            continue
        raise AssertionError(f"{forged!r} was accepted")


async def test_telegram_save_sends_the_playlist_files(telegram_bot: Running) -> None:  # noqa: F811
    server = telegram_bot.server
    server.send_text(ANA, "/similar Wesnoth")
    reply = await server.wait_for_message(ANA["id"], contains="Songs like")
    ids = listed_ids(reply["text"])
    [save] = [b for row in server.buttons(reply) for b in row if b["callback_data"].startswith("sv:")]
    assert save["text"].startswith("💾")
    query = server.click(ANA, reply, save["callback_data"])
    await server.wait_for(lambda: server.callback_answer(query), what="the Save answer")

    def documents() -> list[dict] | None:
        found = [m for m in server.bot_messages(ANA["id"]) if "document" in m]
        return found if len(found) == 2 else None

    jspf_message, m3u8_message = await server.wait_for(documents, what="the two files")
    assert jspf_message["document"]["file_name"] == "moodtape.jspf"
    data = json.loads(server.document_bytes(jspf_message))
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert len(data["playlist"]["track"]) == len(ids)
    m3u8 = server.document_bytes(m3u8_message).decode("utf-8")
    assert m3u8.startswith("#EXTM3U") and m3u8.count("#EXTINF:") == len(ids)
    forged = server.click(ANA, reply, "sv:not!ours", forged=True)
    answer = await server.wait_for(lambda: server.callback_answer(forged), what="the forged-button answer")
    assert APOLOGY not in (answer["text"] or "") and "not one of mine" in answer["text"]


async def test_discord_save_sends_the_files_privately(discord_bot: MoodtapeBot, fake: FakeDiscord) -> None:  # noqa: F811
    asked = await fake.slash("similar", fake.user("ann"), query="Wesnoth")
    [reply] = await fake.answered(asked, timeout=60)
    [save] = [b for b in reply.buttons if b["custom_id"].startswith("moodtape:save:")]
    clicked = await fake.click(reply, save["custom_id"], fake.user("bo"))
    [files] = await fake.answered(clicked, timeout=30)
    assert files.ephemeral
    data = json.loads(fake.attachment_bytes(files, "moodtape.jspf"))
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert len(data["playlist"]["track"]) == len(reply.embeds[0]["fields"])
    assert fake.attachment_bytes(files, "moodtape.m3u8").startswith(b"#EXTM3U")
