"""`moodtape room FILE`: the mood of a chat log as the bots' `/room` would read it, and songs for it.

FILE (or `-` for stdin) holds one message per line as `name: message`.  Lines are read in order, one minute
apart (the last line is "now"), into the same window the bots keep per group (`core.mood.room`): recency
halves a message's weight every 30 lines, each person's weight is capped, only the window's last
`MAX_READINGS` lines can count.  Blank lines are skipped quietly; a line without `name:` is reported on
stderr and skipped (exit status 1, the rest is still read).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.render import catalogue_note, mood_summary, tracks_block
from moodtape.bot.shared.room import ROOM_HEADINGS
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.mood.room import MAX_READINGS, RoomMoods, RoomResult
from moodtape.core.mood.space import STRATEGIES, describe
from moodtape.core.results import ChatResult

__all__ = ["LINE_SECONDS", "MAX_LOG_BYTES", "LogLine", "parse_log", "register", "room_text", "run"]

#: The time between two lines of a log: a chat line a minute (the window's half-life is 30 minutes).
LINE_SECONDS = 60.0
#: Bigger logs are refused before reading (only the last `MAX_READINGS` lines could count anyway).
MAX_LOG_BYTES = 16 * 1024 * 1024
#: Longer names are not names: the line is reported as malformed.
MAX_NAME_CHARS = 64


@dataclass(frozen=True)
class LogLine:
    number: int  # 1-based, for messages about the line
    name: str
    text: str


def parse_log(text: str) -> tuple[list[LogLine], list[tuple[int, str]]]:
    """(messages, problems) of a `name: message` log; a problem is (line number, why it was skipped)."""
    lines: list[LogLine] = []
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        name, colon, message = raw.partition(":")
        name = " ".join(name.split())
        if not colon or not name or len(name) > MAX_NAME_CHARS:
            problems.append((number, "not a `name: message` line"))
            continue
        if not message.strip():
            problems.append((number, f"{name} wrote nothing to read"))
            continue
        lines.append(LogLine(number, name, message.strip()))
    return lines, problems


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "room", help="the mood of a chat log, as the bots' /room reads a group, and songs for it",
        description="Reads FILE (`-`: stdin), one `name: message` line per message, oldest first, as the bots "
                    "read a group for /room: a line a minute, recent lines weigh more (half-life 30 lines), each "
                    "person's weight is capped so one loud member does not decide, and only the last "
                    f"{MAX_READINGS} lines count.",
    )
    parser.add_argument("file", help="the chat log (UTF-8), or - for stdin")
    add_k_option(parser, default=None, shown=5)
    parser.add_argument("--strategy", choices=STRATEGIES, default="match",
                        help="match the room's mood (default), or lift, calm or energize it")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def _read(source: str) -> str:
    """The log's text; a missing file, a FIFO or a huge file is a one-line `UserError` before reading."""
    if source == "-":
        data = sys.stdin.buffer.read(MAX_LOG_BYTES + 1)
    else:
        path = Path(source)
        try:
            info = path.stat()
        except OSError as exc:
            raise UserError(f"cannot read {source}: {exc.strerror or exc}") from exc
        if not path.is_file():
            raise UserError(f"{source} is not a regular file")
        if info.st_size > MAX_LOG_BYTES:
            raise UserError(f"{source} is over {MAX_LOG_BYTES // (1024 * 1024)} MB; give me the recent part of it")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > MAX_LOG_BYTES:
        raise UserError(f"the log is over {MAX_LOG_BYTES // (1024 * 1024)} MB; give me the recent part of it")
    return data.decode("utf-8", errors="replace")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, 50)
    lines, problems = parse_log(_read(args.file))
    for number, why in problems:
        print(f"moodtape: line {number}: {why}, skipped", file=sys.stderr)
    if not lines:
        raise UserError(f"no `name: message` lines to read in {'stdin' if args.file == '-' else args.file}")
    counted = lines[-MAX_READINGS:]  # the window keeps no more; reading older lines would be wasted work
    async with engine_for(settings) as engine:
        readings = await engine.read_moods([line.text for line in counted])
        window = RoomMoods(max_rooms=1)
        now = (len(lines) - 1) * LINE_SECONDS
        first = len(lines) - len(counted)
        for offset, (line, reading) in enumerate(zip(counted, readings)):
            window.note("log", line.name, reading, at=(first + offset) * LINE_SECONDS)
        mood = window.mood("log", now=now)
        if mood is None:
            raise UserError("there was nothing to read in those lines (no words the models could read)")
        chat = await engine.songs_for_reading(mood.reading, k, args.strategy)
    result = RoomResult(chat=chat, room=mood)
    if args.json:
        print_json(result.to_json())
    else:
        print(room_text(result))
    return 1 if problems else 0


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def room_text(result: RoomResult) -> str:
    """The plain-text answer: who was read and how much each counted, the room's mood, the songs."""
    chat: ChatResult = result.chat
    mood = chat.mood
    shares = ", ".join(f"{name} {share:.0%}" for name, share in result.room.shares.items())
    read = f"{_count(result.room.people, 'person', 'people')} in {_count(result.room.messages, 'line', 'lines')}"
    point = f"(valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})"
    lines = [
        f"I read {read}; each one's weight: {shares}",
        f"The room feels {describe(mood.valence, mood.arousal)}: {mood_summary(mood)}  {point}",
    ]
    if not chat.tracks:
        lines.append("I have no songs with a mood yet" + catalogue_note(chat.catalogue) + ".")
        return "\n".join(lines)
    lines.append(f"{ROOM_HEADINGS[chat.strategy]}{catalogue_note(chat.catalogue)}:")
    lines.append(tracks_block(chat.tracks))
    return "\n".join(lines)
