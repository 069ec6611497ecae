"""What the Discord bot answers: the slash commands, and mentions and DMs read as moods.

One `commands.Cog`, given the engine and settings when the bot loads it (`MoodtapeBot.setup_hook`).  The
handlers parse what Discord sends, call the engine and render its answer; failures go to the command tree's
one error handler (`replies.report_failure`).  The bot asks for no privileged intent: Discord still
delivers the text of DMs and of messages that mention the bot without the message-content intent, which is
exactly what is read as a mood.
"""

from __future__ import annotations

import io
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands
from moodtape.bot.discord import render
from moodtape.bot.discord.buttons import feedback_view
from moodtape.bot.discord.conventions import strategy_suggestions, track_suggestions
from moodtape.bot.discord.replies import read_attachment, reply_quietly, think, user_ref
from moodtape.bot.shared.admin import require_admin
from moodtape.bot.shared.audio import looks_like_audio
from moodtape.bot.shared.errors import user_message
from moodtape.bot.shared.help import description_of
from moodtape.bot.shared.link_progress import LinkProgress, batch_summary
from moodtape.bot.shared.picture import PICTURE_NAME, picture_png
from moodtape.bot.shared.room import ROOM_PRIVATE, discord_room, no_readings
from moodtape.bot.shared.taste import forget_text
from moodtape.bot.shared.throttle import Throttle
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP
from moodtape.core.results import ChatResult
from moodtape.core.voice.asr import language_hint

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
        result = await self.engine.chat(text, self.k, chosen, user_ref=user_ref(interaction.user))
        if interaction.guild is not None and interaction.channel_id is not None:  # the channel's /room window
            self.engine.note_mood(discord_room(interaction.channel_id), user_ref(interaction.user), result.mood)
        embed = render.mood_embed(result)
        files = await self._picture(interaction.user, result, embed)
        await interaction.followup.send(embed=embed, view=feedback_view(result.tracks, chosen),
                                        files=files or discord.utils.MISSING)

    @app_commands.command(name="room", description=description_of("room"))
    @app_commands.describe(steer="what the songs should do with the room's mood (default: match it)")
    @app_commands.choices(steer=[app_commands.Choice(name=f"{name}: {STRATEGY_HELP[name]}"[:100], value=name)
                                 for name in STRATEGIES])
    @throttled
    async def room(self, interaction: discord.Interaction,
                   steer: app_commands.Choice[str] | None = None) -> None:
        """Songs for the mood of the people read in this channel lately (a DM gets an explanation)."""
        if interaction.guild is None or interaction.channel_id is None:
            await interaction.response.send_message(ROOM_PRIVATE, ephemeral=True)
            return
        await think(interaction)
        strategy = steer.value if steer is not None else "match"
        result = await self.engine.room_songs(discord_room(interaction.channel_id), self.k, strategy)
        if result is None:
            await interaction.followup.send(no_readings("mentions of me and /mood"))
            return
        await interaction.followup.send(embed=render.room_embed(result),
                                        view=feedback_view(result.chat.tracks, strategy))

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
            result = await self.engine.similar_to_bytes(data, self.k, label=attachment.filename,
                                                        user_ref=user_ref(interaction.user))
        else:
            result = await self.engine.similar(text, self.k, paths=False, user_ref=user_ref(interaction.user))
        await interaction.followup.send(embed=render.similar_embed(result),
                                        view=feedback_view(result.tracks, "similar"))

    @similar.autocomplete("query")
    async def similar_autocomplete(self, interaction: discord.Interaction,
                                   current: str) -> list[app_commands.Choice[str]]:
        return await track_suggestions(self.engine, current)

    @app_commands.command(name="continue", description=description_of("continue"))
    @app_commands.describe(title="the playlist's name, e.g. “rainy day chill” (any language, emoji welcome)")
    @throttled
    async def continue_command(self, interaction: discord.Interaction,
                               title: app_commands.Range[str, 1, 200]) -> None:
        """`/continue title:...`: a playlist started from its name alone (`Engine.continue_from_title`)."""
        if not title.strip():
            raise UserError("Give the playlist a name, e.g. “rainy day chill”.")
        await think(interaction)
        result = await self.engine.continue_from_title(title, self.k)
        await interaction.followup.send(embed=render.title_embed(result),
                                        view=feedback_view(result.tracks, "continue"))

    @app_commands.command(name="add", description=description_of("add"))
    @app_commands.describe(link="a link to a song (a web page or an audio file)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, link: app_commands.Range[str, 1, 2000]) -> None:
        role = self.settings.discord_admin_role
        who = f"the “{role}” role or " if role else ""
        require_admin(self._is_admin(interaction), f"server admins ({who}the Manage Server permission)")
        await think(interaction, ephemeral=True)

        async def show(text: str) -> None:
            await interaction.edit_original_response(content=render.sentence(text))

        report = await self.engine.add_links([link.strip()], added_by=user_ref(interaction.user), embed=False,
                                             on_track=LinkProgress(show))
        await interaction.followup.send(render.sentence(batch_summary(report)), ephemeral=True)

    @app_commands.command(name="strategy", description=description_of("strategy"))
    @app_commands.describe(choice="what the songs should do with your mood",
                           picture="a picture of your mood and the songs with each answer")
    @app_commands.choices(picture=[app_commands.Choice(name="🖼 picture on", value="on"),
                                   app_commands.Choice(name="picture off", value="off")])
    async def strategy(self, interaction: discord.Interaction,
                       choice: app_commands.Range[str, 1, 40] | None = None,
                       picture: app_commands.Choice[str] | None = None) -> None:
        ref = user_ref(interaction.user)
        said = []
        if choice is not None:
            choice = choice.strip().lower()
            if choice not in STRATEGIES:
                raise UserError(f"“{choice}” is not a strategy: pick {', '.join(STRATEGIES)}.")
            await self.engine.set_strategy(ref, choice)
            said.append(f"From now on: **{choice}**, {STRATEGY_HELP[choice]}.")
        if picture is not None:
            await self.engine.set_picture(ref, picture.value == "on")
        if choice is None:
            current = await self.engine.strategy_for(ref)
            said.append(f"Your strategy: **{current}**, {STRATEGY_HELP[current]}.")
        shown = "on" if await self.engine.picture_for(ref) else "off"
        said.append(f"Picture of the mood with each answer: **{shown}** (`/strategy picture:` on or off).")
        await interaction.response.send_message("\n".join(said), ephemeral=True)

    @strategy.autocomplete("choice")
    async def strategy_autocomplete(self, interaction: discord.Interaction,
                                    current: str) -> list[app_commands.Choice[str]]:
        return strategy_suggestions(current)

    @app_commands.command(name="forget", description=description_of("forget"))
    async def forget(self, interaction: discord.Interaction) -> None:
        """Delete the caller's 👍/👎 (what their answers lean on) and say how many, to them alone."""
        liked, disliked = await self.engine.forget(user_ref(interaction.user))
        await interaction.response.send_message(forget_text(liked, disliked), ephemeral=True)

    @app_commands.command(name="help", description=description_of("help"))
    async def help_command(self, interaction: discord.Interaction) -> None:
        embed = render.help_embed(self.settings.discord_admin_role)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _picture(self, who: discord.abc.User, result: ChatResult, embed: discord.Embed) -> list[discord.File]:
        """The picture of the mood as the embed's image, for a person who turned it on in /strategy (else none).

        Discord shows an attached file inside the embed when the embed's image is `attachment://<name>`.
        """
        if not await self.engine.picture_for(user_ref(who)):
            return []
        png = await picture_png(result)
        embed.set_image(url=f"attachment://{PICTURE_NAME}")
        return [discord.File(io.BytesIO(png), filename=PICTURE_NAME)]

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
            files: list[discord.File] = []  # the picture of the mood, for people who turned it on
            async with message.channel.typing():
                if clip is not None:
                    data = await read_attachment(clip, self.settings.max_file_bytes)
                    # speech -> "I heard" + songs for its mood; music -> songs like it (`Engine.voice`)
                    chosen = await self.engine.strategy_for(user_ref(message.author))
                    locale = str(message.guild.preferred_locale) if message.guild is not None else None
                    heard = await self.engine.voice(data, self.k, chosen, label=clip.filename,
                                                    language=language_hint(locale), voice_note=clip.is_voice_message(),
                                                    user_ref=user_ref(message.author))
                    tracks = heard.chat.tracks if heard.chat is not None else heard.similar.tracks
                    embed = render.voice_embed(heard)
                    view = feedback_view(tracks, chosen if heard.chat is not None else "similar")
                else:
                    chosen = await self.engine.strategy_for(user_ref(message.author))
                    result = await self.engine.chat(text, self.k, chosen, user_ref=user_ref(message.author))
                    if message.guild is not None:  # the channel's /room window keeps the reading, not the text
                        self.engine.note_mood(discord_room(message.channel.id), user_ref(message.author),
                                              result.mood)
                    embed, view = render.mood_embed(result), feedback_view(result.tracks, chosen)
                    files = await self._picture(message.author, result, embed)
            await message.reply(embed=embed, view=view, files=files or None, mention_author=False)
        except Exception as exc:  # an event handler must not fail silently: answer, and log ours
            reply = user_message(exc, log, f"mood message from {user_ref(message.author)}")
            await reply_quietly(message, render.sentence(reply.text))
