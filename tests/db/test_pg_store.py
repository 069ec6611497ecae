"""What only the PostgreSQL store has to show: opening by URL, its own migrations, notifications between
processes, pgvector's HNSW search with filters, ids after explicit ones, and backups that name pg_dump.

The behaviour both stores share is tested on both in tests/db/test_store.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import psycopg
import pytest

from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.db import open_store
from moodtape.db.models import NewTrack
from moodtape.db.pg.store import PG_DUMP_ENV, PgStore
from moodtape.db.store import Store, StoreError
from tests.conftest import make_settings


async def test_open_store_picks_the_backend_by_location(pg_url: str, tmp_path: Path) -> None:
    pg = await open_store(pg_url)
    sqlite = await open_store(tmp_path / "m.db")
    try:
        assert isinstance(pg, PgStore) and isinstance(sqlite, Store)
        assert pg.notifies_work and not sqlite.notifies_work
        assert await pg.schema_version() == 1
        row = await pg._fetchone("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert tuple(int(p) for p in row[0].split(".")[:2]) >= (0, 5)  # HNSW arrived in pgvector 0.5
        indexes = {r[0]: r[1] for r in await pg._fetchall(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'vec_%_hnsw'")}
        assert "vector_cosine_ops" in indexes["vec_audio_hnsw"] and "vector_cosine_ops" in indexes["vec_cf_hnsw"]
        assert "vector_l2_ops" in indexes["vec_mood_hnsw"]
    finally:
        await pg.close()
        await sqlite.close()


async def test_the_engine_opens_the_url_setting_and_keeps_db_for_sqlite(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=pg_url, demo="never")
    assert settings.database == pg_url and settings.db_path.name == "moodtape.db"
    async with await Engine.open(settings) as engine:
        assert isinstance(engine.store, PgStore)
        stats = await engine.stats()
        assert stats.database.startswith("postgresql://") and stats.database == settings.database_label
    plain = make_settings(tmp_path / "other")
    assert plain.database == plain.db_path
    with_password = Settings(_env_file=None, database_url="postgresql://bot:s3cret@db.example/moodtape")  # type: ignore[call-arg]
    assert "s3cret" not in with_password.database_label and "s3cret" not in repr(with_password)


async def test_a_server_that_cannot_be_reached_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await PgStore.open("postgresql://moodtape:hunter2@127.0.0.1:9/none?connect_timeout=1", connect_timeout_s=0.5)
    assert "hunter2" not in str(caught.value)


async def test_a_newer_schema_is_refused(pg_server) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.fresh_database()  # its own: the shared test database must stay at this version
    await (await PgStore.open(url)).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE moodtape_schema SET version = 99")
    with pytest.raises(StoreError, match="newer than this Moodtape"):
        await PgStore.open(url)


async def test_migrations_apply_once_when_processes_start_together(pg_server) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.fresh_database()
    stores = await asyncio.gather(*(PgStore.open(url, pool_size=1) for _ in range(3)))
    try:
        assert [await s.schema_version() for s in stores] == [1, 1, 1]
    finally:
        for s in stores:
            await s.close()


async def test_work_queued_elsewhere_wakes_a_waiting_store(pg_url: str) -> None:
    worker, bot = await PgStore.open(pg_url), await PgStore.open(pg_url)
    try:
        assert await worker.wait_for_work(0.2) is False  # nothing queued: the timeout answers
        waiting = asyncio.create_task(worker.wait_for_work(30))
        await asyncio.sleep(0.3)
        await bot.add_track(NewTrack(title="new", source_kind="url", external_id="deezer:1"))  # pending: /add
        assert await asyncio.wait_for(waiting, 10) is True
        waiting = asyncio.create_task(worker.wait_for_work(1.0))
        await asyncio.sleep(0.3)
        await worker.enqueue_job("embed")  # its own work: it knows already, no wake-up
        assert await waiting is False
        await bot.add_track(NewTrack(title="later", source_kind="url", external_id="deezer:2", status="metadata_only"))
        assert await worker.wait_for_work(0.5) is False  # not work for a worker
    finally:
        await worker.close()
        await bot.close()


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


async def test_hnsw_search_matches_the_exact_answer_and_filters_never_hide_rows(pg_url: str) -> None:
    """600 vectors: the index's answer is the exact one here; a rare model version and many exclusions
    (which pgvector 0.6 applies after the index scan) still get k rows, from the exact scan."""
    rng = np.random.default_rng(15)
    data = _unit(rng, 600, 128)
    store = await PgStore.open(pg_url)
    try:
        await store.put_vectors("audio", ((i + 1, v) for i, v in enumerate(data[:590])), "v1")
        await store.put_vectors("audio", ((i + 591, v) for i, v in enumerate(data[590:])), "rare")
        query = data[5] + 0.1 * _unit(rng, 1, 128)[0]
        exact = np.argsort(1 - data[:590] @ (query / np.linalg.norm(query)))[:10] + 1
        hits = await store.knn("audio", query, 10, model_version="v1")
        assert [h.track_id for h in hits] == exact.tolist()
        assert hits[0].distance == pytest.approx(float(1 - data[5] @ (query / np.linalg.norm(query))), abs=1e-5)
        rare = await store.knn("audio", query, 10, model_version="rare")
        assert sorted(h.track_id for h in rare) == list(range(591, 601))
        assert {h.model_version for h in rare} == {"rare"} and {h.model_version for h in hits} == {"v1"}
        many = await store.knn("audio", query, 5, model_version="v1", exclude=exact.tolist())
        assert len(many) == 5 and not {h.track_id for h in many} & set(exact.tolist())
        mood = await store.put_vectors("mood", [(1, [0.0, 0.0]), (2, [0.3, 0.4])], "m")
        assert mood == 2
        assert [round(h.distance, 6) for h in await store.knn("mood", [0.0, 0.0], 2)] == [0.0, 0.5]  # Euclidean
    finally:
        await store.close()


async def test_ids_continue_after_an_explicit_id(pg_url: str) -> None:
    store = await PgStore.open(pg_url)
    try:
        assert (await store.add_track(NewTrack(title="a", source_kind="file", content_hash="a")))[0] == 1
        assert (await store.add_track(NewTrack(title="d", source_kind="catalogue", external_id="d", id=500)))[0] == 500
        assert (await store.add_track(NewTrack(title="b", source_kind="file", content_hash="b")))[0] == 501
    finally:
        await store.close()


async def test_backups_name_pg_dump_when_it_is_missing(pg_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_DUMP_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    store = await PgStore.open(pg_url)
    try:
        with pytest.raises(StoreError, match="pg_dump"):
            await store.backup_to(tmp_path / "b.dump")
        assert not (tmp_path / "b.dump").exists()
    finally:
        await store.close()


def test_the_cli_uses_the_url_and_an_explicit_db_flag_wins(pg_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from moodtape.bot.cli import main

    monkeypatch.setenv("MOODTAPE_DATABASE_URL", pg_url)
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOODTAPE_DEMO", "never")
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["database"].startswith("postgresql://")
    assert main(["--db", str(tmp_path / "own.db"), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["database"] == str(tmp_path / "own.db")
