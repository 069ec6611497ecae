"""Reading what a Telegram message asks, and answering it: the parsing and reply helpers of the handlers.

`asks_for_work` says which updates cost model or network work; the throttle in front of the handlers
counts only those, so /help, menus and group chatter are never slowed down.  `Answer` answers one update,
turning its "Listening…" placeholder into the answer (or into the error, from the error handler).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager, suppress
from typing import Any

from moodtape.bot.shared.audio import guess_name, looks_like_audio
from moodtape.bot.telegram import render
from telegram import Bot, CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

__all__ = [
    "Answer", "addressed", "answer_callback", "asks_for_work", "audio_of", "chat_action", "command_argument",
    "command_of", "who",
]

log = logging.getLogger(__name__)

#: Telegram shows a chat action for about 5 seconds; refresh it a little before it fades.
ACTION_REFRESH_S = 4.5


def command_of(message: Message, bot: Bot) -> str | None:
    """"mood" for "/mood …" or "/mood@this_bot …"; "" for a command meant for another bot; None for none.

    The same reading as PTB's `CommandHandler`, which routes the message to our handler.
    """
    entities = message.entities
    if not message.text or not entities:
        return None
    if entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset:
        return None
    name, _, target = message.text[1:entities[0].length].partition("@")
    return name.lower() if not target or target.lower() == (bot.username or "").lower() else ""


def command_argument(message: Message) -> str:
    """Everything after `/command` or `/command@bot`, newlines and spacing kept."""
    match = re.match(r"^/\S+\s*(.*)$", message.text or "", flags=re.DOTALL)
    return match.group(1).strip() if match else ""


def audio_of(message: Message | None) -> tuple[Any, str] | None:
    """(Telegram file object, file name) of an audio file, voice note or audio document, if there is one."""
    if message is None:
        return None
    if message.audio:
        audio = message.audio
        return audio, audio.file_name or guess_name(audio.title or "audio", audio.mime_type)
    if message.voice:
        return message.voice, guess_name("voice-note", message.voice.mime_type or "audio/ogg")
    document = message.document
    if document and looks_like_audio(document.file_name, document.mime_type):
        return document, document.file_name or guess_name("audio", document.mime_type)
    return None


def addressed(message: Message, bot: Bot) -> str | None:
    """The text meant for the bot, or None for a group message that neither mentions nor replies to it."""
    text = message.text if message.text is not None else (message.caption or "")
    if message.chat.type == ChatType.PRIVATE:
        return text.strip()
    replied = message.reply_to_message
    is_for_us = replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
    kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    if message.text is not None:
        entities = message.parse_entities(kinds)
    else:
        entities = message.parse_caption_entities(kinds)
    username = (bot.username or "").lower()
    for entity, value in entities.items():
        by_name = entity.type == MessageEntity.MENTION and value.lstrip("@").lower() == username
        by_id = entity.type == MessageEntity.TEXT_MENTION and getattr(entity.user, "id", None) == bot.id
        if by_name or by_id:
            is_for_us = True
            text = text.replace(value, " ")
    return " ".join(text.split()) if is_for_us else None


def asks_for_work(update: Update, bot: Bot, admins: Collection[int]) -> bool:
    """Whether the handlers will call the engine for this update (what the throttle counts).

    Prompts ("tell me how you feel"), refusals, help, menus, buttons and edits are free.
    """
    message = update.message
    if message is None:
        return False
    command = command_of(message, bot)
    if command is None:
        if audio_of(message) is not None:
            return addressed(message, bot) is not None
        return message.text is not None and bool(addressed(message, bot))
    argument = command_argument(message)
    if command == "mood":
        return bool(argument)
    if command == "similar":
        return bool(argument) or audio_of(message.reply_to_message) is not None
    if command == "continue":
        return bool(argument)
    if command == "add":
        return bool(argument) and message.from_user is not None and message.from_user.id in admins
    return False


def who(update: Update) -> str:
    """Who sent an update, for log lines."""
    user = update.effective_user
    chat = update.effective_chat
    return f"user {user.id if user else '?'} in chat {chat.id if chat else '?'}"


class Answer:
    """The answer to one update: a fresh reply, or an edit of its progress placeholder once there is one.

    Placeholders live in `placeholders` (update id -> message, owned by the front end) rather than here, so
    the error handler, which gets the update but not the handler's locals, turns the same placeholder into
    the error message.
    """

    def __init__(self, update: Update, placeholders: dict[int, Message]) -> None:
        self.update_id = update.update_id
        self.message = update.effective_message
        self.placeholders = placeholders

    async def progress(self, text: str) -> None:
        if self.message is None:
            return
        placeholder = self.placeholders.get(self.update_id)
        if placeholder is None:
            self.placeholders[self.update_id] = await self.message.reply_text(
                render.plain(text), parse_mode=ParseMode.HTML
            )
        else:
            await placeholder.edit_text(render.plain(text), parse_mode=ParseMode.HTML)

    async def send(self, html_text: str, markup: Any = None) -> None:
        placeholder = self.placeholders.pop(self.update_id, None)
        if self.message is None:
            return
        if placeholder is not None:
            try:
                await placeholder.edit_text(html_text, parse_mode=ParseMode.HTML, reply_markup=markup)
                return
            except BadRequest as exc:  # the placeholder was deleted meanwhile: answer afresh
                log.info("could not edit the progress message (%s); replying instead", exc.message)
        await self.message.reply_text(html_text, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def send_photo(self, png: bytes, caption: str, markup: Any = None, *, full_text: str | None = None,
                         filename: str = "mood.png", short_caption: str = "") -> None:
        """The answer as a photo with `caption` (HTML) under it and `markup` (the buttons) on it.

        A caption over Telegram's 1024 characters is never cut: the photo then goes with `short_caption` and
        the answer (`full_text`, else `caption`) follows with the buttons in a message of its own; a photo
        Telegram refuses (a group that forbids media) leaves the text answer alone.  A progress placeholder
        cannot become a photo (a text message stays text), so it is deleted.
        """
        placeholder = self.placeholders.pop(self.update_id, None)
        if self.message is None:
            return
        if placeholder is not None:
            with suppress(TelegramError):
                await placeholder.delete()
        fits = render.visible_length(caption) <= render.MAX_CAPTION
        try:
            await self.message.reply_photo(png, caption=caption if fits else short_caption or None,
                                           parse_mode=ParseMode.HTML, reply_markup=markup if fits else None,
                                           filename=filename)
        except BadRequest as exc:  # e.g. a group where the bot may not send photos: the answer still comes
            log.info("could not send the picture (%s); answering with text", exc.message)
            fits = False
        if not fits:
            await self.message.reply_text(full_text or caption, parse_mode=ParseMode.HTML, reply_markup=markup)


async def answer_callback(query: CallbackQuery, text: str) -> None:
    """Answer a button press (which stops its spinner); a failure to answer is only logged."""
    try:
        await query.answer(text[:200])  # Telegram caps callback answers at 200 characters
    except TelegramError as exc:  # e.g. the query is too old to answer; nothing to show anyway
        log.info("could not answer a callback query: %s", exc)


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
