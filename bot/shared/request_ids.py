"""The id of the request being answered, for log lines and apologies.

Each front end starts a request with `start_request` (the Telegram handlers through `ops.metrics.observe`,
Discord's command tree in its `interaction_check`); it lives in a context variable, so every log line written
while answering (also in worker threads started with `asyncio.to_thread`, which copies the context) carries it
in `--log-format json`, and an apology names the same id.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar, Token

__all__ = ["current_request", "end_request", "new_reference", "request_of", "start_request", "tag_request"]

_ATTRIBUTE = "moodtape_request_id"

_REQUEST: ContextVar[str | None] = ContextVar("moodtape_request_id", default=None)


def new_reference() -> str:
    """A short id that ties an apology to its log line (8 hex digits: unique enough per deployment-day)."""
    return secrets.token_hex(4)


def start_request() -> Token[str | None]:
    """Give the current context a fresh request id; `end_request(token)` restores the previous one."""
    return _REQUEST.set(new_reference())


def end_request(token: Token[str | None]) -> None:
    _REQUEST.reset(token)


def current_request() -> str | None:
    return _REQUEST.get()


def tag_request(exc: BaseException) -> None:
    """Remember the current request's id on `exc`, for an error handler that runs outside the request."""
    request = current_request()
    if request is not None and getattr(exc, _ATTRIBUTE, None) is None:
        try:
            setattr(exc, _ATTRIBUTE, request)
        except AttributeError:  # an exception type without a __dict__: the apology gets a fresh id
            pass


def request_of(exc: BaseException) -> str | None:
    """The id of the request `exc` ended, or of the request being answered now."""
    return getattr(exc, _ATTRIBUTE, None) or current_request()
