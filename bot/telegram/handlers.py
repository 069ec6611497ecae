"""The Telegram handlers: parse what a person sent, call the `Engine`, render its answer.

Three pieces of python-telegram-bot carry what every handler would otherwise repeat:

- a `TypeHandler` in group -1 sees each update first and stops throttled ones (`ApplicationHandlerStop`),
  so no handler checks the cooldown itself;
- the one error handler (`on_error`) turns any failure into a reply through `bot.shared.errors`: a
  `MoodtapeError`'s own words, else an apology with a reference id for the log line.  A failed button
  still gets its answer there, so its spinner stops;
- concurrent updates (bounded in `app.py`), so one person's 10-second clip never makes everybody wait.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from moodtape.bot.ops.metrics import observe
from moodtape.bot.shared.admin import require_admin
from moodtape.bot.shared.audio import looks_like_audio, read_audio, too_big
from moodtape.bot.shared.errors import user_message
from moodtape.bot.shared.link_progress import LinkProgress, batch_summary
from moodtape.bot.shared.picture import PICTURE_CAPTION, PICTURE_NAME, picture_png, picture_switch
from moodtape.bot.shared.room import ROOM_PRIVATE, no_readings, room_strategy, telegram_room
from moodtape.bot.shared.saved import parse_save_token, saved_files
from moodtape.bot.shared.taste import forget_text
from moodtape.bot.shared.throttle import Throttle
from moodtape.bot.telegram import render
from moodtape.bot.telegram.inline import InlineSongs
from moodtape.bot.telegram.messages import (
    Answer,
    addressed,
    answer_callback,
    asks_for_work,
    audio_of,
    chat_action,
    command_argument,
    who,
)
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES
from moodtape.core.voice.asr import language_hint
from telegram import InputFile, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

__all__ = ["TelegramFrontEnd", "user_ref"]

log = logging.getLogger(__name__)

#: Telegram's cloud Bot API lets bots download files up to 20 MB; a local Bot API server has no such limit.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
TELEGRAM_LIMIT_WHY = (
    "Telegram lets bots download files up to 20 MB. Send a shorter clip (a minute is plenty)."
)
#: Songs per answer in chat: more would not fit a phone screen (nor the inline keyboard) comfortably.
MAX_K = 10


def user_ref(user_id: int) -> str:
    """How the engine and the database name a Telegram user (strategy preference, feedback)."""
    return f"tg:{user_id}"


def _ref_of(update: Update) -> str | None:
    """The asker's ref, whose 👍/👎 shape the answer; None for a post without a sender (a channel's)."""
    return user_ref(update.effective_user.id) if update.effective_user is not None else None


class _AudioDocument(filters.MessageFilter):
    """Documents that are audio by MIME type or by name (clients often send a generic MIME type)."""

    def filter(self, message: Message) -> bool:
        document = message.document
        return document is not None and looks_like_audio(document.file_name, document.mime_type)


class TelegramFrontEnd:
    """The handlers, bound to one engine and its settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.k = min(settings.default_k, MAX_K)
        self.throttle = Throttle(settings.user_cooldown_s)
        self.admins = frozenset(settings.telegram_admins)
        # Without a local Bot API server Telegram refuses downloads over 20 MB; say so before trying.
        cloud_limited = not settings.telegram_api_url and settings.max_file_bytes > TELEGRAM_DOWNLOAD_LIMIT
        self.max_download = TELEGRAM_DOWNLOAD_LIMIT if cloud_limited else settings.max_file_bytes
        self.limit_why = TELEGRAM_LIMIT_WHY if cloud_limited else None
        self.placeholders: dict[int, Message] = {}  # update id -> its progress message (see `Answer`)

    # ---------------------------------------------------------------- plumbing
    def register(self, application: Application) -> None:
        application.add_handler(TypeHandler(Update, self.stop_if_throttled), group=-1)
        only_new = filters.UpdateType.MESSAGE  # edits of old messages are not new requests
        timed = self._timed
        application.add_handler(CommandHandler("start", timed("start", self.on_start), filters=only_new))
        application.add_handler(CommandHandler("help", timed("help", self.on_help), filters=only_new))
        application.add_handler(InlineQueryHandler(timed("inline", InlineSongs(self.engine).answer)))
        application.add_handler(CommandHandler("mood", timed("mood", self.on_mood), filters=only_new))
        application.add_handler(CommandHandler("similar", timed("similar", self.on_similar), filters=only_new))
        application.add_handler(CommandHandler("continue", timed("continue", self.on_continue), filters=only_new))
        application.add_handler(CommandHandler("add", timed("add", self.on_add), filters=only_new))
        application.add_handler(CommandHandler("strategy", timed("strategy", self.on_strategy), filters=only_new))
        application.add_handler(CommandHandler("forget", timed("forget", self.on_forget), filters=only_new))
        application.add_handler(CommandHandler("room", timed("room", self.on_room), filters=only_new))
        feedback, strategy = rf"^{render.FEEDBACK_PREFIX}:", rf"^{render.STRATEGY_PREFIX}:"
        application.add_handler(CallbackQueryHandler(timed("feedback", self.on_feedback), pattern=feedback))
        application.add_handler(CallbackQueryHandler(timed("strategy_button", self.on_strategy_button),
                                                     pattern=strategy))
        application.add_handler(CallbackQueryHandler(timed("picture_button", self.on_picture_button),
                                                     pattern=rf"^{render.PICTURE_PREFIX}:"))
        application.add_handler(CallbackQueryHandler(timed("save_button", self.on_save_button), pattern=r"^sv:"))
        application.add_handler(CallbackQueryHandler(timed("stale_button", self.on_stale_button)))
        audio = filters.AUDIO | filters.VOICE | _AudioDocument()
        application.add_handler(MessageHandler(only_new & audio, timed("audio", self.on_audio)))
        application.add_handler(MessageHandler(only_new & filters.TEXT & ~filters.COMMAND,
                                               timed("text", self.on_text)))
        application.add_handler(
            MessageHandler(only_new & filters.COMMAND & filters.ChatType.PRIVATE,
                           timed("unknown_command", self.on_unknown_command))
        )
        application.add_error_handler(self.on_error)

    @staticmethod
    def _timed(command: str, callback: Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
               ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        """`callback`, counted and timed for `/metrics` (`ops.metrics.observe`); errors still reach on_error."""
        async def timed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            async with observe("telegram", command):
                await callback(update, context)

        return timed

    async def post_init(self, application: Application) -> None:
        """Publish the command menu; a failure here is cosmetic, so it is logged and the bot runs on."""
        try:
            await application.bot.set_my_commands(render.bot_commands())
            await application.bot.set_my_commands(render.bot_commands("ko"), language_code="ko")
        except TelegramError as exc:
            log.warning("could not set the Telegram command menu: %s", exc)
        log.info("Telegram bot @%s is ready", application.bot.username)

    def reply(self, update: Update) -> Answer:
        return Answer(update, self.placeholders)

    async def stop_if_throttled(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Group -1: stop a request that comes too soon after the same person's last one."""
        user = update.effective_user
        if user is None or not self.throttle.active or not asks_for_work(update, context.bot, self.admins):
            return
        verdict = self.throttle.check(user.id)
        if verdict.allowed:
            return
        if verdict.warn and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(render.esc(render.SLOW_DOWN),
                                                          parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                log.warning("could not ask %s to slow down: %s", who(update), exc)
        raise ApplicationHandlerStop

    # ---------------------------------------------------------------- commands
    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reply(update).send(render.help_text(context.bot.username))

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start, also from a deep link: `t.me/<bot>?start=mood-calm` opens with that strategy set."""
        payload = (context.args or [""])[0].lower()
        user = update.effective_user
        strategy = payload.removeprefix("mood-") if payload.startswith("mood-") else None
        if strategy in STRATEGIES and user is not None:
            await self.engine.set_strategy(user_ref(user.id), strategy)
            await self.reply(update).send(render.start_text(strategy))
            return
        await self.on_help(update, context)

    async def on_mood(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = command_argument(update.effective_message)
        if not text:
            await self.reply(update).send("Tell me how you feel, e.g. <code>/mood tired but hopeful</code>.")
            return
        await self._answer_mood(update, context, text)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = addressed(update.effective_message, context.bot)
        if text is None:
            return  # group chatter not meant for us
        if not text:
            await self.reply(update).send(
                "Tell me how you feel and I'll pick songs for it. /help shows what I can do."
            )
            return
        await self._answer_mood(update, context, text)

    async def _answer_mood(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        assert update.effective_user is not None and update.effective_chat is not None
        ref = user_ref(update.effective_user.id)
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            strategy = await self.engine.strategy_for(ref)
            result = await self.engine.chat(text, self.k, strategy, user_ref=ref)
            if update.effective_chat.type != ChatType.PRIVATE:  # a group's window keeps the reading, not the text
                self.engine.note_mood(telegram_room(update.effective_chat.id), ref, result.mood)
            png = await picture_png(result) if await self.engine.picture_for(ref) else None
        if png is not None:
            caption, markup = render.mood_reply(result, links=False)  # links make the caption too long
            await self.reply(update).send_photo(png, caption, markup, full_text=render.mood_reply(result)[0],
                                                filename=PICTURE_NAME, short_caption=PICTURE_CAPTION)
            return
        await self.reply(update).send(*render.mood_reply(result))

    async def on_similar(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and update.effective_chat is not None
        query = command_argument(message)
        if not query:
            replied_audio = audio_of(message.reply_to_message)
            if replied_audio is not None:
                await self._answer_audio(update, context, *replied_audio)
                return
            await self.reply(update).send(
                "Tell me a song: <code>/similar 42</code>, <code>/similar artist - title</code>, title words "
                "or a link. Or send me an audio file or a voice note (or reply <code>/similar</code> to one)."
            )
            return
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            # paths=False: a chat user's text must never make the server open one of its own files.
            result = await self.engine.similar(query, self.k, paths=False, user_ref=_ref_of(update))
        await self.reply(update).send(*render.similar_reply(result))

    async def on_continue(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/continue TITLE`: a playlist started from its name alone (`Engine.continue_from_title`)."""
        message = update.effective_message
        assert message is not None and update.effective_chat is not None
        title = command_argument(message)
        if not title:
            await self.reply(update).send(
                "Give the playlist a name and I'll start it: <code>/continue rainy day chill</code> "
                "(any language, emoji welcome)."
            )
            return
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            result = await self.engine.continue_from_title(title, self.k)
        await self.reply(update).send(*render.title_reply(result))

    async def on_audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        if addressed(message, context.bot) is None:
            return  # a file shared in a group, not sent to us
        found = audio_of(message)
        if found is not None:
            await self._answer_voice(update, context, *found)

    async def _answer_voice(self, update: Update, context: ContextTypes.DEFAULT_TYPE, media: Any, name: str
                            ) -> None:
        """Audio sent to us: speech -> "I heard: '...'" + songs for its mood, music -> songs like it
        (`Engine.voice`; the person's Telegram language is the recogniser's hint)."""
        assert update.effective_chat is not None and update.effective_user is not None
        reply, ref = self.reply(update), user_ref(update.effective_user.id)
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            data = await read_audio(name, media.file_size, self.max_download,
                                    partial(self._download, reply, media, name), why=self.limit_why)
            result = await self.engine.voice(data, self.k, await self.engine.strategy_for(ref), label=name,
                                             language=language_hint(update.effective_user.language_code),
                                             voice_note=media is getattr(update.effective_message, "voice", None),
                                             user_ref=ref)
            if result.chat is not None and update.effective_chat.type != ChatType.PRIVATE:  # a spoken mood
                self.engine.note_mood(telegram_room(update.effective_chat.id), ref, result.chat.mood)
        await reply.send(*render.voice_reply(result))

    async def _answer_audio(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, media: Any, name: str
    ) -> None:
        assert update.effective_chat is not None
        reply = self.reply(update)
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            data = await read_audio(name, media.file_size, self.max_download,
                                    partial(self._download, reply, media, name), why=self.limit_why)
            result = await self.engine.similar_to_bytes(data, self.k, label=name, user_ref=_ref_of(update))
        await reply.send(*render.similar_reply(result))

    async def _download(self, reply: Answer, media: Any, name: str) -> bytearray:
        """The file's bytes through Telegram, with a placeholder saying we are on it."""
        await reply.progress(f"🎧 Listening to {name}…")
        try:
            telegram_file = await media.get_file()
        except BadRequest as exc:
            if "too big" in exc.message.lower():  # Telegram's own download limit for bots
                raise too_big(name, None, TELEGRAM_DOWNLOAD_LIMIT, TELEGRAM_LIMIT_WHY) from exc
            raise
        return await telegram_file.download_as_bytearray(read_timeout=self.settings.download_timeout_s)

    async def on_add(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None and update.effective_chat is not None
        require_admin(user.id in self.admins, "the bot's admins")
        url = command_argument(message)
        reply = self.reply(update)
        if not url:
            await reply.send("Send me a link to add: <code>/add https://…</code>")
            return
        await reply.progress(f"⏳ Adding {url}…")
        async with chat_action(context.bot, update.effective_chat.id, ChatAction.TYPING):
            report = await self.engine.add_links([url], added_by=user_ref(user.id), embed=False,
                                                 on_track=LinkProgress(reply.progress))
        await reply.send(render.plain(batch_summary(report)))

    async def on_strategy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        choice = command_argument(message).lower()
        ref = user_ref(user.id)
        if choice.split()[:1] == ["picture"]:
            await self.engine.set_picture(ref, picture_switch(choice.split()[1:]))
            current, head = await self.engine.strategy_for(ref), "Done. "
        elif choice:
            if choice not in STRATEGIES:
                raise UserError(f"I know these strategies: {', '.join(STRATEGIES)}. Try /strategy lift.")
            await self.engine.set_strategy(ref, choice)
            current, head = choice, "Done. "
        else:
            current, head = await self.engine.strategy_for(ref), ""
        picture = await self.engine.picture_for(ref)
        await self.reply(update).send(head + render.strategy_text(current, picture),
                                      render.strategy_keyboard(current, picture))

    async def on_room(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/room [lift|calm|energize|match]` in a group: songs for the mood of the people read there lately."""
        message = update.effective_message
        chat = update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await self.reply(update).send(render.esc(ROOM_PRIVATE))
            return
        strategy = room_strategy(command_argument(message))
        async with chat_action(context.bot, chat.id, ChatAction.TYPING):
            result = await self.engine.room_songs(telegram_room(chat.id), self.k, strategy)
        if result is None:
            hint = "mentions, replies to me and /mood"
            await self.reply(update).send(render.esc(no_readings(hint)))
            return
        await self.reply(update).send(*render.room_reply(result))

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/forget`: delete the sender's 👍/👎 (what their answers lean on) and say how many."""
        assert update.effective_user is not None
        liked, disliked = await self.engine.forget(user_ref(update.effective_user.id))
        await self.reply(update).send(render.esc(forget_text(liked, disliked)))

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reply(update).send("I don't know that command. /help lists what I can do.")

    # ---------------------------------------------------------------- buttons
    async def on_feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        parsed = render.parse_feedback(query.data or "")
        if parsed is None:
            raise UserError(render.STALE_BUTTON)  # the error handler answers the button with it
        track_id, value = parsed
        where: dict[str, Any] = {"via": "telegram"}
        if query.message is not None:
            where.update(chat=query.message.chat.id, message=query.message.message_id)
        await self.engine.feedback(track_id, user_ref(query.from_user.id), value, where)
        thanks = "Thanks! 👍 noted." if value > 0 else "Thanks! 👎 noted, I'll keep it in mind."
        await answer_callback(query, thanks)

    async def on_strategy_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        name = render.parse_strategy(query.data or "")
        if name is None:
            raise UserError(render.STALE_BUTTON)
        ref = user_ref(query.from_user.id)
        before = await self.engine.strategy_for(ref)
        await self.engine.set_strategy(ref, name)
        if before != name:
            await self._redraw_strategy_menu(query.message, name, await self.engine.picture_for(ref))
        await answer_callback(query, f"Strategy: {name}")

    @staticmethod
    async def _redraw_strategy_menu(message: object, strategy: str, picture: bool) -> None:
        """The /strategy menu edited to show the person's new choice (a menu too old to edit stays as it is)."""
        if isinstance(message, Message):
            await message.edit_text(render.strategy_text(strategy, picture), parse_mode=ParseMode.HTML,
                                    reply_markup=render.strategy_keyboard(strategy, picture))

    async def on_picture_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """🖼 under /strategy: turn the picture of the mood on or off, and show the new state on the menu."""
        query = update.callback_query
        assert query is not None
        wanted = render.parse_picture(query.data or "")
        if wanted is None:
            raise UserError(render.STALE_BUTTON)
        ref = user_ref(query.from_user.id)
        before = await self.engine.picture_for(ref)
        await self.engine.set_picture(ref, wanted)
        if before != wanted:
            await self._redraw_strategy_menu(query.message, await self.engine.strategy_for(ref), wanted)
        await answer_callback(query, "Picture of the mood: " + ("on" if wanted else "off"))

    async def on_save_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """💾 Save: the answer's songs as a JSPF and an M3U8 file, sent as replies to the answer."""
        query = update.callback_query
        assert query is not None and query.data is not None
        ids = parse_save_token(query.data.removeprefix("sv:"))
        files = await saved_files(self.engine, ids)
        await answer_callback(query, "Here are your songs as playlist files.")
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        reply_to = message.message_id if message is not None else None
        for name, data in files:
            await context.bot.send_document(chat_id, InputFile(data, filename=name), reply_to_message_id=reply_to,
                                            allow_sending_without_reply=True)

    async def on_stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Buttons we no longer make (an older version's) still get an answer, so the spinner stops."""
        assert update.callback_query is not None
        await answer_callback(update.callback_query, render.STALE_BUTTON)

    # ---------------------------------------------------------------- errors
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every failure, in a handler or outside one: a reply (or button answer) when there is an update."""
        assert context.error is not None
        if not isinstance(update, Update):
            log.error("Telegram failed outside an update", exc_info=context.error)
            return
        reply = user_message(context.error, log, f"telegram update {update.update_id} ({who(update)})")
        if reply.user_error:
            log.info("telegram update %s: user error for %s: %s", update.update_id, who(update), reply.text)
        try:
            if update.callback_query is not None:
                await answer_callback(update.callback_query, reply.text)
            else:
                await self.reply(update).send(render.plain(reply.text))
        except Exception:  # Telegram itself is failing; the log is all we can do
            log.exception("could not send an error reply on Telegram")
