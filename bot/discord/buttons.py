"""The 👍/👎 buttons under recommended songs.

They are `DynamicItem`s whose `custom_id` carries the vote, the track and what was asked, so a click on a
message sent before a restart still finds its way here: no view state lives in memory.
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord
from moodtape.bot.discord import render
from moodtape.bot.discord.replies import engine_of, report_failure, user_ref
from moodtape.bot.shared.saved import SAVE_TOKEN, parse_save_token, save_token, saved_files
from moodtape.core.results import RecommendedTrack

__all__ = ["FeedbackButton", "SaveButton", "feedback_view", "reaches_a_button"]

#: The custom_id of a 👍/👎 button: ASCII digits only (18 at most: a SQLite id), so a forged one never
#: reaches `int()` with something it refuses or the store with something it cannot hold.
FEEDBACK_ID = re.compile(r"moodtape:fb:(?P<vote>up|down):(?P<track>[0-9]{1,18}):(?P<kind>[a-z]{1,16})")
#: The custom_id of a 💾 Save button: the answer's song ids (`bot.shared.saved`).
SAVE_ID = re.compile(r"moodtape:save:(?P<token>" + SAVE_TOKEN.pattern + ")")


def reaches_a_button(interaction: discord.Interaction) -> bool:
    """Whether discord.py will hand this click to a `FeedbackButton` (which answers it, thanks or error).

    It does so only for a custom_id of ours that the clicked message shows; anything else (an older
    version's button, forged data) it drops without a word, and the person would see "interaction failed".
    """
    custom_id = (interaction.data or {}).get("custom_id")
    if not isinstance(custom_id, str) or interaction.message is None:
        return False
    if FEEDBACK_ID.fullmatch(custom_id) is None and SAVE_ID.fullmatch(custom_id) is None:
        return False
    return any(getattr(child, "custom_id", None) == custom_id
               for row in interaction.message.components for child in getattr(row, "children", ()))


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=FEEDBACK_ID):
    """A 👍 or 👎 under a recommended song; everything it needs is in its custom_id (100 characters max)."""

    def __init__(self, track_id: int, value: int, kind: str, number: int, row: int | None = None) -> None:
        vote = "up" if value > 0 else "down"
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success if value > 0 else discord.ButtonStyle.secondary,
                label=f"{number} {'👍' if value > 0 else '👎'}",
                custom_id=f"moodtape:fb:{vote}:{track_id}:{kind}",
                row=row,
            )
        )
        self.track_id = track_id
        self.value = value
        self.kind = kind
        self.number = number

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> "FeedbackButton":
        label = getattr(item, "label", None) or ""
        number = int(label.split()[0]) if label.split() and label.split()[0].isdigit() else 0
        return cls(int(match["track"]), 1 if match["vote"] == "up" else -1, match["kind"], number)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            context = {"via": "discord", "kind": self.kind,
                       "message": interaction.message.id if interaction.message else None}
            engine = engine_of(interaction)
            await engine.feedback(self.track_id, user_ref(interaction.user), self.value, context)
            title = _title_from_message(interaction.message, self.track_id)
            await interaction.response.send_message(render.feedback_thanks(self.value, title, self.track_id),
                                                    ephemeral=True)
        except Exception as exc:  # buttons bypass the command tree's error handler: report here
            await report_failure(interaction, exc)


def feedback_view(tracks: list[RecommendedTrack], kind: str) -> discord.ui.View:
    """👍/👎 per song, two songs per row so each pair stays together (five rows hold `MAX_SONGS`), and 💾 Save
    on a row of its own (or, with ten songs, as the fifth button of the last row)."""
    view = discord.ui.View(timeout=None)
    shown = tracks[: render.MAX_SONGS]
    for index, track in enumerate(shown):
        for value in (1, -1):
            view.add_item(FeedbackButton(track.id, value, kind, index + 1, row=index // 2))
    token = save_token(shown)
    if token is not None:
        view.add_item(SaveButton(token, row=min((len(shown) + 1) // 2, 4)))
    return view


class SaveButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=SAVE_ID):
    """💾 Save under an answer: the songs as JSPF and M3U8 files, sent to the person who clicked, privately."""

    def __init__(self, token: str, row: int | None = None) -> None:
        super().__init__(discord.ui.Button(style=discord.ButtonStyle.primary, label="💾 Save",
                                           custom_id=f"moodtape:save:{token}", row=row))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> "SaveButton":
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            files = await saved_files(engine_of(interaction), parse_save_token(self.token))
            await interaction.response.send_message(
                "Your songs as playlist files: JSPF (ListenBrainz) and M3U8 (any player).", ephemeral=True,
                files=[discord.File(io.BytesIO(data), filename=name) for name, data in files])
        except Exception as exc:  # buttons bypass the command tree's error handler: report here
            await report_failure(interaction, exc)


def _title_from_message(message: discord.Message | None, track_id: int) -> str | None:
    """The song's name as the embed showed it (its field ends with `#id`), for a friendlier thank-you."""
    if message is None:
        return None
    for embed in message.embeds:
        for field in embed.fields:
            value = field.value or ""
            if value.rstrip().endswith(f"#{track_id}") and field.name:
                return field.name.split(". ", 1)[-1]
    return None
