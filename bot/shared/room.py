"""What every front end says about a room's mood (`/room`), so Telegram, Discord and the CLI say it alike.

The engine keeps the window of readings (`core.mood.room`); this module names the rooms and people for it,
reads the `/room` argument, and words the answer's head line and its refusals.
"""

from __future__ import annotations

from moodtape.core.errors import UserError
from moodtape.core.mood.room import RoomMood
from moodtape.core.mood.space import STRATEGIES

__all__ = [
    "ROOM_HEADINGS", "ROOM_PRIVATE", "discord_room", "no_readings", "read_from", "room_strategy", "telegram_room",
]

#: Headline of a `/room` answer per strategy.
ROOM_HEADINGS: dict[str, str] = {
    "match": "Songs for the room's mood",
    "lift": "Songs to lift the room, step by step",
    "calm": "Songs to calm the room down, step by step",
    "energize": "Songs to get the room going, step by step",
}

#: `/room` in a private chat or a DM: the window is for groups; a person alone has the mood chat.
ROOM_PRIVATE = (
    "/room reads the mood of a group: add me to a group chat or a server channel and use /room there. "
    "Here, just tell me how you feel and I'll pick songs for you."
)


def telegram_room(chat_id: int) -> str:
    """The window key of a Telegram group (a different namespace from people's `tg:ID`)."""
    return f"tg-chat:{chat_id}"


def discord_room(channel_id: int) -> str:
    """The window key of a Discord channel (or thread)."""
    return f"dc-channel:{channel_id}"


def no_readings(how_to_be_read: str) -> str:
    """The answer when nobody in the room was read recently; `how_to_be_read` is the front end's own hint."""
    return (f"I haven't read anyone here yet. I only read messages meant for me ({how_to_be_read}), and I keep "
            "their moods for a few hours, never the messages. Tell me how you feel, then ask /room again.")


def room_strategy(argument: str) -> str:
    """`/room lift` -> "lift"; no argument is "match" (the room as it is); anything else a clear refusal."""
    choice = argument.strip().lower()
    if not choice:
        return "match"
    if choice not in STRATEGIES:
        shown = choice if len(choice) <= 20 else choice[:19] + "…"
        raise UserError(f"/room can {', '.join(STRATEGIES)} the room, not \"{shown}\". Try /room lift.")
    return choice


def _span(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes / 60:.1f} hours".replace(".0 ", " ")


def read_from(room: RoomMood) -> str:
    """"I read 3 people here (5 messages over the last 12 minutes)": how much the answer stands on."""
    people = f"{room.people} {'person' if room.people == 1 else 'people'}"
    messages = f"{room.messages} message{'s' if room.messages != 1 else ''}"
    return f"I read {people} here ({messages} over the last {_span(room.span_s)})"
