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
from functools import partial
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
        ops: Any = None
        loading: asyncio.Task[None] | None = None
        tasks: list[asyncio.Task[Any]] = []
        try:
            health = None
            if settings.http_listen:
                from moodtape.bot.ops import HealthChecks, OpsServer

                health = HealthChecks(engine)
                ops = OpsServer(engine, health, settings.http_listen)
                await ops.start()
                print(f"serving /healthz and /metrics on {ops.host}:{ops.port}", file=sys.stderr, flush=True)
                loading = asyncio.create_task(_load_models(engine, health), name="model loading")
            if not args.no_scheduler:
                from moodtape.core.pipeline.scheduler import start_scheduler  # APScheduler: only when it runs

                scheduler = start_scheduler(engine.worker(), on_queued=engine.on_queued)
                if health is not None:
                    handle = scheduler
                    health.add("scheduler", lambda: (handle.scheduler.running and not handle.worker.stopping,
                                                     f"{handle.ticks} tick(s) run"))
            if "telegram" in which:
                from moodtape.bot.telegram import build_application, start_telegram

                telegram_app = build_application(engine, settings)
                await start_telegram(telegram_app)
                if health is not None:
                    health.add("telegram", partial(_telegram_health, telegram_app))
                mode = (f"webhook {settings.telegram_webhook_url} on "
                        f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
                        if settings.telegram_webhook_url else "long polling")
                print(f"telegram bot running ({mode})", file=sys.stderr, flush=True)
            if "discord" in which:
                from moodtape.bot.discord import run_discord

                checks = health
                on_bot = None if checks is None else (
                    lambda bot: checks.add("discord", partial(_discord_health, bot)))
                tasks.append(asyncio.create_task(run_discord(engine, settings, on_bot=on_bot), name="discord"))
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
            if loading is not None:
                loading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await loading
            if ops is not None:
                await ops.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0


async def _load_models(engine: Any, health: Any) -> None:
    """Load the emotion model in the background so /healthz can say when the service is ready; a model that
    cannot load makes it unhealthy with the reason (and the first message gets the usual clear error)."""
    try:
        await engine.load_models()
    except Exception as exc:  # reported by /healthz and logged; the bots keep running
        health.model_error = str(exc) or type(exc).__name__
        log.error("the emotion model could not be loaded: %s", health.model_error)


def _discord_health(bot: Any) -> tuple[bool, str]:
    connected = bool(bot.is_ready() and not bot.is_closed())
    return connected, "connected to the gateway" if connected else "not connected to the gateway"


def _telegram_health(application: Any) -> tuple[bool, str]:
    updater = application.updater
    receiving = bool(application.running and (updater is None or updater.running))
    return receiving, "receiving updates" if receiving else "not receiving updates"
