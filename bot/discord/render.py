"""Discord-specific rendering: embeds for engine results and the texts the Discord bot says.

Kept apart from the handlers so the Discord front end stays "parse, call the engine, render", and so Discord's
limits (25 fields per embed, 256/1024/4096 characters for names/values/descriptions, 6000 in all) are
enforced in one place instead of being remembered by every handler.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

import discord
from moodtape.bot.render import STRATEGY_HEADINGS, mood_summary

# Re-exported: the tests compare replies with APOLOGY; the bot answers buttons it does not make with STALE_BUTTON.
from moodtape.bot.shared.errors import APOLOGY, STALE_BUTTON  # noqa: F401
from moodtape.bot.shared.formatting import similar_heading
from moodtape.bot.shared.help import COMMANDS
from moodtape.bot.shared.room import ROOM_HEADINGS, read_from
from moodtape.bot.shared.taste import FORGET_HELP
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP, describe
from moodtape.core.recommend.title import TitleResult
from moodtape.core.results import RecommendedTrack, SimilarResult

#: Songs per Discord reply: two feedback buttons each, four buttons per row, five rows at most.
MAX_SONGS = 10

#: Embed limits Discord enforces (a longer value makes the whole message fail with HTTP 400).
TITLE_LIMIT = 256
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
#: Kept free for the footer, which is set after the fields.
FOOTER_ROOM = 200

#: One colour per answer kind so people can tell a mood answer from a "songs like" answer at a glance.
MOOD_COLOUR = discord.Colour(0x8E7CC3)
SIMILAR_COLOUR = discord.Colour(0x3D85C6)

SLOW_DOWN = "Easy there: give me {seconds:.0f} more second(s) before the next request."
EMPTY_MENTION = "Tell me how you feel (mention me with a sentence, or use /mood) and I'll pick songs for it."


def clip(text: str, limit: int) -> str:
    """Shorten to Discord's limit with an ellipsis rather than letting the API refuse the message."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sentence(text: str) -> str:
    """Capitalise an engine message for chat ("added …" -> "Added …"), unless it starts with a name.

    Only a plain lowercase word is capitalised: "noise.ogg: not an audio file" keeps its file name.
    """
    return text[:1].upper() + text[1:] if re.match(r"[a-z]+(?![\w.\-/:])", text) else text


def source_text(source: str | None) -> str | None:
    """Links stay links; a file path shows only its name (server paths are nobody's business)."""
    if not source:
        return None
    parts = urlsplit(source)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"[{parts.netloc}]({source})"
    return PurePath(source).name or None


def catalogue_note(catalogue: str) -> str | None:
    if catalogue == "demo":
        return "From the bundled demo catalogue (free game soundtracks) until an admin adds music with /add."
    return None


def add_tracks(embed: discord.Embed, tracks: list[RecommendedTrack]) -> None:
    """One field per song: its reason, where it comes from, and its id (usable with /similar).

    The id stays on the last line whatever is shortened: the feedback thank-you finds the song by it.
    """
    shown = tracks[:MAX_SONGS]
    room = EMBED_TOTAL_LIMIT - FOOTER_ROOM - len(embed.title or "") - len(embed.description or "")
    share = max(80, room // max(1, len(shown)))
    for number, track in enumerate(shown, start=1):
        album = f" [{track.album}]" if track.album else ""
        name = clip(f"{number}. {track.label}{album}", min(FIELD_NAME_LIMIT, share // 3))
        source = source_text(track.source)
        tail = f"{source} · #{track.id}" if source else f"#{track.id}"
        if len(tail) > share // 3:
            tail = f"#{track.id}"
        budget = min(FIELD_VALUE_LIMIT, share - len(name)) - len(tail) - 1
        embed.add_field(name=name, value=clip(track.reason, max(1, budget)) + "\n" + tail, inline=False)


def mood_embed(result: Any) -> discord.Embed:
    """The reply to a mood: what we read, which strategy, the songs (`result`: a `core.engine.ChatResult`)."""
    mood = result.mood
    lines = [
        f"**I read:** {mood_summary(mood)}",
        f"(valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f}: {describe(mood.valence, mood.arousal)})",
        f"**Strategy:** {result.strategy}: {STRATEGY_HELP.get(result.strategy, '')}",
    ]
    if not result.tracks:
        lines.append("I have no songs with a mood yet.")
    embed = discord.Embed(
        title=STRATEGY_HEADINGS.get(result.strategy, "Songs for your mood"),
        description=clip("\n".join(lines), DESCRIPTION_LIMIT),
        colour=MOOD_COLOUR,
    )
    add_tracks(embed, result.tracks)
    _footer(embed, result.catalogue, bool(result.tracks))
    return embed


def voice_embed(result: Any) -> discord.Embed:
    """The reply to a voice message (`core.voice.VoiceResult`): "I heard: '...'" above the mood reply, or,
    for music, the usual songs-like embed."""
    from moodtape.bot.shared.voice import heard_line, prosody_note

    if result.chat is None:
        return similar_embed(result.similar)
    embed = mood_embed(result.chat)
    note = prosody_note(result)
    head = f"🎙 {discord.utils.escape_markdown(heard_line(result))}" + (f"\n*({note})*" if note else "")
    embed.description = clip(head + "\n" + (embed.description or ""), DESCRIPTION_LIMIT)
    return embed


def room_embed(result: Any) -> discord.Embed:
    """The reply to /room (`result`: a `core.mood.room.RoomResult`): how many people were read, the songs."""
    chat, mood = result.chat, result.chat.mood
    lines = [
        f"**{read_from(result.room)}.**",
        f"The room feels {describe(mood.valence, mood.arousal)}: {mood_summary(mood)}",
        f"(valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})",
    ]
    if not chat.tracks:
        lines.append("I have no songs with a mood yet.")
    embed = discord.Embed(title=ROOM_HEADINGS[chat.strategy], description=clip("\n".join(lines), DESCRIPTION_LIMIT),
                          colour=MOOD_COLOUR)
    add_tracks(embed, chat.tracks)
    _footer(embed, chat.catalogue, bool(chat.tracks))
    return embed


def similar_embed(result: SimilarResult) -> discord.Embed:
    heading = similar_heading(result)
    if heading.track_id is not None:
        title = f"{heading.title(('“', '”'))} (#{heading.track_id})"
        description = None
    else:
        title = heading.title()
        description = f"It sounds {heading.sounds}." if heading.sounds else None
    if not result.tracks:
        description = (description + "\n" if description else "") + "Nothing comparable in the catalogue yet."
    embed = discord.Embed(title=clip(title, TITLE_LIMIT), description=description, colour=SIMILAR_COLOUR)
    add_tracks(embed, result.tracks)
    _footer(embed, heading.catalogue, bool(result.tracks))
    return embed


def title_embed(result: TitleResult) -> discord.Embed:
    """`/continue title:...`: a playlist started from its name; the description says what the songs rest on."""
    description = sentence(result.note) + "."
    if not result.tracks:
        description += "\nNothing to put in it from this catalogue yet."
    embed = discord.Embed(title=clip(f"A playlist called “{result.title}”", TITLE_LIMIT),
                          description=description, colour=SIMILAR_COLOUR)
    add_tracks(embed, result.tracks)
    _footer(embed, result.catalogue, bool(result.tracks))
    return embed


def _footer(embed: discord.Embed, catalogue: str, has_tracks: bool) -> None:
    parts = []
    note = catalogue_note(catalogue)
    if note:
        parts.append(note)
    if has_tracks:
        parts.append("👍/👎 below tell me what fits.")
    if parts:
        embed.set_footer(text=" ".join(parts))


def help_embed(admin_role: str | None) -> discord.Embed:
    lines = [f"**/{command.name}**: {command.description}" for command in COMMANDS]
    lines.append("")
    lines.append("You can also mention me with how you feel, or write to me in a DM: I read it as a mood.")
    lines.append(FORGET_HELP)
    strategies = "; ".join(f"**{name}**: {STRATEGY_HELP[name]}" for name in STRATEGIES)
    lines.append(f"Strategies: {strategies}.")
    who = f"the “{admin_role}” role or " if admin_role else ""
    lines.append(f"/add needs {who}the Manage Server permission.")
    return discord.Embed(title="Moodtape: songs for how you feel", description="\n".join(lines),
                         colour=MOOD_COLOUR)


def feedback_thanks(value: int, title: str | None, track_id: int) -> str:
    what = f"“{title}”" if title else f"song #{track_id}"
    return f"Thanks! Noted {'👍' if value > 0 else '👎'} for {what}."
