"""The Discord bot itself: intents, the client, logging in and serving (`moodtape run discord`).

`MoodtapeBot` is a `commands.Bot` used for its cogs only (no text commands): `setup_hook` loads
`MoodtapeCommands` with the engine and registers the feedback buttons.  A missing or refused token is a
`UserError` with one clear line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from moodtape.bot.discord import render
from moodtape.bot.discord.buttons import FeedbackButton, SaveButton, reaches_a_button
from moodtape.bot.discord.commands import MoodtapeCommands
from moodtape.bot.discord.conventions import songs_like_this_menu
from moodtape.bot.discord.replies import RECEIVED, report_failure, since, tell_privately
from moodtape.bot.discord.translate import KoreanTranslator
from moodtape.bot.ops.metrics import record
from moodtape.bot.shared.request_ids import start_request
from moodtape.bot.shared.tokens import DISCORD_PORTAL, bot_token
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError

__all__ = ["MoodtapeBot", "build_bot", "check_discord", "intents", "run_discord"]

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """The gateway intents the bot needs: none of them privileged.

    guilds: slash commands and role names for the admin check; guild/DM messages: mentions and DMs.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


class MoodtapeTree(app_commands.CommandTree):
    """The command tree, noting when each interaction arrived (for the reply-latency metric)."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        interaction.extras[RECEIVED] = time.perf_counter()
        start_request()  # this task answers only this interaction: its log lines and apology share the id
        return True


class MoodtapeBot(commands.Bot):
    """The Discord client: holds the engine that `setup_hook` gives the commands (and the buttons use)."""

    def __init__(self, engine: Engine, settings: Settings, *, sync_commands: bool = True,
                 **options: Any) -> None:
        options.setdefault("intents", intents())
        # Texts echo what people typed: never let one ping @everyone or a role through the bot.
        quiet = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=True)
        options.setdefault("allowed_mentions", quiet)
        options.setdefault("tree_cls", MoodtapeTree)
        super().__init__(command_prefix=commands.when_mentioned, help_command=None, **options)
        self.engine = engine
        self.settings = settings
        self.sync_commands = sync_commands
        self.tree.error(report_failure)

    async def setup_hook(self) -> None:
        await self.add_cog(MoodtapeCommands(self, self.engine, self.settings))
        self.tree.add_command(songs_like_this_menu(self.engine, self.settings.max_file_bytes,
                                                   min(self.settings.default_k, render.MAX_SONGS)))
        await self.tree.set_translator(KoreanTranslator())  # Korean names/descriptions, applied at sync
        # Buttons of every message ever sent are routed by their custom_id pattern, not by a stored view.
        self.add_dynamic_items(FeedbackButton, SaveButton)
        if self.sync_commands:
            try:
                synced = await self.tree.sync()
                log.info("synced %d slash command(s) with Discord", len(synced))
            except discord.HTTPException:
                # The commands Discord already knows keep working; a failed sync must not stop the bot.
                log.exception("could not sync slash commands with Discord")

    async def on_message(self, message: discord.Message, /) -> None:
        """No text commands (a mention is a mood): the cog's listener reads messages, nothing else does."""

    async def on_interaction(self, interaction: discord.Interaction, /) -> None:
        """A click on a button we do not make (an older version's, or forged data) still gets an answer.

        discord.py routes a component by its custom_id and silently drops one that nothing matches, which
        the person would see as "This interaction failed"; ours are answered by `FeedbackButton`.
        """
        if interaction.type is discord.InteractionType.component and not reaches_a_button(interaction):
            await tell_privately(interaction, render.STALE_BUTTON)

    async def on_app_command_completion(self, interaction: discord.Interaction,
                                        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu
                                        ) -> None:
        """A slash command that answered: counted and timed for `/metrics` (failures: `report_failure`)."""
        record("discord", command.qualified_name, "ok", since(interaction))

    async def on_ready(self) -> None:
        user = self.user
        log.info("Discord: logged in as %s (%s) in %d server(s)", user, user.id if user else "?",
                 len(self.guilds))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in Discord event %s", event_method)


def build_bot(engine: Engine, settings: Settings, **options: Any) -> MoodtapeBot:
    """The Discord bot for `engine`; `options` go to `discord.Client` (e.g. `guild_ready_timeout`)."""
    return MoodtapeBot(engine, settings, **options)


def _refused(exc: discord.LoginFailure) -> UserError:
    return UserError(
        f"Discord refused MOODTAPE_DISCORD_TOKEN ({exc}); copy the bot token from {DISCORD_PORTAL}"
    )


async def check_discord(settings: Settings) -> str:
    """The bot's name if Discord accepts the token, else a one-line `UserError` (for `moodtape run`)."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        async with client:
            await client.login(bot_token(settings, "discord"))
            return str(client.user)
    except discord.LoginFailure as exc:
        raise _refused(exc) from exc
    except (discord.HTTPException, aiohttp.ClientError) as exc:
        raise UserError(f"cannot reach Discord to check MOODTAPE_DISCORD_TOKEN: {exc}") from exc


async def run_discord(engine: Engine, settings: Settings, *, on_bot: Callable[[MoodtapeBot], None] | None = None,
                      **options: Any) -> None:
    """Log in and serve until the bot is closed or this task is cancelled (how `moodtape run` stops it).

    Raises `UserError` for a missing or refused token, and for a bot that was set up asking for privileged
    intents, so the CLI prints one line instead of a traceback.
    """
    token = bot_token(settings, "discord")
    bot = build_bot(engine, settings, **options)
    if on_bot is not None:  # e.g. `moodtape run` adding the bot's connection to /healthz
        on_bot(bot)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure as exc:
        raise _refused(exc) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise UserError(f"Discord refused the gateway intents this bot asked for ({exc})") from exc
