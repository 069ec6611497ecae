"""`moodtape run telegram|discord|all`: the chat bots, with the scheduler beside them, until SIGINT/SIGTERM.

Everything shares one event loop and one `Engine`: the bots only parse and render, the engine runs models in
worker threads, and the scheduler embeds what admins add.  A missing or refused token is a one-line error
(`UserError`), never a traceback; shutdown stops polling/the gateway first, then the scheduler (the batch in
flight finishes), then closes the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from bot.commands.common import engine_for
from core.config import Settings
from core.errors import UserError

log = logging.getLogger("moodtape.run")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run", help="run the Telegram and/or Discord bot (with the scheduler)",
        description="Tokens come from MOODTAPE_TELEGRAM_TOKEN and MOODTAPE_DISCORD_TOKEN (environment or .env). "
                    "Stop with Ctrl-C or SIGTERM.",
    )
    parser.add_argument("which", choices=["telegram", "discord", "all"])
    parser.add_argument("--no-scheduler", action="store_true",
                        help="do not embed pending tracks here (a separate `moodtape worker` does it)")
    parser.set_defaults(handler=run)


def _check_tokens(which: list[str], settings: Settings) -> None:
    """Fail before opening anything when a token is missing (Telegram/Discord check the value at login)."""
    missing = []
    if "telegram" in which and not (settings.telegram_token and settings.telegram_token.get_secret_value().strip()):
        missing.append("MOODTAPE_TELEGRAM_TOKEN (create a bot with @BotFather)")
    if "discord" in which and not (settings.discord_token and settings.discord_token.get_secret_value().strip()):
        missing.append("MOODTAPE_DISCORD_TOKEN (create a bot in the Discord Developer Portal)")
    if missing:
        raise UserError("missing token: set " + " and ".join(missing))


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - platforms without loop signal support
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


async def run(args: argparse.Namespace, settings: Settings) -> int:
    which = ["telegram", "discord"] if args.which == "all" else [args.which]
    _check_tokens(which, settings)
    # A long-running service should say what it does: INFO for its own loggers, whatever -v says.
    for name in ("core.jobs", "bot.telegram_app", "bot.discord_app", "moodtape.run"):
        logging.getLogger(name).setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    stop = asyncio.Event()
    _install_signal_handlers(stop)

    async with engine_for(settings) as engine:
        scheduler: Any = None
        telegram_app: Any = None
        tasks: list[asyncio.Task[Any]] = []
        try:
            if not args.no_scheduler:
                from core.jobs import start_scheduler

                scheduler = start_scheduler(engine)
            if "telegram" in which:
                from bot.telegram_app import build_application, start_telegram

                telegram_app = build_application(engine, settings)
                await start_telegram(telegram_app)
                mode = (f"webhook {settings.telegram_webhook_url} on "
                        f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
                        if settings.telegram_webhook_url else "long polling")
                print(f"telegram bot running ({mode})", file=sys.stderr, flush=True)
            if "discord" in which:
                from bot.discord_app import run_discord

                tasks.append(asyncio.create_task(run_discord(engine, settings), name="discord"))
                print("discord bot starting", file=sys.stderr, flush=True)
            waiter = asyncio.create_task(stop.wait(), name="stop")
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter:
                    task.result()  # re-raises a bot's UserError (e.g. refused token) for the CLI
                    raise UserError(f"the {task.get_name()} bot stopped unexpectedly")
            print("stopping…", file=sys.stderr, flush=True)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if telegram_app is not None:
                from bot.telegram_app import stop_telegram

                await stop_telegram(telegram_app)
            if scheduler is not None:
                await scheduler.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0
