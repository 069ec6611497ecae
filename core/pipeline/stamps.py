"""UTC time stamps as the database keeps them (`meta` values, `next_attempt_at`, job times).

One text form, second precision and sortable, so SQL can compare a stamp with `strftime('now')` and Python
can compare two stamps as strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(STAMP_FORMAT)


def now_stamp(after_s: float = 0.0) -> str:
    """Now (or `after_s` seconds from now) as a stamp."""
    return stamp(datetime.now(timezone.utc) + timedelta(seconds=after_s))


def hours_since(value: str | None) -> float:
    """Hours since a stamp kept in `meta`; infinite when there is none or it cannot be read (so: due)."""
    if value is None:
        return float("inf")
    try:
        then = datetime.strptime(value, STAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return float("inf")
    return (datetime.now(timezone.utc) - then) / timedelta(hours=1)
