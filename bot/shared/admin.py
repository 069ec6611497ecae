"""The one refusal for people who may not add music, whichever chat they use.

Who counts as an admin is each chat's business (Telegram: configured user ids; Discord: Manage Server or a
role); what a refused person reads and which error carries it (`NotAllowed`) is decided here once.
"""

from __future__ import annotations

__all__ = ["require_admin"]

from moodtape.core.errors import NotAllowed


def require_admin(allowed: bool, admins: str) -> None:
    """Raise `NotAllowed` unless `allowed`; `admins` names who may, in the chat's own terms."""
    if not allowed:
        raise NotAllowed(f"only {admins} can add songs: ask one of them to add it for you.")
