"""What Discord users expect of a music bot beyond slash commands: autocomplete and a message context menu.

* `/similar query:` suggests catalogue songs as you type (titles and artists, the demo catalogue until the
  database has songs), `/strategy choice:` the strategies with what each does;
* "Songs like this" (right-click a message -> Apps) answers with songs like the message's audio attachment or
  the song link in it.

Autocomplete must answer within Discord's 3 seconds and never fails loudly: a query that cannot be searched
answers with no suggestions (the person can still type their own text).
"""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from moodtape.bot.discord import render
from moodtape.bot.discord.buttons import feedback_view
from moodtape.bot.discord.replies import read_attachment, think, user_ref
from moodtape.bot.discord.translate import CONTEXT_MENU_NAME
from moodtape.bot.shared.audio import looks_like_audio
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.links import looks_like_link
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP

__all__ = ["MAX_SUGGESTIONS", "songs_like_this_menu", "strategy_suggestions", "track_suggestions"]

log = logging.getLogger(__name__)

#: Discord shows at most 25 suggestions.
MAX_SUGGESTIONS = 25
_LINK = re.compile(r"https?://\S+")


async def track_suggestions(engine: Engine, typed: str) -> list[app_commands.Choice[str]]:
    """Catalogue songs whose title, artist or album match what is typed, as "artist - title" choices."""
    text = typed.strip()
    if len(text) < 2 or looks_like_link(text):
        return []
    try:
        tracks = await engine.suggest_tracks(text, MAX_SUGGESTIONS)
    except UserError as exc:
        log.info("no suggestions for %r: %s", text[:40], exc)
        return []
    choices = []
    for track in tracks:
        label = track.label if len(track.label) <= 100 else track.label[:99] + "…"
        choices.append(app_commands.Choice(name=label, value=f"#{track.id}"))
    return choices


def strategy_suggestions(typed: str) -> list[app_commands.Choice[str]]:
    """The strategies whose name or description contains what is typed (all of them for nothing typed)."""
    text = typed.strip().casefold()
    return [app_commands.Choice(name=f"{name}: {STRATEGY_HELP[name]}"[:100], value=name)
            for name in STRATEGIES if not text or text in name or text in STRATEGY_HELP[name].casefold()]


def _first_audio(message: discord.Message) -> discord.Attachment | None:
    return next((a for a in message.attachments if looks_like_audio(a.filename, a.content_type)), None)


def songs_like_this_menu(engine: Engine, max_file_bytes: int, k: int) -> app_commands.ContextMenu:
    """The "Songs like this" message command, answering publicly like `/similar`."""

    async def songs_like_this(interaction: discord.Interaction, message: discord.Message) -> None:
        attachment = _first_audio(message)
        link = None if attachment is not None else next(iter(_LINK.findall(message.content or "")), None)
        if attachment is None and link is None:
            raise UserError("That message has no audio file and no song link; “Songs like this” needs one of them "
                            "(or use /similar with a song's name).")
        await think(interaction)
        who = user_ref(interaction.user)
        if attachment is not None:
            data = await read_attachment(attachment, max_file_bytes)
            result = await engine.similar_to_bytes(data, k, label=attachment.filename, user_ref=who)
        else:
            assert link is not None
            result = await engine.similar_to_link(link.rstrip(">)]."), k, user_ref=who)
        await interaction.followup.send(embed=render.similar_embed(result),
                                        view=feedback_view(result.tracks, "similar"))

    return app_commands.ContextMenu(name=CONTEXT_MENU_NAME, callback=songs_like_this)
