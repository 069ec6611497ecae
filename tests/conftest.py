"""Shared fixtures: isolated settings and databases, the committed audio fixtures, an engine."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The cache (the emotion models' exported ONNX graphs) is the session's own, not the developer's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="moodtape-test-cache-")
# Tests never read the developer's environment or .env (except a PostgreSQL server named for the tests).
_PG_TEST_URL = os.environ.get("MOODTAPE_TEST_DATABASE_URL")
for _name in [n for n in os.environ if n.startswith("MOODTAPE_")]:
    del os.environ[_name]

from moodtape.core.config import Settings  # noqa: E402
from moodtape.core.engine import Engine  # noqa: E402
from moodtape.db.pg.store import PgStore  # noqa: E402
from moodtape.db.store import Store  # noqa: E402

from tests.pg_server import PgServer, start_server  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
AUDIO = FIXTURES / "audio"
GOOD_AUDIO = ["pad_a.wav", "pad_a.flac", "pad_a.mp3", "pad_a.ogg", "pad_a.opus", "pad_a.m4a", "pad_b.mp3",
              "beat_a.ogg", "beat_b.mp3"]


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path / "data", "db": tmp_path / "data" / "moodtape.db"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """A writable copy of the audio fixtures (good and broken files)."""
    target = tmp_path / "music"
    shutil.copytree(AUDIO, target)
    return target


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    try:
        yield opened
    finally:
        await opened.close()


#: Either store: what the tests that run on both backends take.
AnyStore = Store | PgStore


@pytest.fixture(params=["sqlite", "postgres"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    """A fresh, empty store of each backend (PostgreSQL: a new database on the suite's server).

    Modules whose tests all run on both take it as their `store`: `store = any_store` after the imports.
    """
    if request.param == "sqlite":
        opened: AnyStore = await Store.open(tmp_path / "store.db")
    else:
        opened = await PgStore.open(request.getfixturevalue("pg_url"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL + pgvector server for the session: MOODTAPE_TEST_DATABASE_URL, or pgserver's (started
    on first use, stopped at the end; about 2 s)."""
    server = start_server(_PG_TEST_URL)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """An empty database with Moodtape's schema on the test server (emptied for each test)."""
    return pg_server.emptied_database()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[Engine]:
    opened = await Engine.open(settings)
    try:
        yield opened
    finally:
        await opened.close()
