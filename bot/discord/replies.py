"""Answering Discord: acknowledging interactions in time, private answers, errors, and reading attachments.

Discord wants an answer to an interaction within 3 seconds, so work that may touch a model or the network
defers first ("Moodtape is thinking…") and answers with a follow-up.  Errors are answered privately
(ephemeral), so only the person who asked sees them.
"""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands

from moodtape.bot.discord import render
from moodtape.bot.ops.metrics import outcome_of, record
from moodtape.bot.shared.audio import looks_like_audio, read_audio
from moodtape.bot.shared.errors import user_message
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError

__all__ = ["engine_of", "read_attachment", "reply_quietly", "report_failure", "tell_privately", "think",
           "user_ref"]

log = logging.getLogger(__name__)

#: The extras key that says the "thinking…" placeholder of an interaction is public (see `tell_privately`).
_PUBLIC_PLACEHOLDER = "moodtape_public_placeholder"


def user_ref(user: discord.abc.User) -> str:
    """How the engine and the database name a Discord user (strategy preference, feedback)."""
    return f"dc:{user.id}"


def engine_of(interaction: discord.Interaction) -> Engine:
    """The engine of the bot an interaction came through (for buttons, which live outside the commands)."""
    engine = getattr(interaction.client, "engine", None)
    if not isinstance(engine, Engine):
        raise RuntimeError("this interaction did not come through the Moodtape bot")
    return engine


async def think(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Acknowledge at once (Discord's 3-second rule) and show "thinking…" while the engine works."""
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    interaction.extras[_PUBLIC_PLACEHOLDER] = not ephemeral


async def tell_privately(interaction: discord.Interaction, text: str) -> None:
    """Say `text` so that only the person who asked sees it, whatever state the interaction is in.

    Discord turns the first follow-up after a deferral into the deferred message itself, with the deferral's
    visibility; so a public "thinking…" placeholder is deleted first, then the text goes out as a new,
    ephemeral follow-up.
    """
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
            return
        if interaction.extras.pop(_PUBLIC_PLACEHOLDER, False):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.warning("could not delete the thinking placeholder of interaction %s", interaction.id)
        await interaction.followup.send(text, ephemeral=True)
    except Exception:  # the last line of defence: Discord unreachable, interaction expired, ...
        log.exception("could not tell user %s: %s", interaction.user.id, text)


#: Where `MoodtapeTree` notes when an interaction reached this process (`Interaction.extras`).
RECEIVED = "moodtape_received"


def since(interaction: discord.Interaction) -> float:
    """Seconds since this process received `interaction` (0 when it was never noted)."""
    now = time.perf_counter()
    return now - float(interaction.extras.get(RECEIVED, now))


async def report_failure(interaction: discord.Interaction, error: BaseException) -> None:
    """The one place a failed interaction (command or button) becomes a private message.

    Too soon: how long to wait; a check that failed: why; anything else through `user_message` (a
    `MoodtapeError`'s own words, else an apology naming the log line's reference).
    """
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    command_name = interaction.command.qualified_name if interaction.command else "component"
    record("discord", command_name, outcome_of(error), since(interaction))
    if isinstance(error, app_commands.CommandOnCooldown):
        text = render.SLOW_DOWN.format(seconds=max(error.retry_after, 1))
    elif isinstance(error, app_commands.CheckFailure):
        text = "You cannot use this command here."
    else:
        command = interaction.command.qualified_name if interaction.command else interaction.data
        context = f"Discord interaction {interaction.id} ({command}) by {interaction.user.id}"
        text = render.sentence(user_message(error, log, context).text)
    await tell_privately(interaction, text)


async def reply_quietly(message: discord.Message, text: str) -> None:
    """Reply without pinging the author; a failure to reply is only logged."""
    try:
        await message.reply(text, mention_author=False)
    except Exception:  # the last line of defence, as in `tell_privately`
        log.exception("could not reply to message %s", message.id)


async def read_attachment(attachment: discord.Attachment, limit: int) -> bytes | bytearray:
    """An audio attachment's bytes through discord.py, refusing other files and anything over `limit`."""
    name = attachment.filename
    if not looks_like_audio(name, attachment.content_type):
        kind = attachment.content_type or "of no known type"
        raise UserError(f"{name} is not an audio file (it is {kind})")
    try:
        return await read_audio(name, attachment.size, limit, attachment.read)
    except discord.HTTPException as exc:
        raise UserError(f"could not download {name} from Discord, please try again") from exc
