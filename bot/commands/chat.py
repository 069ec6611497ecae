"""`moodtape chat`: tell it how you feel, get songs (one-shot with TEXT, interactive without)."""

from __future__ import annotations

import argparse
import logging
import sys

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.render import chat_text
from moodtape.bot.shared.errors import user_message
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.mood.space import STRATEGIES, STRATEGY_HELP

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
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, 50)
    async with engine_for(settings) as engine:
        if args.text:
            result = await engine.chat(" ".join(args.text), k, args.strategy)
            if args.json:
                print_json(result.to_json())
            else:
                print(chat_text(result))
            return 0
        return await interactive(engine, k, args.strategy, args.json)


def tolerant_console() -> None:
    """Undecodable stdin bytes become U+FFFD and unprintable output is escaped, so one line never ends a chat.

    Python reads a UTF-8 terminal strictly: a single Latin-1 byte would raise `UnicodeDecodeError` out of
    `input()`.  Streams that are not text files (a test's StringIO) are left as they are.
    """
    for stream, errors in ((sys.stdin, "replace"), (sys.stdout, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)


async def interactive(engine: Engine, k: int | None, strategy: str, as_json: bool) -> int:
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
            result = await engine.chat(text, k, strategy)
        except Exception as exc:  # one bad message never ends the chat; a bug is logged under a reference id
            reply = user_message(exc, log, "chat message", traceback=False)
            print(f"sorry: {exc}" if reply.user_error else reply.text)
            continue
        if as_json:
            print_json(result.to_json())
        else:
            print(chat_text(result) + "\n")
