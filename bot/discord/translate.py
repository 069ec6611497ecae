"""Korean for Discord's slash commands: names, descriptions and the context-menu command, through discord.py's
`app_commands.Translator` (set on the command tree in `setup_hook`, applied when the commands are synced).

People whose Discord client is in Korean see `/기분`, `/비슷한노래`, ... with Korean descriptions; the English
names keep working for everyone.  The Korean lines live in `bot.shared.help_ko`, shared with Telegram's Korean
command menu; parameter descriptions and choices without a Korean line stay English.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where
from moodtape.bot.shared.help import COMMANDS
from moodtape.bot.shared.help_ko import DESCRIPTIONS, NAMES

__all__ = ["CONTEXT_MENU_NAME", "KoreanTranslator"]

#: The message context-menu command (right-click a message -> Apps).
CONTEXT_MENU_NAME = "Songs like this"

_ENGLISH_DESCRIPTIONS = {command.description: command.name for command in COMMANDS}
_MENU_NAMES = {CONTEXT_MENU_NAME: "이런 노래 더"}
#: Parameter descriptions people meet most.
_PARAMETERS = {
    "how you feel, in a sentence or two": "지금 기분을 한두 문장으로",
    "what the songs should do with the room's mood (default: match it)": "방 분위기를 어떻게 할지 (기본: 맞추기)",
    "a track id, “artist - title”, words of a title, or a link": "곡 번호, “가수 - 제목”, 제목 일부 또는 링크",
    "the playlist's name, e.g. “rainy day chill” (any language, emoji welcome)":
        "플레이리스트 이름 (예: “비 오는 날 잔잔한”, 어떤 언어든, 이모지도 좋아요)",
    "a link to a song (a web page or an audio file)": "노래 링크 (웹 페이지나 오디오 파일)",
    "what the songs should do with your mood": "노래가 기분을 어떻게 할지",
}


class KoreanTranslator(app_commands.Translator):
    """Answers for `discord.Locale.korean` only; every other locale keeps the English strings."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContext) -> str | None:
        if locale is not discord.Locale.korean:
            return None
        text = string.message
        if context.location is Where.command_name:
            return NAMES.get(text) or _MENU_NAMES.get(text)
        if context.location is Where.command_description:
            name = _ENGLISH_DESCRIPTIONS.get(text)
            return DESCRIPTIONS.get(name) if name else None
        if context.location is Where.parameter_description:
            return _PARAMETERS.get(text)
        return None
