"""A playlist from a title as people ask for it: `moodtape continue --title`, `/continue` in Telegram and Discord.

The bots run for real (python-telegram-bot and discord.py against the fakes in tests/fakes, the fixtures of
test_telegram.py and test_discord.py); the playlists are invented (a "rainy" family, a "workout" family and a
Korean "드라이브" family with songs of their own), so which songs are right is known.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from moodtape.bot.cli import main
from moodtape.core.engine import Engine

from tests.bot.test_discord import bot_engine, bot_settings, fake, feedback_buttons, running  # noqa: F401
from tests.bot.test_telegram import ANA, Running, assert_feedback_keyboard, start_bot, tiny_model  # noqa: F401
from tests.core.cf.synthetic import write_mpd
from tests.fakes.discord_server import FakeDiscord

FAMILIES = {
    "rain": (["Rainy day", "rainy days ☔", "Rain mood", "rainy day chill"], [f"Rain Song {i}" for i in range(6)]),
    "gym": (["Gym", "WORKOUT 💪", "gym hits"], [f"Gym Song {i}" for i in range(6)]),
    "drive": (["드라이브", "드라이브 음악", "밤 드라이브"], [f"Drive Song {i}" for i in range(6)]),
}


def playlists() -> list[dict[str, Any]]:
    out, pid = [], 0
    for family, (names, songs) in FAMILIES.items():
        for n, name in enumerate(names):
            picks = songs[:4] if n % 2 == 0 else songs[2:]
            out.append({"pid": pid, "name": name, "num_tracks": len(picks), "tracks": [
                {"artist_name": f"{family} band", "track_name": s, "track_uri": f"spotify:track:{family}{s[-1]}"}
                for s in picks]})
            pid += 1
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model: Path) -> Path:  # noqa: F811
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOODTAPE_EMOTION_MODEL", str(tiny_model))
    monkeypatch.setenv("MOODTAPE_KOREAN_EMOTION_MODEL", str(tiny_model))
    return tmp_path


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_continue_title(capsys: pytest.CaptureFixture[str], cli_env: Path) -> None:
    db = str(cli_env / "lib.db")
    mpd = write_mpd(cli_env / "playlists.json.gz", playlists())
    assert run(capsys, "--db", db, "import", str(mpd))[0] == 0

    code, out, _ = run(capsys, "--db", db, "continue", "--title", "rainy day chill", "--k", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["basis"] == "playlists" and data["title"] == "rainy day chill"
    assert data["matches"][0] == {"name": "rainy day chill", "similarity": 1.0, "playlists": 1}
    assert len(data["tracks"]) == 4 and all(t["title"].startswith("Rain Song") for t in data["tracks"])
    assert all("in playlists named" in t["reason"] for t in data["tracks"])
    assert set(data["mood"]) >= {"label", "valence", "arousal", "confidence", "language"}

    code, out, _ = run(capsys, "--db", db, "continue", "--title", "드라이브 갈 때", "--k", "3")
    assert code == 0
    assert out.startswith("To start a playlist called \"드라이브 갈 때\": from playlists named like it (\"드라이브\"")
    assert out.count("Drive Song") == 3 and "Rain Song" not in out

    code, out, _ = run(capsys, "--db", db, "continue", "--title", "zzqx", "--k", "2", "--json")
    assert code == 0 and json.loads(out)["basis"] == "popularity"

    code, _, err = run(capsys, "--db", db, "continue", "--title", "gym", "Rain Song 1")
    assert code == 2 and "seed songs or --title, not both" in err
    code, _, err = run(capsys, "--db", db, "continue")
    assert code == 2 and "--title" in err
    code, _, err = run(capsys, "--db", db, "continue", "--title", "   ")
    assert code == 2 and "playlist title" in err and "Traceback" not in err


def test_cli_continue_title_without_playlists_says_it_reads_the_words(capsys: pytest.CaptureFixture[str],
                                                                      cli_env: Path) -> None:
    code, out, _ = run(capsys, "--db", str(cli_env / "empty.db"), "continue", "--title", "sad rain", "--k", "3")
    assert code == 0
    assert "no playlists are imported yet" in out and "mood of the words alone" in out
    assert "demo catalogue" in out and out.count("(#") == 3


# ---------------------------------------------------------------------------------------------- Telegram
async def with_playlists(engine: Engine, folder: Path) -> None:
    report = await engine.import_file(write_mpd(folder / "playlists.json.gz", playlists()))
    assert report.playlists_added == len(playlists())


async def test_telegram_continue(start_bot: Callable[..., Awaitable[Running]], tmp_path: Path) -> None:  # noqa: F811
    bot = await start_bot()
    server = bot.server
    server.send_text(ANA, "/continue")
    usage = await server.wait_for_message(ANA["id"], contains="/continue rainy day chill")
    assert "reply_markup" not in usage

    server.send_text(ANA, "/continue rainy day chill")  # no playlists yet: the mood of the words, said so
    early = await server.wait_for_message(ANA["id"], contains="A playlist called", after=usage["message_id"])
    assert "no playlists are imported yet" in early["text"] and "demo catalogue" in early["text"]
    assert_feedback_keyboard(server, early)

    await with_playlists(bot.engine, tmp_path)
    server.send_text(ANA, "/continue WORKOUT 💪")
    reply = await server.wait_for_message(ANA["id"], contains="A playlist called “WORKOUT 💪”",
                                          after=early["message_id"])
    assert "from playlists named like it" in reply["text"]
    ids = assert_feedback_keyboard(server, reply)
    tracks = await bot.engine.store.get_tracks(ids)
    # the one workout playlist holds four songs; the fifth place is filled by popularity, and says so
    assert len(ids) == bot.settings.default_k == 5
    assert all(tracks[i].title.startswith("Gym Song") for i in ids[:4]) and "of the 10 playlists" in reply["text"]

    server.send_text(ANA, "/continue <b>rain</b> & \"mood\"")  # the fake refuses HTML Telegram would refuse
    escaped = await server.wait_for_message(ANA["id"], contains="A playlist called “<b>rain</b> & \"mood\"”",
                                            after=reply["message_id"])
    assert "Rain Song" in escaped["text"]

    up = server.click(ANA, reply, f"fb:+:{ids[0]}")
    answer = await server.wait_for(lambda: server.callback_answer(up), what="the 👍 answer")
    assert answer["text"].startswith("Thanks!")
    assert (ids[0], "tg:1001", 1) in await bot.engine.store.feedback()


# ---------------------------------------------------------------------------------------------- Discord
async def test_discord_continue(bot_engine: Engine, bot_settings: Any, fake: FakeDiscord,  # noqa: F811
                                tmp_path: Path) -> None:
    await with_playlists(bot_engine, tmp_path)
    async with running(bot_engine, bot_settings, fake):
        names = {c["name"]: c for c in fake.commands[None]}
        assert [o["name"] for o in names["continue"]["options"]] == ["title"]

        asked = await fake.slash("continue", fake.user("ann"), title="밤 드라이브")
        [reply] = await fake.answered(asked)
        assert asked.response_type == 5 and not reply.ephemeral
        embed = reply.embeds[0]
        assert embed["title"] == "A playlist called “밤 드라이브”"
        assert embed["description"].startswith("From playlists named like it (\"밤 드라이브\"")
        assert len(embed["fields"]) == 3 and all("Drive Song" in f["name"] for f in embed["fields"])
        buttons = feedback_buttons(reply)
        assert len(buttons) == 6 and all(b["custom_id"].endswith(":continue") for b in buttons)

        [blank] = await fake.answered(await fake.slash("continue", fake.user("ann"), title="   "))
        assert blank.ephemeral and "Give the playlist a name" in blank.content
