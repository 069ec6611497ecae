"""Building and running the Telegram application (python-telegram-bot 22): token, Bot API server, updates.

Lifecycle for a runner that shares its event loop with other front ends (`moodtape run`)::

    app = build_application(engine, settings)   # UserError when no token is configured
    await start_telegram(app)                   # UserError when Telegram rejects the token
    ...                                         # until SIGINT/SIGTERM
    await stop_telegram(app)

Both wrap `serving(app)`, one `async with` block over PTB's own `async with application` (initialize and
shutdown) that starts receiving and handling updates inside it.

Updates arrive by long polling unless `MOODTAPE_TELEGRAM_WEBHOOK_URL` is set: then PTB's webhook server
listens on `MOODTAPE_TELEGRAM_WEBHOOK_LISTEN:PORT` (plain HTTP, behind the reverse proxy that terminates TLS
for the public URL), registers the URL with `setWebhook`, and accepts only POSTs that carry the secret token
given to Telegram (a random one per start unless configured), so nobody else can inject updates.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from moodtape.bot.shared.tokens import bot_token
from moodtape.bot.telegram.handlers import TelegramFrontEnd
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError

__all__ = ["build_application", "check_telegram", "serving", "start_telegram", "stop_telegram"]

log = logging.getLogger(__name__)

#: Updates handled at the same time; bounded so a flood cannot start unbounded model work.
CONCURRENT_UPDATES = 8
#: Where `start_telegram` keeps the open `serving` block for `stop_telegram`.
_SERVING = "moodtape_serving"


def api_urls(settings: Settings) -> tuple[str, str] | None:
    """(base_url, base_file_url) for a local Bot API server; PTB appends the token to both."""
    if not settings.telegram_api_url:
        return None
    root = settings.telegram_api_url.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def _startup_error(exc: TelegramError, settings: Settings) -> UserError:
    """One line for `moodtape run` instead of PTB's traceback; the token itself is never shown."""
    where = settings.telegram_api_url or "api.telegram.org"
    if isinstance(exc, InvalidToken):  # PTB's own message quotes the token: not ours to print
        return UserError(f"Telegram rejected the token in MOODTAPE_TELEGRAM_TOKEN (at {where}); "
                         "check it with @BotFather")
    detail = " ".join(exc.message.split())
    token = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if token:
        detail = detail.replace(token, "<token>")
    return UserError(f"cannot reach the Telegram Bot API at {where}: {detail}")


async def check_telegram(settings: Settings) -> str:
    """The bot's @username if the token works, else a one-line `UserError` (for `moodtape run`'s checks)."""
    urls = api_urls(settings)
    servers = {"base_url": urls[0], "base_file_url": urls[1]} if urls else {}
    bot = Bot(bot_token(settings, "telegram"), **servers)
    try:
        async with bot:
            return f"@{bot.username}"
    except TelegramError as exc:
        raise _startup_error(exc, settings) from exc


def build_application(engine: Engine, settings: Settings) -> Application:
    """The configured PTB application; a `UserError` when no token is set (Telegram checks it at start)."""
    frontend = TelegramFrontEnd(engine, settings)
    builder = (
        ApplicationBuilder()
        .token(bot_token(settings, "telegram"))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(frontend.post_init)
    )
    urls = api_urls(settings)
    if urls is not None:
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    application = builder.build()
    frontend.register(application)
    application.bot_data["frontend"] = frontend
    return application


def webhook_path(url: str) -> str:
    """The path PTB's webhook server answers on: the public URL's path (the proxy forwards it unchanged)."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise UserError(f"MOODTAPE_TELEGRAM_WEBHOOK_URL must be a full https:// URL, got {url!r}")
    if parsed.query or parsed.fragment:
        raise UserError("MOODTAPE_TELEGRAM_WEBHOOK_URL must not have a query or a fragment")
    return parsed.path.strip("/")


def webhook_secret(settings: Settings) -> str:
    """The secret token Telegram must send with each update: configured, or a fresh random one."""
    configured = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if not configured:
        return secrets.token_urlsafe(32)  # [A-Za-z0-9_-], as Telegram requires
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", configured):
        raise UserError("MOODTAPE_TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 of them)")
    return configured


def _polling_error(exc: TelegramError) -> None:
    """Network blips while polling are normal; PTB retries by itself."""
    log.warning("Telegram polling: %s", exc)


async def _start_updates(application: Application, settings: Settings, poll_timeout_s: float) -> None:
    """Long polling, or the webhook server + setWebhook; a clear `UserError` when either cannot start."""
    assert application.updater is not None
    wanted = [Update.MESSAGE, Update.CALLBACK_QUERY]
    url = settings.telegram_webhook_url
    if not url:
        await application.updater.start_polling(
            timeout=timedelta(seconds=poll_timeout_s), allowed_updates=wanted, error_callback=_polling_error,
        )
        return
    where = f"{settings.telegram_webhook_listen}:{settings.telegram_webhook_port}"
    try:
        await application.updater.start_webhook(
            listen=settings.telegram_webhook_listen, port=settings.telegram_webhook_port, url_path=webhook_path(url),
            webhook_url=url, secret_token=webhook_secret(settings), allowed_updates=wanted,
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {where} for the Telegram webhook: {exc.strerror or exc}") from exc
    except TelegramError as exc:
        if application.updater.running:
            await application.updater.stop()
        raise UserError(f"Telegram refused the webhook {url}: {' '.join(exc.message.split())}") from exc
    log.info("Telegram webhook: %s -> %s", url, where)


@asynccontextmanager
async def serving(application: Application, *, poll_timeout_s: float = 10.0) -> AsyncIterator[Application]:
    """Receive and handle updates while the block runs.

    On entry: initialise (checks the token with getMe), publish the commands, start polling or the webhook,
    start the handlers; each failure is a one-line `UserError`, with everything opened so far closed again.
    On exit: stop receiving, let running handlers finish, release the connections.  A webhook stays
    registered with Telegram, which queues updates until the next start.
    """
    settings: Settings = application.bot_data["frontend"].settings
    async with AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(application)
        except TelegramError as exc:
            await application.bot.shutdown()  # PTB leaves its HTTP clients open when getMe fails
            raise _startup_error(exc, settings) from exc
        if application.post_init is not None:
            await application.post_init(application)
        await _start_updates(application, settings, poll_timeout_s)
        await application.start()
        try:
            yield application
        finally:
            assert application.updater is not None
            if application.updater.running:
                await application.updater.stop()
            await application.stop()


async def start_telegram(application: Application, *, poll_timeout_s: float = 10.0) -> None:
    """Enter `serving(application)`; `stop_telegram` leaves it."""
    stack = AsyncExitStack()
    await stack.enter_async_context(serving(application, poll_timeout_s=poll_timeout_s))
    application.bot_data[_SERVING] = stack


async def stop_telegram(application: Application) -> None:
    """Leave what `start_telegram` entered (nothing to do after a failed start: it cleaned up itself)."""
    stack: AsyncExitStack | None = application.bot_data.pop(_SERVING, None)
    if stack is not None:
        await stack.aclose()
