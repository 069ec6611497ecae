"""`moodtape chat`: tell it how you feel, get songs (one-shot with TEXT, interactive without)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.commands.forget import add_user_option
from moodtape.bot.render import chat_text
from moodtape.bot.shared.errors import user_message
from moodtape.core.audio.decode import printable
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP
from moodtape.core.results import ChatResult

INTRO = (
    "Tell me how you feel and I'll pick songs. Commands: /strategy match|lift|calm|energize, /k N, /quit.\n"
)

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "chat", help="songs for how you feel (the mood chat)",
        description="Reads the mood of TEXT with the emotion model and answers with songs. Strategies: "
                    + "; ".join(f"{name}: {text}" for name, text in STRATEGY_HELP.items()) + ".",
    )
    parser.add_argument("text", nargs="*", help="how you feel (omit for an interactive chat)")
    add_k_option(parser, default=None, shown=5)
    parser.add_argument("--strategy", choices=STRATEGIES, default="match")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--picture", type=Path, metavar="FILE", default=None,
                        help="also draw the mood, the songs and the strategy's path as a PNG to FILE "
                             "(interactive: rewritten after each answer)")
    parser.add_argument("--voice", type=Path, metavar="FILE", default=None,
                        help="a voice note or clip instead of TEXT: speech is transcribed (English, Korean; needs "
                             "moodtape[voice]) and its mood read, music gets songs like it")
    parser.add_argument("--language", default=None, metavar="CODE",
                        help="with --voice: the language spoken (en or ko); default: try both, keep the surer")
    add_user_option(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, 50)
    if args.voice is not None:
        from moodtape.bot.commands.voice_chat import run_voice

        return await run_voice(args, settings, k, draw=write_picture)
    async with engine_for(settings) as engine:
        if args.text:
            result = await engine.chat(" ".join(args.text), k, args.strategy, user_ref=args.user)
            if args.picture is not None:
                await write_picture(result, args.picture)
            if args.json:
                print_json(result.to_json())
            else:
                print(chat_text(result))
            return 0
        return await interactive(engine, k, args.strategy, args.json, picture=args.picture, user_ref=args.user)


async def write_picture(result: ChatResult, path: Path) -> None:
    """The picture of the mood as a PNG at `path`; a file that cannot be written is a one-line `UserError`.

    Written before the answer is printed, so a refusal (exit 2) has printed nothing, as every refusal does.
    """
    from moodtape.bot.shared.picture import picture_png  # Pillow only when a picture is asked for

    data = await picture_png(result)
    try:
        await asyncio.to_thread(path.write_bytes, data)
    except OSError as exc:
        raise UserError(f"cannot write the picture to {printable(path)}: {exc.strerror or exc}") from exc
    print(f"picture of the mood: {printable(path)}", file=sys.stderr)


def tolerant_console() -> None:
    """Undecodable stdin bytes become U+FFFD and unprintable output is escaped, so one line never ends a chat.

    Python reads a UTF-8 terminal strictly: a single Latin-1 byte would raise `UnicodeDecodeError` out of
    `input()`.  Streams that are not text files (a test's StringIO) are left as they are.
    """
    for stream, errors in ((sys.stdin, "replace"), (sys.stdout, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)


async def interactive(engine: Engine, k: int | None, strategy: str, as_json: bool, *,
                      picture: Path | None = None, user_ref: str | None = None) -> int:
    tolerant_console()
    if sys.stdin.isatty():
        print(INTRO)
    while True:
        try:
            line = input("you> " if sys.stdin.isatty() else "")
        except EOFError:
            return 0
        except UnicodeDecodeError:  # a stream that could not be made tolerant: skip the line, keep chatting
            print("sorry: that line was not readable text")
            continue
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "/q"):
            return 0
        if text.startswith("/strategy"):
            choice = text.partition(" ")[2].strip()
            if choice in STRATEGIES:
                strategy = choice
                print(f"strategy: {strategy} ({STRATEGY_HELP[strategy]})")
            else:
                print(f"strategies: {', '.join(STRATEGIES)}")
            continue
        if text.startswith("/k"):
            value = text.partition(" ")[2].strip()
            if value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= 50:
                k = int(value)
                print(f"{k} songs per answer")
            else:
                print("usage: /k N (1-50)")
            continue
        try:
            result = await engine.chat(text, k, strategy, user_ref=user_ref)
            if picture is not None:
                await write_picture(result, picture)
        except Exception as exc:  # one bad message never ends the chat; a bug is logged under a reference id
            reply = user_message(exc, log, "chat message", traceback=False)
            print(f"sorry: {exc}" if reply.user_error else reply.text)
            continue
        if as_json:
            print_json(result.to_json())
        else:
            print(chat_text(result) + "\n")
