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
import sys
from typing import TYPE_CHECKING, Any

from moodtape.bot.checks import check_tokens
from moodtape.bot.commands.common import engine_for, stop_on_signals
from moodtape.core.config import Settings
from moodtape.core.errors import UserError

if TYPE_CHECKING:  # the module itself is imported only when the scheduler runs (it loads APScheduler)
    from moodtape.core.pipeline.scheduler import SchedulerHandle

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


async def run(args: argparse.Namespace, settings: Settings) -> int:
    which = ["telegram", "discord"] if args.which == "all" else [args.which]
    await check_tokens(settings, which)  # each token asked of its service: one line for what is wrong
    # A long-running service should say what it does: INFO for its own loggers, whatever -v says.
    for name in ("moodtape.core.pipeline", "moodtape.bot.telegram", "moodtape.bot.discord", "moodtape.run"):
        logging.getLogger(name).setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    stop = stop_on_signals()

    async with engine_for(settings) as engine:
        scheduler: SchedulerHandle | None = None
        telegram_app: Any = None
        tasks: list[asyncio.Task[Any]] = []
        try:
            if not args.no_scheduler:
                from moodtape.core.pipeline.scheduler import start_scheduler  # APScheduler: only when it runs

                scheduler = start_scheduler(engine.worker(), on_queued=engine.on_queued)
            if "telegram" in which:
                from moodtape.bot.telegram import build_application, start_telegram

                telegram_app = build_application(engine, settings)
                await start_telegram(telegram_app)
                mode = (f"webhook {settings.telegram_webhook_url} on "
                        f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
                        if settings.telegram_webhook_url else "long polling")
                print(f"telegram bot running ({mode})", file=sys.stderr, flush=True)
            if "discord" in which:
                from moodtape.bot.discord import run_discord

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
                from moodtape.bot.telegram import stop_telegram

                await stop_telegram(telegram_app)
            if scheduler is not None:
                await scheduler.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0
