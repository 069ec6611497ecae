"""Inline mode: `@bot rainy day blues` in any chat answers with songs for that mood as inline results.

Telegram sends an inline query on every keystroke, so answers are cached by the normalised text (in process,
`CACHE_S`, and at Telegram with `cache_time`) and each person is throttled (`PER_PERSON_S` between two queries
that reach the model; a throttled keystroke gets no answer, the next one will).  Queries shorter than
`MIN_CHARS` answer with a button that opens a private chat with the bot instead (deep link `start=inline`).
Inline mode must be switched on with @BotFather (`/setinline`); without it Telegram never sends these queries.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict

from moodtape.bot.shared.throttle import Throttle
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.results import ChatResult, RecommendedTrack
from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

__all__ = ["CACHE_S", "MIN_CHARS", "PER_PERSON_S", "InlineSongs"]

log = logging.getLogger(__name__)

#: How long an answer is reused for the same words (here and, via `cache_time`, at Telegram).
CACHE_S = 300
#: Least time between two of one person's inline queries that reach the model.
PER_PERSON_S = 1.0
#: Shorter queries get the "open a chat" button, not a model reading of half a word.
MIN_CHARS = 3
#: Answers kept in the cache.
CACHE_ENTRIES = 512
#: Songs per inline answer.
SONGS = 8


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _result(track: RecommendedTrack, mood: str) -> InlineQueryResultArticle:
    """One song as an inline result: the message it sends names the song, why, and its link if it has one."""
    link = track.source if (track.source or "").startswith(("https://", "http://")) else None
    body = f"🎵 <b>{_esc(track.label)}</b>\n<i>{_esc(track.reason)}</i>"
    if link:
        body += f"\n{_esc(link)}"
    body += f"\n\n(Moodtape, for “{_esc(mood)}”)"
    ident = hashlib.blake2s(f"{track.id}:{mood}".encode(), digest_size=16).hexdigest()
    return InlineQueryResultArticle(
        id=ident, title=track.label[:200], description=(track.reason or track.album or "")[:200],
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
    )


class InlineSongs:
    """The inline-query handler: cached, throttled, and quiet on failure (an inline answer cannot apologise)."""

    def __init__(self, engine: Engine, *, per_person_s: float = PER_PERSON_S) -> None:
        self.engine = engine
        self.throttle = Throttle(per_person_s)
        self._cache: OrderedDict[str, tuple[float, list[InlineQueryResultArticle]]] = OrderedDict()

    def _cached(self, key: str) -> list[InlineQueryResultArticle] | None:
        hit = self._cache.get(key)
        if hit is None or time.monotonic() - hit[0] > CACHE_S:
            return None
        self._cache.move_to_end(key)
        return hit[1]

    def _keep(self, key: str, results: list[InlineQueryResultArticle]) -> None:
        self._cache[key] = (time.monotonic(), results)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        text = query.query.strip()[:256]
        if len(text) < MIN_CHARS:
            await query.answer([], cache_time=CACHE_S, button=InlineQueryResultsButton(
                text="Tell me how you feel", start_parameter="inline"))
            return
        key = _key(text)
        results = self._cached(key)
        if results is None:
            if not self.throttle.check(query.from_user.id).allowed:
                return  # the next keystroke asks again
            try:
                chat: ChatResult = await self.engine.chat(text, SONGS)
            except UserError as exc:
                log.info("inline query not answered: %s", exc)
                await query.answer([], cache_time=10)
                return
            results = [_result(track, text) for track in chat.tracks]
            self._keep(key, results)
        await query.answer(results, cache_time=CACHE_S)
