"""Telegram-specific rendering: HTML message texts and inline keyboards for engine results.

Kept apart from the handlers so the Telegram front end stays "parse, call the engine, render", and so the
limits Telegram imposes (4096 characters per message, 64 bytes of callback data per button) are enforced in
one place instead of being remembered by every handler.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from moodtape.bot.render import STRATEGY_HEADINGS, mood_summary
from moodtape.bot.shared.errors import STALE_BUTTON  # noqa: F401 - the handlers answer stale buttons with it
from moodtape.bot.shared.formatting import similar_heading
from moodtape.bot.shared.help import COMMANDS
from moodtape.bot.shared.help_ko import DESCRIPTIONS as KOREAN_DESCRIPTIONS
from moodtape.bot.shared.room import ROOM_HEADINGS, read_from
from moodtape.bot.shared.saved import save_token
from moodtape.bot.shared.taste import FORGET_HELP
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP, describe
from moodtape.core.recommend.title import TitleResult
from moodtape.core.results import RecommendedTrack, SimilarResult
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup

#: Telegram refuses longer message texts (counted after entity parsing; we stay below on the raw HTML).
MAX_MESSAGE = 4096
#: Telegram's limit on callback data.
MAX_CALLBACK_BYTES = 64
#: Prefixes of our callback data; the payload says what it is without any server-side state, so buttons
#: keep working after a restart.
FEEDBACK_PREFIX = "fb"
STRATEGY_PREFIX = "st"
PICTURE_PREFIX = "pic"
#: Telegram's limit on a photo's caption (characters after entity parsing; we count the raw HTML, UTF-16).
MAX_CAPTION = 1024

SLOW_DOWN = "Slow down a little, please: I am still on your last request."


def esc(text: object) -> str:
    """Escape for Telegram's HTML parse mode (only <, > and & are special there)."""
    return html.escape(str(text), quote=False)


def bot_commands(language: str = "") -> list[BotCommand]:
    """The command menu; `language` "ko" gives the Korean descriptions (Telegram's names are ASCII by rule)."""
    if language == "ko":
        return [BotCommand(command.name, KOREAN_DESCRIPTIONS[command.name]) for command in COMMANDS]
    return [BotCommand(command.name, command.description) for command in COMMANDS]


def start_text(strategy: str) -> str:
    """The welcome of a deep link `t.me/<bot>?start=mood-<strategy>`: the strategy is set, say so and how to go on."""
    return (f"Welcome to <b>Moodtape</b>. Your strategy is now <b>{esc(strategy)}</b>: "
            f"{esc(STRATEGY_HELP[strategy])}.\nTell me how you feel and I answer with songs "
            "(/strategy changes it, /help says the rest).")


def help_text(bot_username: str | None) -> str:
    mention = f"@{esc(bot_username)}" if bot_username else "me"
    lines = [
        "<b>Moodtape</b> picks music for how you feel, and finds songs that sound alike.",
        "",
        "• Tell me how you feel (just write it here, or <code>/mood ugh, what a day</code>) "
        "and I answer with songs, each with a reason.",
        "• <code>/similar</code> with a track number, <i>artist - title</i>, title words or a link finds "
        "songs that sound alike. Send me an audio file and I do the same for it.",
        "• Or say how you feel in a voice note (English or Korean): I answer with what I heard and songs for it.",
        "• Rate every song with 👍/👎: it helps me learn what fits. " + esc(FORGET_HELP),
        "",
        "<b>Commands</b>",
    ]
    lines += [f"/{command.name} — {esc(command.description)}" for command in COMMANDS]
    lines += ["", "<b>Strategies</b> (choose with /strategy)"]
    lines += [f"• <b>{name}</b>: {esc(STRATEGY_HELP[name])}" for name in STRATEGIES]
    lines += ["", f"In groups, mention {mention} or reply to one of my messages."]
    return "\n".join(lines)


def feedback_data(track_id: int, value: int) -> str:
    data = f"{FEEDBACK_PREFIX}:{'+' if value > 0 else '-'}:{track_id}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:  # cannot happen for integer ids, guarded all the same
        raise ValueError(f"callback data too long: {data!r}")
    return data


#: Track ids are SQLite integers (under 2**63): more digits than this cannot be one of ours.
MAX_ID_DIGITS = 18


def parse_feedback(data: str) -> tuple[int, int] | None:
    """(track id, +1/-1) from `fb:+:42`, or None for data we did not make.

    Callback data comes from the client and can be forged: only ASCII digits that fit an id are read
    (`str.isdigit` also accepts "²", which `int` refuses, and 23 digits overflow SQLite).
    """
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != FEEDBACK_PREFIX or parts[1] not in ("+", "-"):
        return None
    digits = parts[2]
    if not (digits.isascii() and digits.isdigit() and len(digits) <= MAX_ID_DIGITS):
        return None
    return int(digits), 1 if parts[1] == "+" else -1


def parse_strategy(data: str) -> str | None:
    prefix, _, name = data.partition(":")
    return name if prefix == STRATEGY_PREFIX and name in STRATEGIES else None


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def feedback_keyboard(tracks: Sequence[RecommendedTrack]) -> InlineKeyboardMarkup | None:
    """One row per recommended track: 👍 and 👎, numbered like the list in the text; then 💾 Save."""
    if not tracks:
        return None
    rows = [
        [
            InlineKeyboardButton(f"👍 {n}. {_short(track.title)}", callback_data=feedback_data(track.id, 1)),
            InlineKeyboardButton(f"👎 {n}", callback_data=feedback_data(track.id, -1)),
        ]
        for n, track in enumerate(tracks, start=1)
    ]
    token = save_token(tracks)
    if token is not None:
        rows.append([InlineKeyboardButton("💾 Save as a playlist (JSPF + M3U8)", callback_data=f"sv:{token}")])
    return InlineKeyboardMarkup(rows)


def strategy_keyboard(current: str, picture: bool | None = None) -> InlineKeyboardMarkup:
    """The strategy buttons; with `picture` known, a third row turns the picture of the mood on or off."""
    buttons = [
        InlineKeyboardButton(("✅ " if name == current else "") + name,
                             callback_data=f"{STRATEGY_PREFIX}:{name}")
        for name in STRATEGIES
    ]
    rows = [buttons[:2], buttons[2:]]
    if picture is not None:
        rows.append([InlineKeyboardButton("🖼 picture: on → turn off" if picture else "🖼 picture: off → turn on",
                                          callback_data=f"{PICTURE_PREFIX}:{'off' if picture else 'on'}")])
    return InlineKeyboardMarkup(rows)


def parse_picture(data: str) -> bool | None:
    """True/False from `pic:on`/`pic:off`, None for data we did not make."""
    prefix, _, value = data.partition(":")
    return {"on": True, "off": False}.get(value) if prefix == PICTURE_PREFIX else None


def strategy_text(current: str, picture: bool | None = None) -> str:
    lines = [f"Your strategy: <b>{esc(current)}</b> — {esc(STRATEGY_HELP[current])}.", "", "Choose another:"]
    lines += [f"• <b>{name}</b>: {esc(STRATEGY_HELP[name])}" for name in STRATEGIES if name != current]
    if picture is not None:
        lines += ["", f"Picture of the mood with each answer: <b>{'on' if picture else 'off'}</b> "
                      "(<code>/strategy picture on</code> or <code>off</code>)."]
    return "\n".join(lines)


def _catalogue_note(catalogue: str) -> str:
    return " <i>(from the demo catalogue of free game soundtracks)</i>" if catalogue == "demo" else ""


def _track_block(number: int, track: RecommendedTrack, links: bool = True) -> str:
    title = f"<b>{esc(track.label)}</b>"
    album = f" · {esc(track.album)}" if track.album else ""
    lines = [f"{number}. {title}{album}  <code>#{track.id}</code>", f"    <i>{esc(track.reason)}</i>"]
    if links and track.source and track.source.startswith(("http://", "https://")):
        lines.append(f"    {esc(track.source)}")
    return "\n".join(lines)


def visible_length(html_text: str) -> int:
    """What Telegram counts against its limits: the text once the HTML markup is parsed away, in UTF-16 units."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", html_text))
    return len(plain.encode("utf-16-le")) // 2


def _fit(head: str, blocks: list[str], foot: str) -> str:
    """Head, as many track blocks as fit, foot: never over Telegram's message limit."""
    text = head
    budget = MAX_MESSAGE - len(foot) - 2
    for block in blocks:
        if len(text) + len(block) + 1 > budget:
            break
        text += "\n" + block
    return f"{text}\n\n{foot}" if foot else text


RATE_FOOT = "Tap 👍/👎 to tell me what fits."


def mood_reply(result: Any, *, links: bool = True) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and keyboard for `Engine.chat`'s `ChatResult` (`links=False`: without the songs' links, the
    shorter form that fits a photo's 1024-character caption)."""
    mood = result.mood
    head = (
        f"<b>I read:</b> {esc(mood_summary(mood))}\n"
        f"<i>that feels {esc(describe(mood.valence, mood.arousal))} "
        f"(valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})</i>\n"
    )
    if not result.tracks:
        return head + "\nI have no songs with a mood yet" + _catalogue_note(result.catalogue) + ".", None
    heading = STRATEGY_HEADINGS.get(result.strategy, f"Songs ({esc(result.strategy)})")
    head += f"\n<b>{heading}</b>{_catalogue_note(result.catalogue)}:"
    blocks = [_track_block(n, t, links) for n, t in enumerate(result.tracks, start=1)]
    return _fit(head, blocks, RATE_FOOT + " /strategy changes how I pick."), feedback_keyboard(result.tracks)


def room_reply(result: Any) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and keyboard for `Engine.room_songs`' `RoomResult`: how many people were read, the songs."""
    chat, mood = result.chat, result.chat.mood
    head = (
        f"<b>{esc(read_from(result.room))}.</b>\n"
        f"The room feels {esc(describe(mood.valence, mood.arousal))}: {esc(mood_summary(mood))}\n"
        f"<i>(valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})</i>\n"
    )
    if not chat.tracks:
        return head + "\nI have no songs with a mood yet" + _catalogue_note(chat.catalogue) + ".", None
    head += f"\n<b>{esc(ROOM_HEADINGS[chat.strategy])}</b>{_catalogue_note(chat.catalogue)}:"
    blocks = [_track_block(n, t) for n, t in enumerate(chat.tracks, start=1)]
    return _fit(head, blocks, RATE_FOOT + " /room lift|calm|energize steers the room."), \
        feedback_keyboard(chat.tracks)


def similar_reply(result: SimilarResult) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and keyboard for a `SimilarResult` (a catalogue track, a link or a shared clip)."""
    heading = similar_heading(result)
    head = f"<b>{esc(heading.title())}</b>"
    if heading.track_id is not None:
        head += f" <code>#{heading.track_id}</code>"
    if heading.sounds:
        head += f"\n<i>it sounds {esc(heading.sounds)}</i>"
    head += _catalogue_note(heading.catalogue)
    if not result.tracks:
        return head + "\nNothing comparable in the catalogue yet.", None
    blocks = [_track_block(n, t) for n, t in enumerate(result.tracks, start=1)]
    return _fit(head + ":", blocks, RATE_FOOT), feedback_keyboard(result.tracks)


def title_reply(result: TitleResult) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and keyboard for `/continue TITLE` (`Engine.continue_from_title`): what the songs rest on, then them."""
    head = f"<b>A playlist called “{esc(result.title)}”</b>{_catalogue_note(result.catalogue)}"
    head += f"\n<i>{esc(result.note)}</i>"
    if not result.tracks:
        return head + "\nNothing to put in it from this catalogue yet.", None
    blocks = [_track_block(n, t) for n, t in enumerate(result.tracks, start=1)]
    return _fit(head, blocks, RATE_FOOT), feedback_keyboard(result.tracks)


def voice_reply(result: Any) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and keyboard for `Engine.voice`'s `VoiceResult`: "I heard: '...'" then the mood answer, or, for
    music, the usual songs-like answer."""
    from moodtape.bot.shared.voice import heard_line, prosody_note

    if result.chat is None:
        return similar_reply(result.similar)
    note = prosody_note(result)
    head = f"🎙 {esc(heard_line(result))}\n" + (f"<i>({esc(note)})</i>\n" if note else "")
    text, markup = mood_reply(result.chat)
    if len(head) + len(text) > MAX_MESSAGE:  # a long transcript: drop the songs' links rather than songs
        text, markup = mood_reply(result.chat, links=False)
    return head + text, markup


def plain(text: str) -> str:
    """A message of ours that is plain text (errors, engine messages) made safe for HTML mode."""
    if len(text) > MAX_MESSAGE // 2:  # escaping may grow the text; cut before it so no entity is split
        text = text[: MAX_MESSAGE // 2 - 1] + "…"
    return esc(text)
