"""Storage: one SQLite file (with sqlite-vec) behind the async `Store`, or a PostgreSQL + pgvector server
behind `db.pg.PgStore` with the same methods (`open_store` picks by location); imports neither core nor bot.

Modules by concern: `connection` (open, WAL, migrations, transactions), `tracks`, `vectors`, `playlists`
(with feedback), `jobs` (queue and leases), `meta` (keys, user prefs, backups); what a reply reads of its
songs' moods: `mood_card` (a copy on each track's row) and `vec0_details` (whole details); `models` holds the
plain records that cross the boundary and `errors` db's one error, `StoreError`.
"""

from moodtape.db.errors import StoreError
from moodtape.db.models import (
    VECTOR_DIMS,
    Job,
    Neighbor,
    NewTrack,
    SourceKind,
    StoredVector,
    Track,
    TrackStatus,
)
from moodtape.db.open import AnyStore, open_store
from moodtape.db.store import Store

__all__ = [
    "AnyStore",
    "VECTOR_DIMS",
    "Job",
    "Neighbor",
    "NewTrack",
    "SourceKind",
    "Store",
    "StoreError",
    "StoredVector",
    "Track",
    "TrackStatus",
    "open_store",
]
