"""Spoken moods through every front end: a Telegram voice note, a Discord voice message, `chat --voice`.

Telegram is the real python-telegram-bot against the fake Bot API server (the fixtures are
tests/bot/test_telegram.py's), Discord the real discord.py against the fake gateway; the speech clips are the
espeak-ng sentences of tests/fixtures/voice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moodtape.bot.cli import main
from moodtape.core.config import Settings
from moodtape.core.engine import Engine

from tests.bot.test_discord import bot_engine, bot_settings, fake, feedback_buttons, running  # noqa: F401
from tests.bot.test_telegram import (  # noqa: F401 - pytest fixtures used by name
    ANA,
    APOLOGY,
    Running,
    assert_feedback_keyboard,
    bot,
    start_bot,
    tiny_model,
)
from tests.conftest import AUDIO, FIXTURES
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

VOICE = FIXTURES / "voice"

pytestmark = pytest.mark.timeout(600)  # the recognisers are slow on a busy two-core machine


# ---------------------------------------------------------------------------------------------- Telegram
async def test_a_telegram_voice_note_is_heard_and_answered_with_songs(bot: Running) -> None:  # noqa: F811
    server = bot.server
    server.send_audio(ANA, (VOICE / "en_sad.flac").read_bytes(), kind="voice", mime_type="audio/ogg")
    placeholder = await server.wait_for_message(ANA["id"], contains="Listening to")
    await server.wait_for(lambda: "I heard" in server.messages[(ANA["id"], placeholder["message_id"])]["text"],
                          what="the placeholder edited into the spoken-mood answer", timeout=300)
    reply = server.messages[(ANA["id"], placeholder["message_id"])]
    text = reply["text"]
    assert text.startswith("🎙 I heard: 'so sad and lonely'"), text
    assert "I read:" in text and APOLOGY not in text
    assert len(assert_feedback_keyboard(server, reply)) == bot.settings.default_k
    assert len(server.bot_messages(ANA["id"])) == 1


async def test_a_korean_voice_note_uses_the_korean_recogniser(bot: Running) -> None:  # noqa: F811
    server = bot.server
    min_ = {**FakeTelegram.user(1003, "Min"), "language_code": "ko"}
    server.send_audio(min_, (VOICE / "ko_sad.flac").read_bytes(), kind="voice", mime_type="audio/ogg")
    placeholder = await server.wait_for_message(min_["id"], contains="Listening to")
    await server.wait_for(lambda: "I heard" in server.messages[(min_["id"], placeholder["message_id"])]["text"],
                          what="the spoken-mood answer", timeout=300)
    text = server.messages[(min_["id"], placeholder["message_id"])]["text"]
    heard = text.split("I heard: '", 1)[1].split("'", 1)[0]
    assert any("\uac00" <= c <= "\ud7a3" for c in heard) and "(Korean" in text


async def test_music_sent_to_telegram_still_gets_songs_like_it(bot: Running) -> None:  # noqa: F811
    server = bot.server
    server.send_audio(ANA, (AUDIO / "pad_a.ogg").read_bytes(), kind="voice", mime_type="audio/ogg")
    placeholder = await server.wait_for_message(ANA["id"], contains="Listening to")
    await server.wait_for(lambda: "Songs like" in server.messages[(ANA["id"], placeholder["message_id"])]["text"],
                          what="the songs-like answer", timeout=300)
    assert "I heard" not in server.messages[(ANA["id"], placeholder["message_id"])]["text"]


# ---------------------------------------------------------------------------------------------- Discord
async def test_a_discord_voice_message_is_heard_and_answered_with_songs(
    bot_engine: Engine, bot_settings: Settings, fake: FakeDiscord,  # noqa: F811
) -> None:
    async with running(bot_engine, bot_settings, fake):
        voice = fake.attachment("voice-message.ogg", (VOICE / "en_sad.flac").read_bytes())
        said = await fake.post_message("", fake.user("ann"), dm=True, attachments=[voice])
        [reply] = await fake.wait_until(lambda: fake.channel_messages(said["channel_id"]) or None, 300,
                                        "the spoken-mood reply")
    embed = reply.embeds[0]
    assert embed["description"].startswith("🎙 I heard: 'so sad and lonely'"), embed["description"]
    assert "I read:" in embed["description"]
    assert len(feedback_buttons(reply)) == 2 * bot_settings.default_k  # 👍 and 👎 per song


# ---------------------------------------------------------------------------------------------- CLI
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_chat_voice_prints_what_it_heard_and_songs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    code, out, err = run(capsys, "--db", db, "chat", "--voice", str(VOICE / "en_sad.flac"), "--language", "en",
                         "--k", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["speech"] is True and data["input"] == "speech" and "sad" in data["heard"]
    assert data["mood"]["valence"] < 0 and len(data["tracks"]) == 3
    assert data["transcript"]["language"] == "en"

    code, out, err = run(capsys, "--db", db, "chat", "--voice", str(VOICE / "en_sad.flac"), "--language", "en")
    assert code == 0 and out.startswith("I heard: 'so sad and lonely'") and "Songs (match)" in out

    code, out, err = run(capsys, "--db", db, "chat", "--voice", str(AUDIO / "beat_a.ogg"), "--json")
    data = json.loads(out)
    assert code == 0 and data["speech"] is False and data["heard"] is None and data["tracks"]


def test_cli_chat_voice_refusals_are_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    code, _, err = run(capsys, "--db", db, "chat", "--voice", str(VOICE / "en_sad.flac"), "--language", "fr")
    assert code == 2 and "English and Korean" in err and "Traceback" not in err
    code, _, err = run(capsys, "--db", db, "chat", "--voice", str(AUDIO / "corrupt.mp3"))
    assert code == 2 and "corrupt" in err and "Traceback" not in err
    code, _, err = run(capsys, "--db", db, "chat", "hello", "--voice", str(VOICE / "en_sad.flac"))
    assert code == 2 and "not both" in err
