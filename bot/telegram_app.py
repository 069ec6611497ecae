"""The Telegram front end (python-telegram-bot 22, async `Application`, long polling or a webhook).

Handlers only parse what a person sent, call the `Engine`, and render its answer (`bot.telegram_render`).
Every handler runs inside `_guarded`, so any failure becomes a reply (a `UserError`'s own words, else an
apology) plus a log line: one bad message can never take the bot down.  Updates are processed concurrently
(bounded), so one person's 10-second clip never makes everybody else wait; the engine already keeps model
work off the event loop.

Lifecycle for a runner that shares its event loop with other front ends::

    app = build_application(engine, settings)   # UserError when no token is configured
    await start_telegram(app)                   # UserError when Telegram rejects the token
    ...                                         # until SIGINT/SIGTERM
    await stop_telegram(app)

`app.run_polling()` works too (it calls the same `post_init`), but it owns the event loop.

Updates arrive by long polling unless `MOODTAPE_TELEGRAM_WEBHOOK_URL` is set: then PTB's webhook server
listens on `MOODTAPE_TELEGRAM_WEBHOOK_LISTEN:PORT` (plain HTTP, behind the reverse proxy that terminates TLS
for the public URL), registers the URL with `setWebhook`, and accepts only POSTs that carry the secret token
given to Telegram (a random one per start unless configured), so nobody else can inject updates.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import telegram_render as render
from core.config import Settings
from core.engine import Engine
from core.errors import NotAllowed, UserError
from core.moods import STRATEGIES

log = logging.getLogger(__name__)

#: Telegram's cloud Bot API lets bots download files up to 20 MB; a local Bot API server has no such limit.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
#: Songs per answer in chat: more would not fit a phone screen (nor the inline keyboard) comfortably.
MAX_K = 10
#: Updates handled at the same time; bounded so a flood cannot start unbounded model work.
CONCURRENT_UPDATES = 8
#: Telegram shows a chat action for about 5 seconds; refresh it a little before it fades.
ACTION_REFRESH_S = 4.5
STALE_BUTTON = "This button no longer works."
AUDIO_SUFFIXES = (".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a", ".aac", ".wma", ".aif", ".aiff")

# ---------------------------------------------------------------------------------------------- helpers
def user_ref(user_id: int) -> str:
    """How the engine and the database name a Telegram user (strategy preference, feedback)."""
    return f"tg:{user_id}"


def api_urls(settings: Settings) -> tuple[str, str] | None:
    """(base_url, base_file_url) for a local Bot API server; PTB appends the token to both."""
    if not settings.telegram_api_url:
        return None
    root = settings.telegram_api_url.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def _token(settings: Settings) -> str:
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        raise UserError(
            "no Telegram token: set MOODTAPE_TELEGRAM_TOKEN (create a bot with @BotFather to get one)"
        )
    return token


def _startup_error(exc: TelegramError, settings: Settings) -> UserError:
    """One line for `moodtape run` instead of PTB's traceback; the token itself is never shown."""
    where = settings.telegram_api_url or "api.telegram.org"
    if isinstance(exc, InvalidToken):  # PTB's own message quotes the token: not ours to print
        return UserError(f"Telegram rejected the token in MOODTAPE_TELEGRAM_TOKEN (at {where}); "
                         "check it with @BotFather")
    detail = " ".join(exc.message.split())
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if token:
        detail = detail.replace(token, "<token>")
    return UserError(f"cannot reach the Telegram Bot API at {where}: {detail}")


async def check_telegram(settings: Settings) -> str:
    """The bot's @username if the token works, else a one-line `UserError` (for `moodtape run`'s checks)."""
    urls = api_urls(settings)
    bot = Bot(_token(settings), **({"base_url": urls[0], "base_file_url": urls[1]} if urls else {}))
    try:
        async with bot:
            return f"@{bot.username}"
    except TelegramError as exc:
        raise _startup_error(exc, settings) from exc


def _command_argument(message: Message) -> str:
    """Everything after `/command` or `/command@bot`, newlines and spacing kept."""
    match = re.match(r"^/\S+\s*(.*)$", message.text or "", flags=re.DOTALL)
    return match.group(1).strip() if match else ""


def _audio_of(message: Message | None) -> tuple[Any, str] | None:
    """(Telegram file object, file name) of an audio file, voice note or audio document, if there is one."""
    if message is None:
        return None
    if message.audio:
        audio = message.audio
        name = audio.file_name or _guess_name(audio.title or "audio", audio.mime_type)
        return audio, name
    if message.voice:
        return message.voice, _guess_name("voice-note", message.voice.mime_type or "audio/ogg")
    document = message.document
    if document and (
        (document.mime_type or "").startswith("audio/")
        or (document.file_name or "").lower().endswith(AUDIO_SUFFIXES)
    ):
        return document, document.file_name or _guess_name("audio", document.mime_type)
    return None


def _guess_name(stem: str, mime_type: str | None) -> str:
    suffix = {
        "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/flac": ".flac",
        "audio/x-flac": ".flac", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mp4": ".m4a",
        "audio/x-m4a": ".m4a", "audio/aac": ".aac", "audio/opus": ".opus",
    }.get((mime_type or "").lower(), "")
    return stem + suffix


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


class Cooldown:
    """At most one request per user every `seconds`; the first request too soon is warned, later ones dropped.

    Answering every message of someone who taps quickly would queue a pile of replies (and model work);
    one short "slow down" says what happened without adding to the pile.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[int, float] = {}
        self._warned: set[int] = set()

    def check(self, user_id: int) -> Literal["ok", "warn", "drop"]:
        if self.seconds <= 0:
            return "ok"
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            if user_id in self._warned:
                return "drop"
            self._warned.add(user_id)
            return "warn"
        self._last[user_id] = now
        self._warned.discard(user_id)
        if len(self._last) > 10_000:  # forget people who went quiet so the map cannot grow forever
            horizon = now - self.seconds
            self._last = {uid: t for uid, t in self._last.items() if t >= horizon}
            self._warned &= set(self._last)
        return "ok"


class Reply:
    """The answer to one message: a fresh reply, or an edit of the progress placeholder once there is one."""

    def __init__(self, message: Message | None) -> None:
        self.message = message
        self.placeholder: Message | None = None

    async def progress(self, text: str) -> None:
        if self.message is None:
            return
        if self.placeholder is None:
            self.placeholder = await self.message.reply_text(render.plain(text), parse_mode=ParseMode.HTML)
        else:
            await self.placeholder.edit_text(render.plain(text), parse_mode=ParseMode.HTML)

    async def send(self, html_text: str, markup: Any = None) -> None:
        if self.message is None:
            return
        if self.placeholder is not None:
            try:
                await self.placeholder.edit_text(html_text, parse_mode=ParseMode.HTML, reply_markup=markup)
                return
            except BadRequest as exc:  # the placeholder was deleted meanwhile: answer afresh
                log.info("could not edit the progress message (%s); replying instead", exc.message)
        await self.message.reply_text(html_text, parse_mode=ParseMode.HTML, reply_markup=markup)


@asynccontextmanager
async def chat_action(bot: Bot, chat_id: int, action: str) -> AsyncIterator[None]:
    """Show "typing…"/"sending audio…" for as long as the block runs (Telegram drops it after ~5 s)."""

    async def keep_showing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, action)
            except TelegramError as exc:  # cosmetic: never fail the request because of it
                log.debug("sendChatAction failed: %s", exc)
            await asyncio.sleep(ACTION_REFRESH_S)

    task = asyncio.create_task(keep_showing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _answer_callback(query: Any, text: str) -> None:
    try:
        await query.answer(text[:200])  # Telegram caps callback answers at 200 characters
    except TelegramError as exc:  # e.g. the query is too old to answer; nothing to show anyway
        log.info("could not answer a callback query: %s", exc)


def _button(handler: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[None]]:
    """Run a button (callback query) handler: its text is the answer; a failure becomes an answer too, so the
    spinner on the person's button always stops."""

    @functools.wraps(handler)
    async def wrapper(self: "TelegramFrontEnd", update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        try:
            answer = await handler(self, update, context)
        except UserError as exc:
            answer = str(exc)
        except Exception:
            log.exception("telegram %s failed (%s)", handler.__name__, _who(update))
            answer = render.APOLOGY
        await _answer_callback(update.callback_query, answer)

    return wrapper


def _guarded(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Run a message handler so that every failure becomes a friendly reply and a log line."""

    @functools.wraps(handler)
    async def wrapper(self: "TelegramFrontEnd", update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        reply = Reply(update.effective_message)
        try:
            await handler(self, update, context, reply)
        except UserError as exc:
            log.info("telegram %s: user error for %s: %s", handler.__name__, _who(update), exc)
            await _deliver(reply, render.plain(str(exc)))
        except Exception:
            log.exception(
                "telegram %s failed (update %s, %s)", handler.__name__, update.update_id, _who(update)
            )
            await _deliver(reply, render.esc(render.APOLOGY))

    return wrapper


async def _deliver(reply: Reply, html_text: str) -> None:
    try:
        await reply.send(html_text)
    except Exception:  # Telegram itself is failing; the log is all we can do
        log.exception("could not send an error reply on Telegram")


def _who(update: Update) -> str:
    user = update.effective_user
    chat = update.effective_chat
    return f"user {user.id if user else '?'} in chat {chat.id if chat else '?'}"


# ---------------------------------------------------------------------------------------------- handlers
class TelegramFrontEnd:
    """The handlers, bound to one engine and its settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.k = min(settings.default_k, MAX_K)
        self.cooldown = Cooldown(settings.user_cooldown_s)
        self.admins = frozenset(settings.telegram_admins)
        # Without a local Bot API server Telegram refuses downloads over 20 MB; say so before trying.
        self.max_download = settings.max_file_bytes if settings.telegram_api_url else min(
            settings.max_file_bytes, TELEGRAM_DOWNLOAD_LIMIT
        )

    # ---------------------------------------------------------------- plumbing
    def register(self, application: Application) -> None:
        only_new = filters.UpdateType.MESSAGE  # edits of old messages are not new requests
        application.add_handler(CommandHandler(["start", "help"], self.on_help, filters=only_new))
        application.add_handler(CommandHandler("mood", self.on_mood, filters=only_new))
        application.add_handler(CommandHandler("similar", self.on_similar, filters=only_new))
        application.add_handler(CommandHandler("add", self.on_add, filters=only_new))
        application.add_handler(CommandHandler("strategy", self.on_strategy, filters=only_new))
        feedback, strategy = rf"^{render.FEEDBACK_PREFIX}:", rf"^{render.STRATEGY_PREFIX}:"
        application.add_handler(CallbackQueryHandler(self.on_feedback, pattern=feedback))
        application.add_handler(CallbackQueryHandler(self.on_strategy_button, pattern=strategy))
        application.add_handler(CallbackQueryHandler(self.on_stale_button))
        audio = filters.AUDIO | filters.VOICE | filters.Document.AUDIO | _AudioDocument()
        application.add_handler(MessageHandler(only_new & audio, self.on_audio))
        application.add_handler(MessageHandler(only_new & filters.TEXT & ~filters.COMMAND, self.on_text))
        application.add_handler(
            MessageHandler(only_new & filters.COMMAND & filters.ChatType.PRIVATE, self.on_unknown_command)
        )
        application.add_error_handler(self.on_error)

    async def post_init(self, application: Application) -> None:
        """Publish the command menu; a failure here is cosmetic, so it is logged and the bot runs on."""
        try:
            await application.bot.set_my_commands(render.bot_commands())
        except TelegramError as exc:
            log.warning("could not set the Telegram command menu: %s", exc)
        log.info("Telegram bot @%s is ready", application.bot.username)

    def _allowed(self, update: Update) -> Literal["ok", "warn", "drop"]:
        user = update.effective_user
        return "ok" if user is None else self.cooldown.check(user.id)

    async def _throttled(self, update: Update, reply: Reply) -> bool:
        """True when the request must not run now (the user is sending too fast)."""
        verdict = self._allowed(update)
        if verdict == "warn":
            await reply.send(render.esc(render.SLOW_DOWN))
        return verdict != "ok"

    def _addressed(self, message: Message, bot: Bot) -> str | None:
        """The text meant for the bot, or None for a group message that neither mentions nor replies to it."""
        text = message.text if message.text is not None else (message.caption or "")
        if message.chat.type == ChatType.PRIVATE:
            return text.strip()
        addressed = False
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            addressed = True
        kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        if message.text is not None:
            entities = message.parse_entities(kinds)
        else:
            entities = message.parse_caption_entities(kinds)
        username = (bot.username or "").lower()
        for entity, value in entities.items():
            by_name = entity.type == MessageEntity.MENTION and value.lstrip("@").lower() == username
            by_id = entity.type == MessageEntity.TEXT_MENTION and getattr(entity.user, "id", None) == bot.id
            ours = by_name or by_id
            if ours:
                addressed = True
                text = text.replace(value, " ")
        return " ".join(text.split()) if addressed else None

    # ---------------------------------------------------------------- commands
    @_guarded
    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        await reply.send(render.help_text(context.bot.username))

    @_guarded
    async def on_mood(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        assert message is not None
        text = _command_argument(message)
        if not text:
            await reply.send("Tell me how you feel, e.g. <code>/mood tired but hopeful</code>.")
            return
        await self._answer_mood(update, context, reply, text)

    @_guarded
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        assert message is not None
        text = self._addressed(message, context.bot)
        if text is None:
            return  # group chatter not meant for us
        if not text:
            await reply.send("Tell me how you feel and I'll pick songs for it. /help shows what I can do.")
            return
        await self._answer_mood(update, context, reply, text)

    async def _answer_mood(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply, text: str
    ) -> None:
        if await self._throttled(update, reply):
            return
        assert update.effective_user is not None and update.effective_chat is not None
        ref = user_ref(update.effective_user.id)
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            strategy = await self.engine.strategy_for(ref)
            result = await self.engine.chat(text, self.k, strategy)
        await reply.send(*render.mood_reply(result))

    @_guarded
    async def on_similar(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        assert message is not None and update.effective_chat is not None
        query = _command_argument(message)
        if not query:
            replied_audio = _audio_of(message.reply_to_message)
            if replied_audio is not None:
                if await self._throttled(update, reply):
                    return
                await self._answer_audio(update, context, reply, *replied_audio)
                return
            await reply.send(
                "Tell me a song: <code>/similar 42</code>, <code>/similar artist - title</code>, title words "
                "or a link. Or send me an audio file or a voice note (or reply <code>/similar</code> to one)."
            )
            return
        if await self._throttled(update, reply):
            return
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            # paths=False: a chat user's text must never make the server open one of its own files.
            result = await self.engine.similar(query, self.k, paths=False)
        await reply.send(*render.similar_reply(result))

    @_guarded
    async def on_audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        assert message is not None
        if self._addressed(message, context.bot) is None:
            return  # a file shared in a group, not sent to us
        found = _audio_of(message)
        if found is None:
            return
        if await self._throttled(update, reply):
            return
        await self._answer_audio(update, context, reply, *found)

    async def _answer_audio(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply, media: Any, name: str
    ) -> None:
        assert update.effective_chat is not None
        size = media.file_size
        if size is not None and size > self.max_download:
            raise UserError(self._too_big(name, size))
        await reply.progress(f"🎧 Listening to {name}…")
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            try:
                telegram_file = await media.get_file()
            except BadRequest as exc:
                if "too big" in exc.message.lower():  # Telegram's own download limit for bots
                    raise UserError(f"{name} is too big for Telegram to hand to bots (the limit is 20 MB). "
                                    "Send a shorter clip (a minute is plenty).") from exc
                raise
            data = await telegram_file.download_as_bytearray(read_timeout=self.settings.download_timeout_s)
            if len(data) > self.settings.max_file_bytes:
                raise UserError(self._too_big(name, len(data)))
            result = await self.engine.similar_to_bytes(bytes(data), self.k, label=name)
        await reply.send(*render.similar_reply(result))

    def _too_big(self, name: str, size: int | None) -> str:
        how_big = f" ({_megabytes(size)})" if size else ""
        if self.max_download < self.settings.max_file_bytes:
            return (f"{name} is too big{how_big}: Telegram lets bots download files up to 20 MB. "
                    "Send a shorter clip (a minute is plenty).")
        return f"{name} is too big{how_big}; I take files up to {_megabytes(self.settings.max_file_bytes)}."

    @_guarded
    async def on_add(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        if user.id not in self.admins:
            log.info("telegram /add refused for %s (not an admin)", _who(update))
            raise NotAllowed("Sorry, only the bot's admins can add songs. Ask one of them to add it for you.")
        url = _command_argument(message)
        if not url:
            await reply.send("Send me a link to add: <code>/add https://…</code>")
            return
        if await self._throttled(update, reply):
            return
        await reply.progress(f"⏳ Adding {url}…")
        assert update.effective_chat is not None
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            result = await self.engine.add_link(url, added_by=user_ref(user.id))
        await reply.send(render.plain(result.message))

    @_guarded
    async def on_strategy(self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        choice = _command_argument(message).lower()
        ref = user_ref(user.id)
        if choice:
            if choice not in STRATEGIES:
                raise UserError(f"I know these strategies: {', '.join(STRATEGIES)}. Try /strategy lift.")
            await self.engine.set_strategy(ref, choice)
            current = choice
            head = "Done. "
        else:
            current = await self.engine.strategy_for(ref)
            head = ""
        await reply.send(head + render.strategy_text(current), render.strategy_keyboard(current))

    @_guarded
    async def on_unknown_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, reply: Reply
    ) -> None:
        await reply.send("I don't know that command. /help lists what I can do.")

    # ---------------------------------------------------------------- buttons
    @_button
    async def on_feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        query = update.callback_query
        assert query is not None
        parsed = render.parse_feedback(query.data or "")
        if parsed is None:
            return STALE_BUTTON
        track_id, value = parsed
        where: dict[str, Any] = {"via": "telegram"}
        if query.message is not None:
            where.update(chat=query.message.chat.id, message=query.message.message_id)
        await self.engine.feedback(track_id, user_ref(query.from_user.id), value, where)
        return "Thanks! 👍 noted." if value > 0 else "Thanks! 👎 noted, I'll keep it in mind."

    @_button
    async def on_strategy_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        query = update.callback_query
        assert query is not None
        name = render.parse_strategy(query.data or "")
        if name is None:
            return STALE_BUTTON
        ref = user_ref(query.from_user.id)
        before = await self.engine.strategy_for(ref)
        await self.engine.set_strategy(ref, name)
        if before != name and isinstance(query.message, Message):
            await query.message.edit_text(
                render.strategy_text(name), parse_mode=ParseMode.HTML, reply_markup=render.strategy_keyboard(name),
            )
        return f"Strategy: {name}"

    async def on_stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Buttons we no longer make (an older version's) still get an answer, so the spinner stops."""
        assert update.callback_query is not None
        await _answer_callback(update.callback_query, STALE_BUTTON)

    # ---------------------------------------------------------------- last resort
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Errors that escaped a handler (or happened outside one): log them, and apologise if we can."""
        log.error("telegram update %s failed", getattr(update, "update_id", None), exc_info=context.error)
        ours = not isinstance(context.error, TelegramError)  # Telegram failing: an apology would fail too
        if isinstance(update, Update) and update.effective_message and ours:
            with suppress(Exception):
                await update.effective_message.reply_text(render.APOLOGY)


class _AudioDocument(filters.MessageFilter):
    """Documents whose name says audio even when the client sent a generic MIME type."""

    def filter(self, message: Message) -> bool:
        name = (message.document.file_name or "").lower() if message.document else ""
        return name.endswith(AUDIO_SUFFIXES)


# ---------------------------------------------------------------------------------------------- factory
def build_application(engine: Engine, settings: Settings) -> Application:
    """The configured PTB application; a `UserError` when no token is set (Telegram checks it at start)."""
    frontend = TelegramFrontEnd(engine, settings)
    builder = (
        ApplicationBuilder()
        .token(_token(settings))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(frontend.post_init)
    )
    urls = api_urls(settings)
    if urls is not None:
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    application = builder.build()
    frontend.register(application)
    application.bot_data["frontend"] = frontend
    return application


def webhook_path(url: str) -> str:
    """The path PTB's webhook server answers on: the public URL's path (the proxy forwards it unchanged)."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise UserError(f"MOODTAPE_TELEGRAM_WEBHOOK_URL must be a full https:// URL, got {url!r}")
    if parsed.query or parsed.fragment:
        raise UserError("MOODTAPE_TELEGRAM_WEBHOOK_URL must not have a query or a fragment")
    return parsed.path.strip("/")


def webhook_secret(settings: Settings) -> str:
    """The secret token Telegram must send with each update: configured, or a fresh random one."""
    configured = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if not configured:
        return secrets.token_urlsafe(32)  # [A-Za-z0-9_-], as Telegram requires
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", configured):
        raise UserError("MOODTAPE_TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 of them)")
    return configured


async def _start_updates(application: Application, settings: Settings, poll_timeout_s: float) -> None:
    """Long polling, or the webhook server + setWebhook; a clear `UserError` when either cannot start."""
    assert application.updater is not None
    wanted = [Update.MESSAGE, Update.CALLBACK_QUERY]
    url = settings.telegram_webhook_url
    if not url:
        await application.updater.start_polling(
            timeout=timedelta(seconds=poll_timeout_s), allowed_updates=wanted, error_callback=_polling_error,
        )
        return
    where = f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
    try:
        await application.updater.start_webhook(
            listen=settings.telegram_webhook_listen, port=settings.telegram_webhook_port, url_path=webhook_path(url),
            webhook_url=url, secret_token=webhook_secret(settings), allowed_updates=wanted,
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {where} for the Telegram webhook: {exc.strerror or exc}") from exc
    except TelegramError as exc:
        if application.updater.running:
            await application.updater.stop()
        raise UserError(f"Telegram refused the webhook {url}: {' '.join(exc.message.split())}") from exc
    log.info("Telegram webhook: %s -> %s", url, where)


async def start_telegram(application: Application, *, poll_timeout_s: float = 10.0) -> None:
    """Initialise (checks the token with getMe), publish commands, start receiving updates and the handlers."""
    settings: Settings = application.bot_data["frontend"].settings
    try:
        await application.initialize()
    except TelegramError as exc:
        await application.bot.shutdown()  # PTB leaves its HTTP clients open when getMe fails
        raise _startup_error(exc, settings) from exc
    if application.post_init is not None:
        await application.post_init(application)
    try:
        await _start_updates(application, settings, poll_timeout_s)
    except UserError:
        await application.shutdown()
        raise
    await application.start()


def _polling_error(exc: TelegramError) -> None:
    """Network blips while polling are normal; PTB retries by itself."""
    log.warning("Telegram polling: %s", exc)


async def stop_telegram(application: Application) -> None:
    """Stop polling or the webhook server, let running handlers finish, release connections (safe after a
    failed start).  The webhook stays registered with Telegram, which queues updates until the next start."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
