"""What a database location names: a PostgreSQL server (a `postgresql://` URL) or a SQLite file.

Kept apart from both stores so the choice can be made without importing either driver.
"""

from __future__ import annotations

import re

__all__ = ["is_postgres_url", "redact"]


def is_postgres_url(location: object) -> bool:
    """Whether `location` names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """`url` without its password, for messages and `store.path`."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
