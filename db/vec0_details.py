"""A mood row's details read from sqlite-vec's own storage of them, when its layout is the one we know.

vec0 keeps an auxiliary column (`+details TEXT`) in a plain shadow table, `vec_mood_auxiliary(rowid,
value00)`, whose rowid is the row's integer primary key (the track id).  Reading the details through the
virtual table costs ~40 us a row (vec0 also locates the row's chunk and its metadata); reading the shadow
table is a B-tree lookup, which took a reply's five songs from 0.33 to 0.11 ms on the 1M-track bench
catalogue.  `Vectors` reads every mood's whole details this way (`get_vectors` from a ready index, and
`Store.tracks_with_moods` for the mood reply; a `similar` reply's top tags come from `db.mood_card`).  The
layout is sqlite-vec's internal business, so it is checked once per connection (the table and its column
exist and agree with vec0's own answer for a row) and every read goes through the virtual table when the
check fails: a later sqlite-vec that stores auxiliary columns differently only loses speed.
"""

from __future__ import annotations

import functools
from typing import Any

from moodtape.db.models import TRACK_COLUMNS
from moodtape.db.sql import marks

__all__ = ["DETAILS_BY_ID", "SHADOW", "shadow_layout_ok", "tracks_with_details"]

#: sqlite-vec 0.1's shadow table of `vec_mood`'s auxiliary columns (the first one, `details`, is value00).
SHADOW = "vec_mood_auxiliary"

#: SELECT of tracks (columns spliced in) with their mood details, one of each form (shadow table or not).
_TRACKS_WITH_DETAILS = {
    True: "SELECT {columns}, {details} AS mood_details FROM tracks t "
          f"LEFT JOIN {SHADOW} a ON a.rowid = t.id WHERE t.id IN ({{marks}})",
    False: "SELECT {columns}, (SELECT {details} FROM vec_mood m WHERE m.track_id = t.id) AS mood_details "
           "FROM tracks t WHERE t.id IN ({marks})",
}
_DETAILS_COLUMN = {True: "a.value00", False: "m.details"}
#: TRACK_COLUMNS of `tracks t` (the statements join it).
_T_COLUMNS = ", ".join(f"t.{c.strip()}" for c in TRACK_COLUMNS.split(","))


@functools.lru_cache(maxsize=128)
def tracks_with_details(count: int, *, shadow: bool) -> str:
    """The statement reading `count` tracks (`TRACK_COLUMNS`) with their mood details as its last column,
    from the shadow table or (not `shadow`) through vec0; built once per form and size."""
    return _TRACKS_WITH_DETAILS[shadow].format(columns=_T_COLUMNS, details=_DETAILS_COLUMN[shadow],
                                               marks=marks(count))


#: (track id, details) of the ids in `{marks}`, straight from the shadow table (a plain table: `IN` is a lookup).
DETAILS_BY_ID = f"SELECT rowid, value00 FROM {SHADOW} WHERE rowid IN ({{marks}})"


async def shadow_layout_ok(fetchall: Any) -> bool:
    """Whether `vec_mood_auxiliary.value00` holds the details vec0 returns for the same track (checked on
    the shadow table's newest row; with no rows, on its columns alone); `fetchall(sql, params=())` runs a
    statement.  Both reads are by key: ordering vec0 itself by track id scans it (seconds at 1M rows)."""
    columns = [row[1] for row in await fetchall(f"PRAGMA table_info({SHADOW})")]
    if columns[:2] != ["rowid", "value00"]:
        return False
    rows = await fetchall(f"SELECT rowid, value00 FROM {SHADOW} ORDER BY rowid DESC LIMIT 1")
    if not rows:
        return True
    track_id, details = rows[0][0], rows[0][1]
    vec0 = await fetchall("SELECT details FROM vec_mood WHERE track_id = ?", (track_id,))
    return bool(vec0) and vec0[0][0] == details
