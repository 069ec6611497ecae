"""`open_store`: the one door to a database, SQLite file or PostgreSQL server, chosen by its location.

A `postgresql://` (or `postgres://`) URL opens the PostgreSQL + pgvector store (`db.pg.PgStore`, loaded
only then, so SQLite users never import the PostgreSQL driver); anything else is a SQLite file path (or
`:memory:`) for `db.Store`.  Both offer the same methods with the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Union

from moodtape.db.ann import DEFAULT_MIN_TRACKS
from moodtape.db.errors import StoreError
from moodtape.db.locations import is_postgres_url
from moodtape.db.store import Store

if TYPE_CHECKING:
    from moodtape.db.pg.store import PgStore

__all__ = ["AnyStore", "open_store"]

#: Either store; callers use only the methods both have.
AnyStore = Union[Store, "PgStore"]


async def open_store(location: Path | str, *, create: bool = True, ann_min_tracks: int = DEFAULT_MIN_TRACKS,
                     pool_size: int = 8, ef_search: int | None = None) -> AnyStore:
    """Open the store `location` names: a `postgresql://` URL or a SQLite file.

    `create` and `ann_min_tracks` concern SQLite files (a server database must exist; pgvector's HNSW
    indexes need no threshold); `pool_size` (the most connections one store opens) and `ef_search` (HNSW
    candidates per search, default `db.pg.DEFAULT_EF_SEARCH`) concern PostgreSQL.
    """
    if is_postgres_url(location):
        try:
            from moodtape.db.pg.store import PgStore  # psycopg: only for PostgreSQL
        except ImportError as exc:
            raise StoreError(f"a PostgreSQL database needs the driver: pip install 'moodtape[postgres]' ({exc})") from exc

        if ef_search is None:
            return await PgStore.open(str(location), pool_size=pool_size)
        return await PgStore.open(str(location), pool_size=pool_size, ef_search=ef_search)
    return await Store.open(location, create=create, ann_min_tracks=ann_min_tracks)
