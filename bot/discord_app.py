"""The Discord front end: slash commands, mentions and DMs in, embeds with 👍/👎 buttons out.

Handlers only parse what Discord sends, call the `Engine` and render its answer (`bot/discord_render.py`).
Everything else follows from Discord's rules:

- Discord wants an answer to an interaction within 3 seconds, so every command that may touch a model or the
  network defers first ("Moodtape is thinking…") and answers with a follow-up.
- The feedback buttons are `DynamicItem`s whose `custom_id` carries the vote, the track and what was asked,
  so a click on a message sent before a restart still finds its way here: no view state lives in memory.
- The bot asks for no privileged intent.  Discord still delivers the text of DMs and of messages that
  mention the bot without the message-content intent, which is exactly what we read as moods.
- A handler never crashes the bot: `UserError`s are shown as they are, anything else is logged with its
  traceback and the person gets an apology, always ephemerally (only they see it).

`moodtape run discord` calls `run_discord`; a missing or refused token is a `UserError` with one clear line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot import discord_render as render
from core.config import Settings
from core.engine import Engine
from core.errors import UserError
from core.moods import STRATEGIES, STRATEGY_HELP

log = logging.getLogger(__name__)

#: Where to create the bot; shown when the token is missing or refused.
PORTAL = "https://discord.com/developers/applications"
#: The extras key that says the "thinking…" placeholder of an interaction is public (see `tell_privately`).
_PUBLIC_PLACEHOLDER = "moodtape_public_placeholder"
#: How a mention looks in message content (`<@id>`, or `<@!id>` from older clients).
_MENTION = re.compile(r"<@!?(\d+)>")
#: Content types that can never be audio; refused before downloading anything.
_NOT_AUDIO = ("image/", "text/", "application/pdf", "application/zip")


def intents() -> discord.Intents:
    """The gateway intents the bot needs: none of them privileged.

    guilds: slash commands and role names for the admin check; guild/DM messages: mentions and DMs.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


class NotAdmin(app_commands.CheckFailure):
    """A non-admin used an admin command; the message is shown to them as is."""


class MoodtapeBot(discord.Client):
    """A `discord.Client` with an app-command tree that holds the engine every handler talks to."""

    def __init__(self, engine: Engine, settings: Settings, *, sync_commands: bool = True,
                 **options: Any) -> None:
        options.setdefault("intents", intents())
        # Texts echo what people typed: never let one ping @everyone or a role through the bot.
        quiet = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=True)
        options.setdefault("allowed_mentions", quiet)
        super().__init__(**options)
        self.engine = engine
        self.settings = settings
        self.k = min(settings.default_k, render.MAX_SONGS)
        self.sync_commands = sync_commands
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_tree_error)
        for command in (mood, similar, add, strategy, help_command):
            self.tree.add_command(command)
        self._last_request: dict[int, float] = {}

    async def setup_hook(self) -> None:
        # Buttons of every message ever sent are routed by their custom_id pattern, not by a stored view.
        self.add_dynamic_items(FeedbackButton)
        if self.sync_commands:
            try:
                synced = await self.tree.sync()
                log.info("synced %d slash command(s) with Discord", len(synced))
            except discord.HTTPException:
                # The commands Discord already knows keep working; a failed sync must not stop the bot.
                log.exception("could not sync slash commands with Discord")

    async def on_ready(self) -> None:
        user = self.user
        log.info("Discord: logged in as %s (%s) in %d server(s)", user, user.id if user else "?",
                 len(self.guilds))

    # ------------------------------------------------------------------ cooldown
    def cooldown_left(self, user_id: int) -> float:
        """Seconds this user must still wait; records the request when they need not wait."""
        cooldown = self.settings.user_cooldown_s
        if cooldown <= 0:
            return 0.0
        now = time.monotonic()
        last = self._last_request.get(user_id)
        if last is not None and now - last < cooldown:
            return cooldown - (now - last)
        if len(self._last_request) > 10_000:
            self._last_request = {uid: t for uid, t in self._last_request.items() if now - t < cooldown}
        self._last_request[user_id] = now
        return 0.0

    # ------------------------------------------------------------------ mentions and DMs
    async def on_message(self, message: discord.Message) -> None:
        """A DM or a message mentioning the bot: its text is a mood, an attached audio file a "songs like"."""
        me = self.user
        if message.author.bot or me is None:
            return
        if message.guild is not None and not any(user.id == me.id for user in message.mentions):
            return
        text = _MENTION.sub(lambda m: "" if int(m.group(1)) == me.id else m.group(0), message.content)
        text = " ".join(text.split())
        clip = next((a for a in message.attachments if _may_be_audio(a)), None)
        try:
            if not text and clip is None:
                await message.reply(render.EMPTY_MENTION, mention_author=False)
                return
            wait = self.cooldown_left(message.author.id)
            if wait > 0:
                await message.reply(render.SLOW_DOWN.format(seconds=max(wait, 1)), mention_author=False)
                return
            async with message.channel.typing():
                if clip is not None:
                    data = await download_attachment(clip, self.settings)
                    found = await self.engine.similar_to_bytes(data, self.k, label=clip.filename)
                    embed, view = render.similar_embed(found), feedback_view(found.tracks, "similar")
                else:
                    chosen = await self.engine.strategy_for(user_ref(message.author))
                    result = await self.engine.chat(text, self.k, chosen)
                    embed, view = render.mood_embed(result), feedback_view(result.tracks, chosen)
            await message.reply(embed=embed, view=view, mention_author=False)
        except UserError as exc:
            await _reply_quietly(message, render.sentence(str(exc)))
        except Exception:
            log.exception("mood message from %s failed", user_ref(message.author))
            await _reply_quietly(message, render.APOLOGY)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in Discord event %s", event_method)

    async def _on_tree_error(self, interaction: discord.Interaction,
                             error: app_commands.AppCommandError) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await report_failure(interaction, cause)


def build_bot(engine: Engine, settings: Settings, **options: Any) -> MoodtapeBot:
    """The Discord bot for `engine`; `options` go to `discord.Client` (e.g. `guild_ready_timeout`)."""
    return MoodtapeBot(engine, settings, **options)


# ---------------------------------------------------------------------- running it
def discord_token(settings: Settings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise UserError(
            f"MOODTAPE_DISCORD_TOKEN is not set: create a bot at {PORTAL} (Bot > Reset Token) "
            "and put its token there"
        )
    return token


async def run_discord(engine: Engine, settings: Settings, **options: Any) -> None:
    """Log in and serve until the bot is closed or this task is cancelled (how `moodtape run` stops it).

    Raises `UserError` for a missing or refused token, and for a bot that was set up asking for privileged
    intents, so the CLI prints one line instead of a traceback.
    """
    token = discord_token(settings)
    bot = build_bot(engine, settings, **options)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure as exc:
        raise UserError(
            f"Discord refused MOODTAPE_DISCORD_TOKEN ({exc}); copy the bot token from {PORTAL}"
        ) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise UserError(f"Discord refused the gateway intents this bot asked for ({exc})") from exc


# ---------------------------------------------------------------------- shared handler helpers
def user_ref(user: discord.abc.User) -> str:
    return f"dc:{user.id}"


def bot_of(interaction: discord.Interaction) -> MoodtapeBot:
    client = interaction.client
    if not isinstance(client, MoodtapeBot):
        raise RuntimeError("this interaction did not come through the Moodtape bot")
    return client


def engine_of(interaction: discord.Interaction) -> Engine:
    return bot_of(interaction).engine


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


async def report_failure(interaction: discord.Interaction, error: BaseException) -> None:
    """The one place a failed interaction becomes a message: a user's error as is, else an apology."""
    if isinstance(error, (UserError, NotAdmin)):
        await tell_privately(interaction, render.sentence(str(error)))
        return
    if isinstance(error, app_commands.CheckFailure):
        await tell_privately(interaction, "You cannot use this command here.")
        return
    command = interaction.command.qualified_name if interaction.command else interaction.data
    log.error("Discord interaction %s (%s) by %s failed", interaction.id, command, interaction.user.id,
              exc_info=error)
    await tell_privately(interaction, render.APOLOGY)


def enforce_cooldown(interaction: discord.Interaction) -> None:
    wait = bot_of(interaction).cooldown_left(interaction.user.id)
    if wait > 0:
        raise UserError(render.SLOW_DOWN.format(seconds=max(wait, 1)))


async def _reply_quietly(message: discord.Message, text: str) -> None:
    try:
        await message.reply(text, mention_author=False)
    except Exception:  # the last line of defence, as in `tell_privately`
        log.exception("could not reply to message %s", message.id)


def _may_be_audio(attachment: discord.Attachment) -> bool:
    """False only for types that are never audio; the decoder judges the rest (voice messages: audio/ogg)."""
    return not (attachment.content_type or "").startswith(_NOT_AUDIO)


async def download_attachment(attachment: discord.Attachment, settings: Settings) -> bytes:
    """The attachment's bytes, refusing anything over `max_file_bytes` before and while downloading."""
    limit = settings.max_file_bytes
    too_big = f"{attachment.filename} is too big (the limit is {limit / 2**20:.3g} MB)"
    if attachment.size > limit:
        raise UserError(too_big)
    if not _may_be_audio(attachment):
        raise UserError(f"{attachment.filename} is not an audio file (it is {attachment.content_type})")
    timeout = aiohttp.ClientTimeout(total=settings.download_timeout_s)
    chunks: list[bytes] = []
    received = 0
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(attachment.url) as response:
            if response.status != 200:
                raise UserError(
                    f"could not download {attachment.filename} from Discord (HTTP {response.status})"
                )
            async for chunk in response.content.iter_chunked(64 * 1024):
                received += len(chunk)
                if received > limit:
                    raise UserError(too_big)
                chunks.append(chunk)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise UserError(f"could not download {attachment.filename} from Discord, please try again") from exc
    return b"".join(chunks)


# ---------------------------------------------------------------------- feedback buttons
class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                     template=r"moodtape:fb:(?P<vote>up|down):(?P<track>\d{1,18}):(?P<kind>[a-z]{1,16})"):
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
            await engine_of(interaction).feedback(self.track_id, user_ref(interaction.user), self.value,
                                                  context)
            title = _title_from_message(interaction.message, self.track_id)
            await interaction.response.send_message(render.feedback_thanks(self.value, title, self.track_id),
                                                    ephemeral=True)
        except Exception as exc:  # a button is an event handler too: never let it escape
            await report_failure(interaction, exc)


def feedback_view(tracks: list[Any], kind: str) -> discord.ui.View:
    """👍/👎 per song, two songs per row so each pair stays together (five rows hold `MAX_SONGS`)."""
    view = discord.ui.View(timeout=None)
    for index, track in enumerate(tracks[: render.MAX_SONGS]):
        for value in (1, -1):
            view.add_item(FeedbackButton(track.id, value, kind, index + 1, row=index // 2))
    return view


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


# ---------------------------------------------------------------------- slash commands
@app_commands.command(name="mood", description=render.COMMANDS[0][1])
@app_commands.describe(text="how you feel, in a sentence or two")
async def mood(interaction: discord.Interaction, text: app_commands.Range[str, 1, 1000]) -> None:
    enforce_cooldown(interaction)
    await think(interaction)
    engine = engine_of(interaction)
    chosen = await engine.strategy_for(user_ref(interaction.user))
    result = await engine.chat(text, bot_of(interaction).k, chosen)
    await interaction.followup.send(embed=render.mood_embed(result),
                                    view=feedback_view(result.tracks, chosen))


@app_commands.command(name="similar", description=render.COMMANDS[1][1])
@app_commands.describe(query="a track id, “artist - title”, words of a title, or a link",
                       attachment="an audio file or voice message")
async def similar(interaction: discord.Interaction, query: app_commands.Range[str, 1, 500] | None = None,
                  attachment: discord.Attachment | None = None) -> None:
    text = (query or "").strip()
    if attachment is None and not text:
        raise UserError("Tell me a song (query) or attach an audio file.")
    enforce_cooldown(interaction)
    await think(interaction)
    bot = bot_of(interaction)
    if attachment is not None:
        data = await download_attachment(attachment, bot.settings)
        result = await bot.engine.similar_to_bytes(data, bot.k, label=attachment.filename)
    else:
        result = await bot.engine.similar(text, bot.k, paths=False)
    await interaction.followup.send(embed=render.similar_embed(result),
                                    view=feedback_view(result.tracks, "similar"))


def _is_admin(interaction: discord.Interaction) -> bool:
    """Manage Server, or the configured admin role (by id or by name, case-insensitively)."""
    member = interaction.user
    if interaction.guild is None or not isinstance(member, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    wanted = (bot_of(interaction).settings.discord_admin_role or "").strip()
    if not wanted:
        return False
    return any(str(role.id) == wanted or role.name.casefold() == wanted.casefold() for role in member.roles)


async def _admin_check(interaction: discord.Interaction) -> bool:
    if _is_admin(interaction):
        return True
    role = bot_of(interaction).settings.discord_admin_role
    who = f"the “{role}” role or " if role else ""
    raise NotAdmin(f"Only server admins ({who}the Manage Server permission) can add music.")


@app_commands.command(name="add", description=render.COMMANDS[3][1])
@app_commands.describe(link="a link to a song (a web page or an audio file)")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
@app_commands.check(_admin_check)
async def add(interaction: discord.Interaction, link: app_commands.Range[str, 1, 2000]) -> None:
    await think(interaction, ephemeral=True)
    result = await engine_of(interaction).add_link(link.strip(), added_by=user_ref(interaction.user))
    await interaction.followup.send(render.sentence(result.message), ephemeral=True)


@app_commands.command(name="strategy", description=render.COMMANDS[2][1])
@app_commands.describe(choice="what the songs should do with your mood")
@app_commands.choices(choice=[app_commands.Choice(name=f"{name}: {STRATEGY_HELP[name]}"[:100], value=name)
                              for name in STRATEGIES])
async def strategy(interaction: discord.Interaction, choice: app_commands.Choice[str]) -> None:
    await engine_of(interaction).set_strategy(user_ref(interaction.user), choice.value)
    await interaction.response.send_message(
        f"From now on: **{choice.value}**, {STRATEGY_HELP[choice.value]}.", ephemeral=True
    )


@app_commands.command(name="help", description=render.COMMANDS[4][1])
async def help_command(interaction: discord.Interaction) -> None:
    embed = render.help_embed(bot_of(interaction).settings.discord_admin_role)
    await interaction.response.send_message(embed=embed, ephemeral=True)


__all__ = ["MoodtapeBot", "build_bot", "discord_token", "run_discord", "intents", "FeedbackButton"]
