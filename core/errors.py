"""One error root for everything a person can be told about.

Every error Moodtape raises on purpose is a `MoodtapeError`: `str(error)` is one friendly sentence for the
person, and `transient` says whether trying again later may succeed (the scheduler retries those with
backoff; the others fail the item at once, with the reason).  Each front end (CLI, Telegram, Discord)
translates errors to text in exactly one place: a `MoodtapeError` is shown as is; any other exception is a
bug, logged with its traceback under a reference id, and the person gets a short apology naming that id.

The subclasses say *what kind* of problem it is, which is all a front end or the scheduler needs to know;
the modules that raise them add their own narrower classes (`AudioError`, `NetError`, ...) under these.
"""

from __future__ import annotations

__all__ = [
    "MoodtapeError",
    "UserError",
    "QueryError",
    "NotAllowed",
    "SettingsError",
    "StorageError",
]


class MoodtapeError(Exception):
    """Root of the errors a person is told about; `transient` marks those worth retrying later."""

    transient: bool = False

    def __init__(self, message: str = "", *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient

    @property
    def message(self) -> str:
        """The user-facing sentence (the same as `str(error)`)."""
        return str(self)


class UserError(MoodtapeError):
    """Bad input, unknown track, refused link, unusable file: the message is shown to the user."""


class QueryError(UserError):
    """A query that matches nothing usable."""


class NotAllowed(UserError):
    """The user lacks the rights for this action (e.g. /add without being an admin)."""


class SettingsError(UserError):
    """A setting that cannot work on this machine (an unknown device, CUDA without a GPU, ...)."""


class StorageError(MoodtapeError):
    """The database cannot be opened or prepared (missing file, a folder in its place, no vector extension)."""

