"""Keyed reads on the event loop's thread (`Database._fetch_keyed`) and mood details read from sqlite-vec's
shadow table (`db.vec0_details`): both are shortcuts, so each must answer exactly what the long way answers,
see what a reply must see (committed writes of any connection, this process's open transaction), and step
aside whenever it cannot (a busy file, many keys, `:memory:`, an unknown table layout)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodtape.db import connection
from moodtape.db.connection import LOOP_READ_KEYS, SLOW_LOOP_READ_S
from moodtape.db.models import TRACK_COLUMNS, NewTrack, Track
from moodtape.db.store import Store
from moodtape.db.vec0_details import shadow_layout_ok


@pytest.fixture(autouse=True)
def _no_pause_from_a_busy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count which thread read: a read slowed past `SLOW_LOOP_READ_S` by a loaded machine would
    pause loop reads and move the count, so the threshold is out of reach here (the pause's own test sets
    the delay it needs above it)."""
    monkeypatch.setattr(connection, "SLOW_LOOP_READ_S", 10.0)


class CountingReader:
    """The store's reader, counting the statements it ran and on which thread; `fail` makes it busy."""

    def __init__(self, reader: Any, error: type[Exception]) -> None:
        self.reader, self.error = reader, error
        self.threads: list[int] = []
        self.fail = False
        self.delay_s = 0.0
        self.faults = 0
        self.faults_per_slow_read = 1

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise self.error("database is locked")
        if self.delay_s:  # slow: waiting for the disk (`faults` counts it, as the kernel would) or the CPU
            time.sleep(self.delay_s)
            self.faults += self.faults_per_slow_read
        return self.reader.execute(sql, params)

    def close(self) -> None:
        self.reader.close()


async def _store_with_counting_reader(path: Path) -> tuple[Store, CountingReader]:
    store = await Store.open(path)
    assert store._reader is not None  # a file database gets its loop-thread reader
    counting = CountingReader(store._reader, store.driver.module.OperationalError)
    store._reader = counting
    return store, counting


async def _add(store: Store, i: int) -> int:
    tid, _ = await store.add_track(NewTrack(title=f"song {i}", source_kind="file", content_hash=f"h{i}"))
    return tid


def test_track_columns_are_the_dataclass_fields_in_order() -> None:
    """`Track.from_columns` reads rows by position: the SELECT list and the fields must agree."""
    assert [c.strip() for c in TRACK_COLUMNS.split(",")] == list(Track.__dataclass_fields__)


async def test_keyed_reads_run_on_the_loop_thread_and_see_every_committed_write(tmp_path: Path) -> None:
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    other = await Store.open(tmp_path / "a.db")  # another connection (a worker process, say)
    try:
        first = await _add(store, 1)
        assert (await store.get_track(first)).title == "song 1"
        assert reader.threads and set(reader.threads) == {threading.get_ident()}
        second = await _add(other, 2)  # committed by the other connection: seen at once
        assert (await store.get_track(second)).title == "song 2"
        assert sorted(await store.get_tracks([first, second, 999])) == [first, second]
        await other.set_status(second, "failed", "no audio")
        assert (await store.get_track(second)).status == "failed"
    finally:
        await other.close()
        await store.close()
    assert store._reader is None  # closed with the store


async def test_inside_a_transaction_reads_see_its_uncommitted_rows(tmp_path: Path) -> None:
    """The reader cannot see the writer's open transaction: while one is open, reads take the writer's way."""
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as conn:
                await conn.execute("INSERT INTO tracks (id, title, source_kind) VALUES (77, 'inside', 'file')")
                before = len(reader.threads)
                assert (await store.get_track(77)).title == "inside"
                assert len(reader.threads) == before  # not through the reader
                raise RuntimeError("roll back")
        assert await store.get_track(77) is None  # rolled back, and the reader answers again
    finally:
        await store.close()


async def test_a_busy_reader_or_many_keys_go_through_aiosqlite(tmp_path: Path) -> None:
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    try:
        ids = [await _add(store, i) for i in range(LOOP_READ_KEYS + 8)]
        reader.fail = True  # e.g. a checkpoint holding the file: the answer comes the long way, unchanged
        assert (await store.get_track(ids[0])).title == "song 0"
        reader.fail = False
        before = len(reader.threads)
        assert sorted(await store.get_tracks(ids)) == sorted(ids)  # more keys than a loop read may look up
        assert len(reader.threads) == before
        assert len(await store.get_tracks(ids[:3])) == 3 and len(reader.threads) == before + 1
    finally:
        await store.close()


async def test_a_read_that_waited_for_the_disk_sends_the_next_ones_to_aiosqlite_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A cold file makes a loop-thread read wait for the disk, holding every chat meanwhile: after one slow
    read the others go the long way (same answers) until the pause ends, and the log says why."""
    monkeypatch.setattr(connection, "LOOP_READ_PAUSE_S", 0.5)
    monkeypatch.setattr(connection, "SLOW_LOOP_READ_S", SLOW_LOOP_READ_S)
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    monkeypatch.setattr(connection, "disk_waits", lambda: reader.faults)  # the thread's major faults, faked
    try:
        ids = [await _add(store, i) for i in range(3)]
        reader.delay_s = SLOW_LOOP_READ_S * 2
        with caplog.at_level("INFO", logger="moodtape.db.connection"):
            assert (await store.get_track(ids[0])).title == "song 0"  # the slow read still answers
        assert "for the disk on the event loop" in caplog.text
        reader.delay_s = 0.0
        before = len(reader.threads)
        assert (await store.get_track(ids[1])).title == "song 1"
        assert sorted(await store.get_tracks(ids)) == sorted(ids)
        assert len(reader.threads) == before  # paused: aiosqlite's thread answered both
        await asyncio.sleep(0.6)
        assert (await store.get_track(ids[2])).title == "song 2"
        assert reader.threads[before:] == [threading.get_ident()]  # the pause is over: the loop reads again
    finally:
        await store.close()


async def test_a_read_slowed_by_a_busy_cpu_alone_keeps_the_loop_reads(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the OS counts a thread's disk waits, a slow read that made none (the CPU was busy elsewhere)
    does not pause loop reads: the worker thread would wait for the CPU too.  Where it does not count them,
    a slow read is taken for a disk wait."""
    monkeypatch.setattr(connection, "SLOW_LOOP_READ_S", SLOW_LOOP_READ_S)
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    try:
        ids = [await _add(store, i) for i in range(2)]
        reader.delay_s, reader.faults_per_slow_read = SLOW_LOOP_READ_S * 2, 0
        monkeypatch.setattr(connection, "disk_waits", lambda: reader.faults)
        assert (await store.get_track(ids[0])).title == "song 0"
        assert store.loop_read_pauses == 0
        monkeypatch.setattr(connection, "disk_waits", lambda: None)
        assert (await store.get_track(ids[1])).title == "song 1"
        assert store.loop_read_pauses == 1
    finally:
        await store.close()


async def test_disk_waits_are_counted_from_a_recent_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The count a slow read is compared with is at most `WAITS_BASELINE_S` old: a disk wait of the loop's
    thread before that (a model file read at start-up, say) does not make a CPU-slowed read pause; one within
    it is taken for the read's own (the documented price of not counting before every read)."""
    monkeypatch.setattr(connection, "SLOW_LOOP_READ_S", SLOW_LOOP_READ_S)
    monkeypatch.setattr(connection, "WAITS_BASELINE_S", 0.05)
    store, reader = await _store_with_counting_reader(tmp_path / "a.db")
    monkeypatch.setattr(connection, "disk_waits", lambda: reader.faults)
    try:
        ids = [await _add(store, i) for i in range(2)]
        assert (await store.get_track(ids[0])).title == "song 0"  # fast: takes the baseline
        reader.faults += 3  # the thread waited for the disk elsewhere
        await asyncio.sleep(0.1)
        reader.delay_s, reader.faults_per_slow_read = SLOW_LOOP_READ_S * 2, 0  # slow, but on the CPU
        assert (await store.get_track(ids[1])).title == "song 1"
        assert store.loop_read_pauses == 0
        reader.faults += 1
        assert (await store.get_track(ids[0])).title == "song 0"  # a wait just before: taken for this read's
        assert store.loop_read_pauses == 1
    finally:
        await store.close()


def test_disk_waits_are_counted_per_thread_where_the_os_can() -> None:
    waits = connection.disk_waits()
    if sys.platform.startswith("linux"):
        assert isinstance(waits, int) and waits >= 0
    else:
        assert waits is None or waits >= 0


async def test_an_in_memory_database_has_no_second_reader() -> None:
    """A second connection to `:memory:` would see another, empty database."""
    async with await Store.open(":memory:") as store:
        assert store._reader is None
        tid = await _add(store, 1)
        assert (await store.get_track(tid)).title == "song 1"


async def _mood_catalogue(path: Path, n: int) -> Store:
    store = await Store.open(path, ann_min_tracks=n)
    store.ann.poll_s = 0.0
    rng = np.random.default_rng(3)
    for i in range(1, n + 1):
        await store.add_track(NewTrack(id=i, title=f"song {i}", source_kind="file", content_hash=f"h{i}"))
    await store.put_vectors("mood", ((i, rng.uniform(-1, 1, 2)) for i in range(1, n + 1)), "m1")
    for i in range(1, n + 1, 7):  # details on some rows only, as tracks analysed before tags have none
        await store.put_vector("mood", i, rng.uniform(-1, 1, 2), "m1", {"top_tags": [f"tag{i}"]})
    await store.knn("mood", [0.0, 0.0], 1)
    assert await store.ann.wait("mood") == "ready"
    return store


async def test_details_from_the_shadow_table_are_vec0s(tmp_path: Path) -> None:
    """The fast read of a reply's songs gives what vec0 and the plain table reads give, after updates and
    deletes too, for songs with and without stored details."""
    store = await _mood_catalogue(tmp_path / "a.db", 300)
    plain = await Store.open(tmp_path / "a.db", ann_min_tracks=10**9)  # no index: tracks, then table rows
    try:
        ids = [1, 8, 15, 2, 299, 300, 1000]  # tagged, untagged, and an id with no track

        async def all_three() -> tuple[Any, Any, Any]:
            store._details_from_shadow = True
            fast = await store.tracks_with_moods(ids)
            store._details_from_shadow = False
            return fast, await store.tracks_with_moods(ids), await plain.tracks_with_moods(ids)

        fast, through_vec0, reference = await all_three()
        assert fast == through_vec0 == reference and sorted(fast[0]) == [1, 2, 8, 15, 299, 300]
        assert sorted(fast[1]) == [1, 2, 8, 15, 299, 300]
        assert fast[1][8].details == {"top_tags": ["tag8"]} and fast[1][2].details == {}

        await store.put_vector("mood", 8, [0.5, 0.5], "m1", {"top_tags": ["changed"]})
        await store.set_status(15, "failed", "gone")  # loses its vectors
        fast, through_vec0, reference = await all_three()
        assert fast == through_vec0 == reference
        assert fast[1][8].details == {"top_tags": ["changed"]} and 15 not in fast[1] and 15 in fast[0]
        store._details_from_shadow = None
        await store.tracks_with_moods(ids)
        assert store._details_from_shadow is True  # the layout of this sqlite-vec checked out
    finally:
        await plain.close()
        await store.close()


async def test_an_unknown_shadow_layout_is_not_read(tmp_path: Path) -> None:
    """The check looks at the table's columns and at one row against vec0's own answer."""
    async with await Store.open(tmp_path / "a.db") as store:
        assert await shadow_layout_ok(store._fetchall) is True  # empty: the columns alone
        await store.add_track(NewTrack(id=5, title="five", source_kind="file", content_hash="h5"))
        await store.put_vector("mood", 5, [0.1, 0.2], "m1", {"top_tags": ["x"]})
        assert await shadow_layout_ok(store._fetchall) is True

        async def renamed(sql: str, params: Any = ()) -> list[Any]:
            rows = await store._fetchall(sql, params)
            return [(r[0], "value_0" if r[1] == "value00" else r[1]) for r in rows] if "table_info" in sql else rows

        async def disagreeing(sql: str, params: Any = ()) -> list[Any]:
            rows = await store._fetchall(sql, params)
            return [(r[0], "{}") for r in rows] if sql.startswith("SELECT rowid, value00") else rows

        assert await shadow_layout_ok(renamed) is False
        assert await shadow_layout_ok(disagreeing) is False
