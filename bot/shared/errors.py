"""Errors -> what a person reads, in one place for every front end.

A `MoodtapeError` carries its own user-facing sentence and is shown as is.  Anything else is a bug: it is
logged with its traceback under a short reference id, and the person gets an apology that names the id, so
an operator can find the log line from a user's screenshot.  The CLI, the Telegram bot and the Discord bot
all call `user_message`, so the three never disagree about what is shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from moodtape.bot.shared.request_ids import new_reference, request_of
from moodtape.core.errors import MoodtapeError

__all__ = ["APOLOGY", "STALE_BUTTON", "Reply", "new_reference", "user_message"]

APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
#: The answer to a button press whose data we do not (or no longer) make: an older version's, or forged.
STALE_BUTTON = "This button no longer works."


@dataclass(frozen=True)
class Reply:
    """What to show for an error: the text, and whether it was the person's error (else ours)."""

    text: str
    user_error: bool
    reference: str | None = None


def user_message(
    exc: BaseException, log: logging.Logger, context: str = "request", *, traceback: bool = True
) -> Reply:
    """The reply for `exc`; internal errors are logged here (with the traceback unless told not to)."""
    if isinstance(exc, MoodtapeError):
        return Reply(str(exc) or "That did not work.", True)
    reference = request_of(exc) or new_reference()  # the request's own id: its other log lines have it too
    log.error("%s failed (ref %s): %s: %s", context, reference, type(exc).__name__, exc,
              exc_info=exc if traceback else None, extra={"request": reference})
    return Reply(f"{APOLOGY} (ref {reference})", False, reference)
