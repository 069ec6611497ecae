"""What `moodtape run` checks before it starts anything: every token it needs, with the services.

A missing token is found without asking anyone, and all missing ones are named in one line; then Telegram
(getMe) and Discord (login) are asked whether they accept each token, so a refused one is one line too,
before the database opens or any bot starts.  Each chat library is imported only when its bot is asked
for, so `moodtape run telegram` never loads discord.py.
"""

from __future__ import annotations

from collections.abc import Collection

from moodtape.bot.shared.tokens import require_tokens
from moodtape.core.config import Settings

__all__ = ["check_tokens"]


async def check_tokens(settings: Settings, which: Collection[str]) -> dict[str, str]:
    """service -> the bot's name as that service knows it; a one-line `UserError` for what is wrong."""
    require_tokens(settings, which)
    names: dict[str, str] = {}
    if "telegram" in which:
        from moodtape.bot.telegram import check_telegram

        names["telegram"] = await check_telegram(settings)
    if "discord" in which:
        from moodtape.bot.discord import check_discord

        names["discord"] = await check_discord(settings)
    return names
