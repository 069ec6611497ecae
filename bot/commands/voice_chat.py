"""`moodtape chat --voice FILE [--language CODE] [--json]`: the spoken mood on the command line.

Kept apart from `chat.py` so the mood chat's own module stays about text; `chat` hands over when `--voice` is
given.  JSON is the chat's (speech) or `similar`'s (music) plus `input`, `speech`, `heard` (see the README).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from moodtape.bot.commands.common import engine_for, print_json
from moodtape.bot.shared.voice import voice_text
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.voice.asr import language_hint

__all__ = ["run_voice"]


async def run_voice(args: argparse.Namespace, settings: Settings, k: int | None, *,
                    draw: Callable[[Any, Path], Awaitable[None]] | None = None) -> int:
    """The answer to a voice file; `draw` (chat's picture writer) draws `--picture` for speech."""
    if args.text:
        raise UserError("give either TEXT or --voice FILE, not both")
    language = None
    if args.language is not None:
        language = language_hint(args.language) or args.language.strip()[:12] or "?"
    async with engine_for(settings) as engine:
        result = await engine.voice(args.voice, k, args.strategy, language=language,
                                    strict_language=language is not None, voice_note=True)
    if args.json:
        print_json(result.to_json())
    else:
        print(voice_text(result))
    if draw is not None and getattr(args, "picture", None) is not None and result.chat is not None:
        await draw(result.chat, args.picture)
    return 0
