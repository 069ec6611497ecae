"""`moodtape`: the command-line front end.

Each command module registers its sub-parser and a handler `(args, settings) -> exit code` (sync or async).
Exit status: 0 when everything asked for was done; 1 when some items failed (a file that is not audio, a
link whose download failed, a row of an import that was skipped: the others are still done, each failure is
named on stderr); 2 for a usage error or a refusal (`MoodtapeError`: one line on stderr, nothing done).
Anything else is a bug: it is logged under a reference id (with its traceback when run with -v), the apology
names the id, and the exit code is 1.  `--json` output goes to stdout alone; progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from moodtape.bot.commands import COMMAND_MODULES
from moodtape.core.config import load_settings
from moodtape.bot.shared.errors import user_message
from moodtape.core.errors import MoodtapeError

log = logging.getLogger("moodtape")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moodtape",
        description="Music recommendations for how you feel: mood chat, songs like a song, and the bots.",
        epilog="Settings come from MOODTAPE_* environment variables and .env; `moodtape config` lists them.",
    )
    parser.add_argument("--db", metavar="PATH", help="database file (env MOODTAPE_DB)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="json: one JSON object per log line, with the request id an apology shows")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _configure_logging(verbosity: int, log_format: str = "text") -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if log_format == "json":
        from moodtape.bot.shared.log_format import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for noisy in ("httpx", "numba", "urllib3", "filelock", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.log_format)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        # An explicit --db names a SQLite file for this command, even where MOODTAPE_DATABASE_URL is set.
        settings = load_settings(db=args.db, **({"database_url": ""} if args.db else {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        print(f"moodtape: bad setting: {problems}", file=sys.stderr)
        return 2
    try:
        result = args.handler(args, settings)
        if inspect.isawaitable(result):
            result = asyncio.run(result)
        return int(result or 0)
    except MoodtapeError as exc:
        if args.verbose:
            log.exception("command failed")
        print(f"moodtape: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `moodtape stats --json | head`: the reader left, which is not our error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except Exception as exc:  # a bug: logged under a reference id, the person gets the apology
        reply = user_message(exc, log, f"moodtape {args.command}", traceback=bool(args.verbose))
        hint = "" if args.verbose else " Run with -v for the details."
        print(f"moodtape: {reply.text}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
