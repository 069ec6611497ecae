"""`/add <Deezer playlist>` in the real Telegram bot: one message, edited as the tracks arrive, then the summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.bot.test_telegram import ADMIN, APOLOGY, Running, start_bot, tiny_model  # noqa: F401 - fixtures
from tests.fakes.http_server import FakeWeb


async def summary_of(server: Any, message: dict[str, Any], title: str) -> str:
    """The text of the /add answer `message` once it is edited into the summary naming `title`."""
    key = (ADMIN["id"], message["message_id"])

    def finished() -> str | None:
        text = server.messages[key]["text"]
        return text if title in text else None

    return await server.wait_for(finished, timeout=60, what="the /add summary")


async def add_and_wait(server: Any, link: str, title: str) -> tuple[dict[str, Any], str]:
    """/add `link` as the admin: the "Adding" placeholder and its final summary (which names `title`)."""
    server.send_text(ADMIN, f"/add {link}")
    placeholder = await server.wait_for_message(ADMIN["id"], contains="Adding")
    return placeholder, await summary_of(server, placeholder, title)


async def test_a_deezer_playlist_of_thirty_adds_thirty(start_bot: Callable[..., Awaitable[Running]]) -> None:  # noqa: F811
    with FakeWeb() as web:
        for n in range(30):
            web.add_deezer(9000 + n, f"Tune {n}", f"Group {n % 5}")
        web.add_deezer_list("playlist", 5551, "Road trip", [9000 + n for n in range(30)])
        bot = await start_bot(telegram_admins=[ADMIN["id"]], allow_private_networks=True,
                              deezer_api_url=web.url("/deezer"))
        server = bot.server
        placeholder, text = await add_and_wait(server, "https://www.deezer.com/playlist/5551", "Road trip")
        assert APOLOGY not in text
        assert "Deezer playlist “Road trip”: 30 song(s)" in text and "30 added" in text
        assert await bot.engine.store.count_tracks() == 30
        # the same playlist again: nothing new, and the answer says so
        server.send_text(ADMIN, "/add https://www.deezer.com/playlist/5551")
        again = await server.wait_for_message(ADMIN["id"], after=placeholder["message_id"])
        text = await summary_of(server, again, "Road trip")
        assert "0 added, 30 already there" in text
        assert await bot.engine.store.count_tracks() == 30


async def test_a_spotify_playlist_is_matched_song_by_song(start_bot: Callable[..., Awaitable[Running]]) -> None:  # noqa: F811
    with FakeWeb() as web:
        for n in range(8):
            web.add_deezer(9100 + n, f"Tune {n}", f"Group {n % 3}")
        web.add_spotify_list("playlist", "37i9dQZF1DXcBWIGoYBM5M", "Night drive",
                             [(f"7spotifytrack{n:09d}", f"Tune {n}", f"Group {n % 3}") for n in range(10)])
        bot = await start_bot(telegram_admins=[ADMIN["id"]], allow_private_networks=True,
                              deezer_api_url=web.url("/deezer"), spotify_open_url=web.url("/spotify"))
        _, text = await add_and_wait(bot.server, "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M?si=x",
                                     "Night drive")
        assert APOLOGY not in text
        assert "Spotify playlist “Night drive”: 10 song(s)" in text and "10 added" in text
        assert await bot.engine.store.count_tracks() == 10  # 8 Deezer previews, 2 kept as metadata only
