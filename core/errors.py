"""Errors a person can cause and should be told about in one friendly sentence.

Front ends show `str(error)` of a `UserError` as is; anything else is logged with its traceback and the
person gets an apology.  Keeping the distinction in one place is what lets every handler stay crash-proof.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input, unknown track, refused link, not allowed: the message is shown to the user."""


class QueryError(UserError):
    """A query that matches nothing usable."""


class NotAllowed(UserError):
    """The user lacks the rights for this action (e.g. /add without being an admin)."""
