"""A flood of hostile updates from many people against both bots (issue 13): every one gets a real answer.

Ten people send nine updates each, all at once, with the cooldown off so that every update is processed:
mood texts (100 KB of text, blanks, lone surrogates, control and direction characters, Korean), garbage
`/similar` queries (ids that overflow SQLite's integers, 5,000 digits, `~nosuchuser/x`, paths, malformed
links), unknown commands, forged and stale button data, `/add` from people who are not admins, and
`/strategy bogus`.  The assertions are what an attacker must not get and what the people around them must
still get: each update that deserves an answer gets one, never the apology ("Sorry, something went wrong"),
no moodtape logger records an error or a traceback, and afterwards the bot answers a normal mood message.

The fakes (tests/fakes/telegram_server.py, discord_server.py) deliver whatever they are given, including what
the real services would filter (texts over their length limits, callback data no button carries): the bot
must not rely on the service for its own safety.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moodtape.bot.shared.errors import APOLOGY
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from tests.bot.test_discord import bot_engine, fake, running, tiny_model  # noqa: F401 - fixtures
from tests.bot.test_telegram import Running, start_bot  # noqa: F401 - fixtures
from tests.conftest import make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

USERS = 10
SORRY = APOLOGY.split(" on my side")[0]  # "Sorry, something went wrong"

#: Texts read as moods (Telegram: a plain message; Discord: a DM); each deserves an answer.
MOOD_TEXTS = [
    "everything went wrong today",
    "x" * 100_000,  # 100 KB: far over both services' limits
    "sad " * 25_000,
    "   \t  ",  # only blanks: a prompt to say more
    "lone \ud800 surrogate and \udfff another",
    "control \x00\x01\x07\x1b[31m characters \x7f",
    "\u202eevil right-to-left override\u202c and zero\u200bwidth",
    "Z\u0351\u0352\u0357a\u0310\u0311l\u0300\u0301g\u0302o" * 200,  # combining marks piled up
    "\U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f62d\U0001f62d \ufffd \uffff \U0010ffff",
    "오늘 너무 행복해요",
    "😀" * 3000,
]
#: `/similar` queries nobody should be able to break the bot with.
SIMILAR_QUERIES = [
    "99999999999999999999999",  # OverflowError in SQLite (issue item 6)
    "9" * 5000,  # int() refuses over 4,300 digits (issue item 6)
    "#-1",
    "0",
    "~nosuchuser/x",  # Path.expanduser raised RuntimeError (issue item 7)
    "~/.ssh/id_rsa",
    "../../../../etc/passwd",
    "a" * 300,  # over 255 bytes: "File name too long" when treated as a path (issue item 7)
    "lone \ud800 surrogate",
    "http:127.0.0.1:18777/x.mp3",
    "http://xn--a.com/",
    "http://" + "a" * 64 + ".com/x.mp3",
    "http://169.254.169.254/latest/meta-data/",
    "%s%n%x {0} ${jndi:ldap://x}",
]
UNKNOWN_COMMANDS = ["/dance", "/" + "x" * 120, "/sudo rm -rf /", "/similar_but_not_quite 42"]
FORGED_FEEDBACK = [
    "fb:+:99999999999999999999999",  # more digits than SQLite's integers
    "fb:+:" + "9" * 58,
    "fb:+:abc",
    "fb::1",
    "fb:+-:1",
    "fb:+:",
    "fb:+:\u00b2",  # a digit to str.isdigit(), not to int()
    "fb:+:123456789",  # no such track
    "st:bogus",
    "st:",
    "v0:old-version-button",
    "",
]


def junk(rng: random.Random) -> str:
    """Random callback data a modified client could send (up to Telegram's 64 bytes)."""
    return "".join(rng.choice("fbst:+-0123456789 ~#/%\\\u00e9") for _ in range(rng.randint(1, 60)))


def deck(rng: random.Random, items: list[str], n: int) -> Iterator[str]:
    """`n` items that go through all of `items` (shuffled) before repeating one: every input is used."""
    order = list(items)
    rng.shuffle(order)
    return itertools.islice(itertools.cycle(order), n)


#: What each person sends, one update of each kind listed (10 people x 9 updates), in a shuffled order.
KINDS = ["mood", "mood", "similar", "similar", "click", "click", "other", "add", "strategy"]
#: A click on a real 👍 of an earlier answer (stale, but ours): it must be thanked, not refused.
REAL = "REAL"


def flood(rng: random.Random, others: list[str], strategies: list[str]) -> list[list[tuple[str, str]]]:
    """Each person's (kind, value) updates; `others` and `strategies` are the front end's own extras."""
    slots = {kind: KINDS.count(kind) * USERS for kind in KINDS}
    clicks = FORGED_FEEDBACK + [junk(rng) for _ in range(4)] + [REAL] * 4
    pools = {
        "mood": deck(rng, MOOD_TEXTS, slots["mood"]),
        "similar": deck(rng, SIMILAR_QUERIES, slots["similar"]),
        "click": deck(rng, clicks, slots["click"]),
        "other": deck(rng, others, slots["other"]),
        "add": deck(rng, ["http://example.com/song.mp3", "http://127.0.0.1/", "y" * 1900], slots["add"]),
        "strategy": deck(rng, strategies, slots["strategy"]),
    }
    plans = []
    for _ in range(USERS):
        kinds = list(KINDS)
        rng.shuffle(kinds)
        plans.append([(kind, next(pools[kind])) for kind in kinds])
    return plans


def moodtape_problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Error records and tracebacks that moodtape (or asyncio, for a task nobody awaited) logged."""
    return [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records
            if (r.name.startswith("moodtape") or r.name == "asyncio") and (r.levelno >= logging.ERROR or r.exc_info)]


# ---------------------------------------------------------------------------------------------- Telegram
async def test_telegram_survives_a_flood_of_hostile_updates(
    start_bot: Callable[..., Awaitable[Running]], caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO)
    bot = await start_bot(telegram_admins=[7])
    server = bot.server
    store, _ = await bot.engine.catalogue()
    real = f"fb:+:{(await store.list_tracks(status='ready', limit=1))[0].id}"
    people = [FakeTelegram.user(2000 + n, f"P{n}") for n in range(USERS)]

    for person in people:  # a bot message with buttons to press (and to forge presses on)
        server.send_text(person, "/strategy")
    menus = {p["id"]: await server.wait_for_message(p["id"], contains="Your strategy") for p in people}

    expected = {p["id"]: 1 for p in people}  # the menu is the first answer in each chat
    queries: list[tuple[str, str]] = []  # (callback data, query id)
    others = UNKNOWN_COMMANDS + ["/mood", "/similar", "/add", ""]  # "": a message nothing handles
    plans = flood(random.Random(13), others, ["bogus", "LIFT!!", "\ud800", "x" * 5000, "lift"])
    for person, plan in zip(people, plans):
        for kind, value in plan:
            if kind == "click":
                data = real if value == REAL else value
                queries.append((data, server.click(person, menus[person["id"]], data, forged=True)))
                continue
            text = {"mood": value, "similar": f"/similar {value}", "other": value, "add": f"/add {value}",
                    "strategy": f"/strategy {value}"}[kind]
            server.send_text(person, text)
            expected[person["id"]] += 1 if text else 0

    def all_answered() -> bool:
        return (all(len(server.bot_messages(pid)) >= n for pid, n in expected.items())
                and all(server.callback_answer(q) is not None for _, q in queries))

    await server.wait_for(all_answered, timeout=40, what="an answer to every update")
    for person in people:
        texts = [m["text"] for m in server.bot_messages(person["id"])]
        assert len(texts) == expected[person["id"]], texts  # one answer each, none twice
        assert not [t for t in texts if SORRY in t], texts
    answers = {data: server.callback_answer(q)["text"] for data, q in queries}  # type: ignore[index]
    assert not {d: a for d, a in answers.items() if SORRY in a}, answers
    assert answers[real].startswith("Thanks!")
    assert moodtape_problems(caplog) == []

    last = server.bot_messages(people[0]["id"])[-1]["message_id"]
    server.send_text(people[0], "so much fun at the party")
    reply = await server.wait_for_message(people[0]["id"], contains="I read:", after=last)
    assert "reply_markup" in reply


# ---------------------------------------------------------------------------------------------- Discord
@pytest.fixture
def bot_settings(tmp_path: Path, tiny_model: Path) -> Settings:  # noqa: F811
    return make_settings(tmp_path, emotion_model=str(tiny_model), korean_emotion_model=str(tiny_model),
                         user_cooldown_s=0, discord_admin_role="DJ", default_k=3)


async def test_discord_survives_a_flood_of_hostile_updates(
    bot_engine: Engine, bot_settings: Settings, fake: FakeDiscord,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slash commands carry what Discord's client lets through (it enforces choices); DMs and mentions and
    forged button custom_ids carry anything."""
    caplog.set_level(logging.INFO)
    async with running(bot_engine, bot_settings, fake):
        people = [fake.user(f"p{n}") for n in range(USERS)]
        seed = await fake.slash("similar", people[0], query="Wesnoth")
        [songs] = await fake.answered(seed)
        real = next(b["custom_id"] for b in songs.buttons if b["custom_id"].startswith("moodtape:fb:"))
        prefix = real.rsplit(":", 2)[0]  # "moodtape:fb:up"
        forged = {REAL: real, "fb:+:99999999999999999999999": f"{prefix}:{'9' * 19}:similar",
                  "fb:+:123456789": f"{prefix}:123456789:similar", "fb:+:\u00b2": f"{prefix}:\u0661:similar"}

        interactions: list[tuple[tuple[str, str], Any]] = []
        dms: list[dict[str, Any]] = []
        plans = flood(random.Random(13), MOOD_TEXTS + ["", "<@1> @everyone"], ["lift"])
        for person, plan in zip(people, plans):
            for kind, value in plan:
                if kind == "click":
                    custom_id = forged.get(value, value)
                    sent = await fake.click(songs, custom_id, person, forged=True)
                elif kind == "other":  # a DM or a mention, read as a mood
                    dms.append(await fake.post_message(value, person, dm=len(dms) % 2 == 0, mention_bot=True))
                    continue
                else:
                    option = {"mood": "text", "similar": "query", "add": "link", "strategy": "choice"}[kind]
                    sent = await fake.slash(kind, person, **{option: value})
                interactions.append(((kind, value), sent))

        for (kind, value), interaction in interactions:
            try:
                replies = await fake.answered(interaction, timeout=40)
            except AssertionError as exc:
                raise AssertionError(f"no answer to {kind} {value[:80]!r}") from exc
            texts = [m.text() for m in replies]
            assert texts and not [t for t in texts if SORRY in t], (kind, value[:80], texts)

        def dm_answers() -> list[Any]:
            ids = {dm["id"] for dm in dms}
            return [m for m in fake.messages.values()
                    if (m.payload.get("message_reference") or {}).get("message_id") in ids]

        await fake.wait_until(lambda: len(dm_answers()) >= len(dms), 40, "an answer to every message")
        assert not [m.text() for m in dm_answers() if SORRY in m.text()]
        assert moodtape_problems(caplog) == []

        after = await fake.slash("mood", people[1], text="so much fun at the party")
        [reply] = await fake.answered(after)
        assert SORRY not in reply.text() and reply.buttons
