"""The command catalogue: every chat command with the one description people see for it.

Telegram's command menu and /help, and Discord's slash command descriptions and /help, all come from
`COMMANDS`, so a command cannot be described two ways.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "description_of"]


@dataclass(frozen=True)
class Command:
    name: str
    description: str


#: In the order people need them.
COMMANDS: tuple[Command, ...] = (
    Command("mood", "tell me how you feel, get songs for it"),
    Command("similar", "songs like a track, a link or an audio file"),
    Command("continue", "start a playlist from a title, e.g. rainy day chill"),
    Command("strategy", "match, lift, calm or energize your mood; a picture of it on or off"),
    Command("room", "songs for the mood of this group or channel (or lift, calm, energize it)"),
    Command("forget", "forget your 👍/👎 (your answers stop leaning on them)"),
    Command("add", "add a song by link (admins only)"),
    Command("help", "what I can do"),
)


_BY_NAME = {command.name: command for command in COMMANDS}


def description_of(name: str) -> str:
    """The description of command `name`."""
    return _BY_NAME[name].description
