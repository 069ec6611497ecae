"""The picture of the mood through the real bot clients and the CLI.

Telegram: python-telegram-bot against the fake Bot API (which now takes `sendPhoto` uploads and refuses
captions over 1024 characters and non-images, as Telegram does); Discord: discord.py against the fake Discord
(which now keeps the files of a multipart message as its attachments); the CLI: `moodtape chat --picture`.
Each decodes the PNG a person would get and finds the reading's ring where the answer's valence/arousal put
it, so a picture that is sent but wrong (or not an image) fails here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from moodtape.bot.shared.picture import READING, READING_RADIUS, READING_WIDTH, SIZE, to_pixel
from PIL import Image

from tests.bot.test_discord import bot_engine, bot_settings, fake, running  # noqa: F401 - fixtures
from tests.bot.test_telegram import ANA, BEN, Running, assert_feedback_keyboard, bot, start_bot, tiny_model  # noqa: F401  # noqa: F401 - fixtures
from tests.fakes.discord_server import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
READING_RE = r"valence ([+-]\d\.\d\d), arousal ([+-]\d\.\d\d)"


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (SIZE, SIZE)
    return image.convert("RGB")


def assert_ring_at(image: Image.Image, valence: float, arousal: float) -> None:
    """The reading's red ring is drawn around (valence, arousal): most of its circle is READING red.

    The values come from the answer's text (two decimals), so the centre may be off by a pixel or two; the
    ring is four pixels wide, so its middle circle is still on it.
    """
    import math

    cx, cy = to_pixel(valence, arousal)
    radius = READING_RADIUS - READING_WIDTH / 2
    hits = 0
    for step in range(24):
        angle = 2 * math.pi * step / 24
        x, y = round(cx + radius * math.cos(angle)), round(cy + radius * math.sin(angle))
        if 0 <= x < SIZE and 0 <= y < SIZE and _close(image.getpixel((x, y)), READING):
            hits += 1
    assert hits >= 18, f"the reading's ring is not around {(cx, cy)} ({hits}/24 red samples)"


def _close(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(p) - c) <= tolerance for p, c in zip(pixel, colour))


def reading_of(text: str) -> tuple[float, float]:
    import re

    found = re.search(READING_RE, text)
    assert found, text
    return float(found.group(1)), float(found.group(2))


# ---------------------------------------------------------------------------------------------- Telegram
async def test_telegram_picture_is_off_by_default_and_turned_on_in_strategy(bot: Running) -> None:  # noqa: F811
    server = bot.server
    server.send_text(ANA, "everything went wrong today")
    plain = await server.wait_for_message(ANA["id"], contains="I read:")
    assert "photo" not in plain and not server.calls_to("sendPhoto")  # off unless asked for

    server.send_text(ANA, "/strategy")
    menu = await server.wait_for_message(ANA["id"], contains="Picture of the mood", after=plain["message_id"])
    assert "<b>off</b>" in menu["html"]
    query = server.click(ANA, menu, "pic:on")
    answer = await server.wait_for(lambda: server.callback_answer(query), what="the picture button's answer")
    assert answer["text"] == "Picture of the mood: on"
    await server.wait_for(lambda: any(b["callback_data"] == "pic:off" for row in server.buttons(
        server.messages[(ANA["id"], menu["message_id"])]) for b in row), what="the menu offering 'turn off'")
    assert await bot.engine.picture_for("tg:1001") is True
    assert await bot.engine.picture_for("tg:1002") is False  # one person's choice is theirs only

    server.send_text(ANA, "everything went wrong today")
    photo = await server.wait_for(lambda: next((m for m in server.bot_messages(ANA["id"]) if "photo" in m), None),
                                  what="the answer as a photo")
    caption = photo["caption"]
    assert "I read:" in caption and "Songs that match your mood" in caption  # the songs are the caption
    ids = assert_feedback_keyboard(server, {**photo, "text": caption})  # 👍/👎 under the photo
    assert len(ids) == bot.settings.default_k
    assert_ring_at(decode(server.photo_bytes(photo)), *reading_of(caption))

    vote = server.click(ANA, photo, f"fb:-:{ids[0]}")  # the buttons on a photo work like on a text
    thanks = await server.wait_for(lambda: server.callback_answer(vote), what="the 👎 answer")
    assert thanks["text"].startswith("Thanks!")

    server.send_text(ANA, "/strategy picture off")
    await server.wait_for_message(ANA["id"], contains="Done.", after=photo["message_id"])
    assert await bot.engine.picture_for("tg:1001") is False


async def test_telegram_long_answer_sends_photo_then_text_with_buttons(start_bot: Any) -> None:  # noqa: F811
    running_bot = await start_bot(default_k=10)  # ten songs with reasons and links: over 1024 characters
    server = running_bot.server
    await running_bot.engine.set_picture("tg:1001", True)
    await running_bot.engine.set_strategy("tg:1001", "lift")
    server.send_text(ANA, "everything went wrong today")
    text = await server.wait_for_message(ANA["id"], contains="I read:")
    photo = next(m for m in server.bot_messages(ANA["id"]) if "photo" in m)
    assert photo["message_id"] < text["message_id"]  # the picture first, then the list it numbers
    assert "numbered as in the list below" in photo["caption"]
    assert len(text["html"]) > 1024
    assert len(assert_feedback_keyboard(server, text)) == 10
    assert_ring_at(decode(server.photo_bytes(photo)), *reading_of(text["text"]))


async def test_telegram_strategy_picture_with_a_wrong_word_says_how(bot: Running) -> None:  # noqa: F811
    server = bot.server
    server.send_text(BEN, "/strategy picture maybe")
    refused = await server.wait_for_message(BEN["id"], contains="/strategy picture on")
    assert "Sorry, something went wrong" not in refused["text"]
    assert await bot.engine.picture_for("tg:1002") is False


# ---------------------------------------------------------------------------------------------- Discord
async def test_discord_picture_is_the_embed_image_once_turned_on(bot_engine: Any, bot_settings: Any,  # noqa: F811
                                                                 fake: FakeDiscord) -> None:  # noqa: F811
    ann, bob = fake.user("ann"), fake.user("bob")
    async with running(bot_engine, bot_settings, fake):
        [plain] = await fake.answered(await fake.slash("mood", ann, text="everything went wrong today"))
        assert "image" not in plain.embeds[0] and not plain.payload["attachments"]  # off by default

        turned = await fake.slash("strategy", ann, picture="on")
        [said] = await fake.answered(turned)
        assert said.ephemeral and "Picture of the mood with each answer: **on**" in said.content
        assert await bot_engine.strategy_for(f"dc:{ann['id']}") == "match"  # the strategy is left alone
        assert await bot_engine.picture_for(f"dc:{ann['id']}") is True
        assert await bot_engine.picture_for(f"dc:{bob['id']}") is False

        [reply] = await fake.answered(await fake.slash("mood", ann, text="everything went wrong today"))
        embed = reply.embeds[0]
        assert embed["image"]["url"] == "attachment://mood.png"
        assert [a["filename"] for a in reply.payload["attachments"]] == ["mood.png"]
        image = decode(fake.attachment_bytes(reply, "mood.png"))
        assert_ring_at(image, *reading_of(embed["description"]))
        assert len([b for b in reply.buttons if b["custom_id"].startswith("moodtape:fb:")]) == 6  # 👍/👎 stay

        # A mention gets the picture too; another person's answer does not.
        await fake.post_message("i am so happy today", ann, mention_bot=True)
        [mention] = await fake.wait_until(lambda: fake.channel_messages() or None, 30, "a reply in the channel")
        assert mention.embeds[0]["image"]["url"] == "attachment://mood.png"
        assert_ring_at(decode(fake.attachment_bytes(mention, "mood.png")), *reading_of(mention.embeds[0]["description"]))
        [for_bob] = await fake.answered(await fake.slash("mood", bob, text="everything went wrong today"))
        assert "image" not in for_bob.embeds[0]

        [off] = await fake.answered(await fake.slash("strategy", ann, choice="calm", picture="off"))
        assert "calm" in off.content and "**off**" in off.content
        assert await bot_engine.picture_for(f"dc:{ann['id']}") is False
        assert await bot_engine.strategy_for(f"dc:{ann['id']}") == "calm"
        [shown] = await fake.answered(await fake.slash("strategy", ann))  # no option: what is set now
        assert "Your strategy: **calm**" in shown.content and "**off**" in shown.content


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_chat_picture_writes_a_png_of_the_answer(tmp_path: Path, tiny_model: Path,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from moodtape.bot.cli import main
    from moodtape.bot.shared.picture import PATH

    from tests.bot.test_picture import count_colour

    monkeypatch.setenv("MOODTAPE_EMOTION_MODEL", str(tiny_model))
    monkeypatch.setenv("MOODTAPE_KOREAN_EMOTION_MODEL", str(tiny_model))
    out_png = tmp_path / "out.png"
    code = main(["--db", str(tmp_path / "x.db"), "chat", "everything went wrong today", "--strategy", "lift",
                 "--k", "4", "--json", "--picture", str(out_png)])
    out, err = capsys.readouterr()
    assert code == 0, err
    answer = json.loads(out)  # stdout stays pure JSON; the note about the file is on stderr
    assert "out.png" in err and len(answer["tracks"]) == 4
    image = decode(out_png.read_bytes())
    mood = answer["mood"]
    assert_ring_at(image, mood["valence"], mood["arousal"])
    assert count_colour(image, PATH, 10) > 100  # lift draws its path (its geometry is checked in test_picture.py)

    code = main(["--db", str(tmp_path / "x.db"), "chat", "fine", "--picture", str(tmp_path / "no" / "dir.png")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "cannot write the picture" in err and "Traceback" not in err


async def test_telegram_photo_refused_in_a_chat_still_gets_the_text_answer(bot: Running) -> None:  # noqa: F811
    server = bot.server
    await bot.engine.set_picture("tg:1001", True)
    server.fail_once("sendPhoto", status=400, retry_after=None,
                     description="Bad Request: not enough rights to send photos to the chat")
    server.send_text(ANA, "everything went wrong today")
    text = await server.wait_for_message(ANA["id"], contains="I read:")
    assert "photo" not in text and "Sorry" not in text["text"]
    assert len(assert_feedback_keyboard(server, text)) == bot.settings.default_k
    assert [c.status for c in server.calls_to("sendPhoto")] == [400]
