"""Bot tokens: where each comes from and the one line that says it is missing.

Both bots and `moodtape run` read tokens through `require_tokens`, so a missing token reads the same
everywhere and `moodtape run all` names every missing one in a single line.  The token itself is never
part of a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moodtape.core.config import Settings
from moodtape.core.errors import UserError

__all__ = ["DISCORD_PORTAL", "TOKENS", "BotToken", "bot_token", "require_tokens"]

#: Where to create a Discord bot; shown when its token is missing or refused.
DISCORD_PORTAL = "https://discord.com/developers/applications"


@dataclass(frozen=True)
class BotToken:
    """One chat's token: the setting that holds it, its environment variable, and how to get one."""

    setting: str
    variable: str
    how: str


TOKENS: dict[str, BotToken] = {
    "telegram": BotToken("telegram_token", "MOODTAPE_TELEGRAM_TOKEN",
                         "create a bot with @BotFather and put its token there"),
    "discord": BotToken("discord_token", "MOODTAPE_DISCORD_TOKEN",
                        f"create a bot at {DISCORD_PORTAL} (Bot > Reset Token) and put its token there"),
}


def require_tokens(settings: Settings, services: Iterable[str]) -> dict[str, str]:
    """service -> token for each of `services`; one `UserError` naming every missing token."""
    found: dict[str, str] = {}
    missing: list[BotToken] = []
    for service in services:
        spec = TOKENS[service]
        secret = getattr(settings, spec.setting)
        token = secret.get_secret_value().strip() if secret else ""
        if token:
            found[service] = token
        else:
            missing.append(spec)
    if missing:
        raise UserError("; ".join(f"{spec.variable} is not set: {spec.how}" for spec in missing))
    return found


def bot_token(settings: Settings, service: str) -> str:
    """The token of one chat (`telegram` or `discord`), or the missing-token `UserError`."""
    return require_tokens(settings, [service])[service]
