"""What the Discord bot answers: the slash commands, and mentions and DMs read as moods.

One `commands.Cog`, given the engine and settings when the bot loads it (`MoodtapeBot.setup_hook`).  The
handlers parse what Discord sends, call the engine and render its answer; failures go to the command tree's
one error handler (`replies.report_failure`).  The bot asks for no privileged intent: Discord still
delivers the text of DMs and of messages that mention the bot without the message-content intent, which is
exactly what is read as a mood.
"""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from moodtape.bot.discord import render
from moodtape.bot.discord.buttons import feedback_view
from moodtape.bot.discord.replies import read_attachment, reply_quietly, think, user_ref
from moodtape.bot.shared.admin import require_admin
from moodtape.bot.shared.audio import looks_like_audio
from moodtape.bot.shared.errors import user_message
from moodtape.bot.shared.help import description_of
from moodtape.bot.shared.throttle import Throttle
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP

__all__ = ["MoodtapeCommands"]

log = logging.getLogger(__name__)

#: How a mention looks in message content (`<@id>`, or `<@!id>` from older clients).
_MENTION = re.compile(r"<@!?(\d+)>")


def _cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """The shared throttling policy as discord.py's cooldown (None: no throttling)."""
    cog = getattr(interaction.command, "binding", None)
    throttle = cog.throttle if isinstance(cog, MoodtapeCommands) else None
    return app_commands.Cooldown(throttle.rate, throttle.per) if throttle and throttle.active else None


#: One cooldown for all the commands that cost work, counted per bot and person.
throttled = app_commands.checks.dynamic_cooldown(
    _cooldown, key=lambda interaction: (id(interaction.client), interaction.user.id)
)


class MoodtapeCommands(commands.Cog):
    """The slash commands and the mood listener, bound to one engine."""

    def __init__(self, bot: commands.Bot, engine: Engine, settings: Settings) -> None:
        self.bot = bot
        self.engine = engine
        self.settings = settings
        self.k = min(settings.default_k, render.MAX_SONGS)
        self.throttle = Throttle(settings.user_cooldown_s)  # mentions and DMs; commands use `throttled`

    # ------------------------------------------------------------------ slash commands
    @app_commands.command(name="mood", description=description_of("mood"))
    @app_commands.describe(text="how you feel, in a sentence or two")
    @throttled
    async def mood(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 1000]) -> None:
        await think(interaction)
        chosen = await self.engine.strategy_for(user_ref(interaction.user))
        result = await self.engine.chat(text, self.k, chosen)
        await interaction.followup.send(embed=render.mood_embed(result),
                                        view=feedback_view(result.tracks, chosen))

    @app_commands.command(name="similar", description=description_of("similar"))
    @app_commands.describe(query="a track id, “artist - title”, words of a title, or a link",
                           attachment="an audio file or voice message")
    @throttled
    async def similar(self, interaction: discord.Interaction,
                      query: app_commands.Range[str, 1, 500] | None = None,
                      attachment: discord.Attachment | None = None) -> None:
        text = (query or "").strip()
        if attachment is None and not text:
            raise UserError("Tell me a song (query) or attach an audio file.")
        await think(interaction)
        if attachment is not None:
            data = await read_attachment(attachment, self.settings.max_file_bytes)
            result = await self.engine.similar_to_bytes(data, self.k, label=attachment.filename)
        else:
            result = await self.engine.similar(text, self.k, paths=False)
        await interaction.followup.send(embed=render.similar_embed(result),
                                        view=feedback_view(result.tracks, "similar"))

    @app_commands.command(name="add", description=description_of("add"))
    @app_commands.describe(link="a link to a song (a web page or an audio file)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, link: app_commands.Range[str, 1, 2000]) -> None:
        role = self.settings.discord_admin_role
        who = f"the “{role}” role or " if role else ""
        require_admin(self._is_admin(interaction), f"server admins ({who}the Manage Server permission)")
        await think(interaction, ephemeral=True)
        result = await self.engine.add_link(link.strip(), added_by=user_ref(interaction.user))
        await interaction.followup.send(render.sentence(result.message), ephemeral=True)

    @app_commands.command(name="strategy", description=description_of("strategy"))
    @app_commands.describe(choice="what the songs should do with your mood")
    @app_commands.choices(choice=[app_commands.Choice(name=f"{name}: {STRATEGY_HELP[name]}"[:100], value=name)
                                  for name in STRATEGIES])
    async def strategy(self, interaction: discord.Interaction, choice: app_commands.Choice[str]) -> None:
        await self.engine.set_strategy(user_ref(interaction.user), choice.value)
        await interaction.response.send_message(
            f"From now on: **{choice.value}**, {STRATEGY_HELP[choice.value]}.", ephemeral=True
        )

    @app_commands.command(name="help", description=description_of("help"))
    async def help_command(self, interaction: discord.Interaction) -> None:
        embed = render.help_embed(self.settings.discord_admin_role)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    def _is_admin(self, interaction: discord.Interaction) -> bool:
        """Manage Server, or the configured admin role (by id or by name, case-insensitively)."""
        member = interaction.user
        if interaction.guild is None or not isinstance(member, discord.Member):
            return False
        if interaction.permissions.manage_guild:
            return True
        wanted = (self.settings.discord_admin_role or "").strip()
        return bool(wanted) and any(
            str(role.id) == wanted or role.name.casefold() == wanted.casefold() for role in member.roles
        )

    # ------------------------------------------------------------------ mentions and DMs
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A DM or a message mentioning the bot: its text is a mood, an attached audio file a "songs like"."""
        me = self.bot.user
        if message.author.bot or me is None:
            return
        if message.guild is not None and not any(user.id == me.id for user in message.mentions):
            return
        text = _MENTION.sub(lambda m: "" if int(m.group(1)) == me.id else m.group(0), message.content)
        text = " ".join(text.split())
        clip = next((a for a in message.attachments if looks_like_audio(a.filename, a.content_type)), None)
        try:
            if not text and clip is None:
                await message.reply(render.EMPTY_MENTION, mention_author=False)
                return
            verdict = self.throttle.check(message.author.id)
            if not verdict.allowed:
                if verdict.warn:
                    await message.reply(render.SLOW_DOWN.format(seconds=max(verdict.retry_after, 1)),
                                        mention_author=False)
                return
            async with message.channel.typing():
                if clip is not None:
                    data = await read_attachment(clip, self.settings.max_file_bytes)
                    found = await self.engine.similar_to_bytes(data, self.k, label=clip.filename)
                    embed, view = render.similar_embed(found), feedback_view(found.tracks, "similar")
                else:
                    chosen = await self.engine.strategy_for(user_ref(message.author))
                    result = await self.engine.chat(text, self.k, chosen)
                    embed, view = render.mood_embed(result), feedback_view(result.tracks, chosen)
            await message.reply(embed=embed, view=view, mention_author=False)
        except Exception as exc:  # an event handler must not fail silently: answer, and log ours
            reply = user_message(exc, log, f"mood message from {user_ref(message.author)}")
            await reply_quietly(message, render.sentence(reply.text))
