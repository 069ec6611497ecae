"""The PostgreSQL + pgvector store (`PgStore`), for a catalogue shared by processes on several hosts.

Imported only when a `postgresql://` URL is configured (`db.open_store`), so SQLite users never load the
PostgreSQL driver.
"""

from moodtape.db.locations import is_postgres_url, redact
from moodtape.db.pg.connection import DEFAULT_EF_SEARCH
from moodtape.db.pg.store import PgStore

__all__ = ["DEFAULT_EF_SEARCH", "PgStore", "is_postgres_url", "redact"]
