"""The mood card on each track's row (`db.mood_card`): what a `similar` reply reads of its songs' moods
instead of sqlite-vec.  It is a copy, so it must never disagree with `vec_mood` after any write, delete or
upgrade, on either backend's answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.results import top_tags_of
from moodtape.db import migrate
from moodtape.db.connect import connector, pick_driver
from moodtape.db.models import NewTrack
from moodtape.db.mood_card import TAG_SEPARATOR
from moodtape.db.store import Store

from tests.conftest import AnyStore, any_store

store = any_store


async def _both_reads(store: AnyStore, ids: list[int]) -> tuple[dict, dict, dict]:
    """(tracks, moods) of the card read, and the whole mood rows of the table read."""
    tracks, moods = await store.tracks_with_moods(ids, tags_only=True)
    return tracks, moods, await store.get_vectors("mood", ids)


def _assert_cards_agree(moods: dict, table: dict) -> None:
    assert sorted(moods) == sorted(table)
    for tid, mood in moods.items():
        assert mood.vector == table[tid].vector  # float32 as stored, not rounded
        assert mood.model_version == table[tid].model_version
        assert top_tags_of(mood) == top_tags_of(table[tid])


async def test_the_card_follows_every_write_of_a_mood_row(store: AnyStore) -> None:
    ids = [(await store.add_track(NewTrack(title=f"t{i}", source_kind="file", content_hash=f"h{i}")))[0]
           for i in range(5)]
    await store.mark_ready(ids[0], {"mood": ([0.123456789, -0.5], "m1")},
                           details={"mood": {"gems": {"power": 0.4}, "top_tags": ["piano", "sad"],
                                             "tags": {"piano": 0.9, "sad": 0.4, "loud": 0.1}}})
    await store.put_vector("mood", ids[1], [0.3, 0.1], "m1", {"gems": {"power": 0.2}})  # details, no tags
    await store.put_vectors("mood", [(ids[2], [-0.7, 0.7]), (ids[3], np.array([0.2, 0.2]))], "m2")
    tracks, moods, table = await _both_reads(store, ids + [999_999])
    assert sorted(tracks) == sorted(ids) and tracks[ids[4]].title == "t4"
    _assert_cards_agree(moods, table)
    assert ids[4] not in moods  # no mood row, no mood
    assert top_tags_of(moods[ids[0]]) == ("piano", "sad") and moods[ids[0]].model_version == "m1"
    assert top_tags_of(moods[ids[1]]) == ()
    array, version = await store.vector_array("mood", ids[2])  # the float32 row a search would start from
    assert array.dtype == np.float32 and array.tolist() == table[ids[2]].vector and version == "m2"
    assert await store.vector_array("mood", ids[4]) is None

    await store.put_vector("mood", ids[0], [0.9, 0.9], "m3", {"top_tags": ["rock"]})  # replaced
    await store.set_status(ids[1], "failed", "decode error")  # no longer ready: its mood row goes
    tracks, moods, table = await _both_reads(store, ids)
    _assert_cards_agree(moods, table)
    assert top_tags_of(moods[ids[0]]) == ("rock",) and moods[ids[0]].model_version == "m3"
    assert ids[1] not in moods and ids[1] in tracks


async def test_a_tag_holding_the_separator_reads_back_as_one_tag(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "a.db") as store:
        await store.add_track(NewTrack(id=1, title="one", source_kind="file", content_hash="h1"))
        await store.put_vector("mood", 1, [0.1, 0.2], "m1", {"top_tags": [f"odd{TAG_SEPARATOR}tag", "pop"]})
        _, moods = await store.tracks_with_moods([1], tags_only=True)
        assert top_tags_of(moods[1]) == ("odd tag", "pop")


async def test_an_older_database_gets_its_cards_from_vec_mood_on_upgrade(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Migration 0004 fills the cards of rows written before it, exactly as the writes would have; the log
    says why that first open takes longer."""
    path = tmp_path / "old.db"
    conn = connector(path, pick_driver(), isolation_level=None)()
    try:
        for migration in migrate.available()[:3]:
            conn.executescript(f"BEGIN;\n{migration.sql}\n"
                               f"PRAGMA user_version = {migration.version};\nCOMMIT;")
        for i in range(1, 6):
            conn.execute("INSERT INTO tracks (id, title, source_kind, content_hash, status) "
                         "VALUES (?, ?, 'file', ?, 'ready')", (i, f"t{i}", f"h{i}"))
        rows = [(1, [0.123456789, -0.987654321], '{"top_tags": ["piano", "sad"], "gems": {"power": 0.4}}'),
                (2, [0.5, 0.5], '{"gems": {"power": 0.2}}'),
                (3, [-0.25, 0.75], '{"top_tags": []}'),
                (4, [0.1, 0.1], '{"top_tags": "not a list"}')]
        for tid, point, details in rows:
            conn.execute("INSERT INTO vec_mood (track_id, embedding, model_version, details) "
                         "VALUES (?, ?, 'm1', ?)",
                         (tid, np.asarray(point, dtype=np.float32).tobytes(), details))
    finally:
        conn.close()
    with caplog.at_level("WARNING", logger="moodtape.db.migrate"):
        store = await Store.open(path)
    assert "upgrading the database schema from version 3" in caplog.text
    async with store:
        assert await store.schema_version() >= 4
        tracks, moods, table = await _both_reads(store, [1, 2, 3, 4, 5])
        assert sorted(tracks) == [1, 2, 3, 4, 5] and sorted(moods) == [1, 2, 3, 4]
        _assert_cards_agree(moods, table)
        assert moods[1].vector == pytest.approx([0.123456789, -0.987654321], abs=1e-7)
        assert top_tags_of(moods[1]) == ("piano", "sad") and top_tags_of(moods[4]) == ()
