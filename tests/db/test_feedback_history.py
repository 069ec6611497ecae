"""A person's vote history, the input of their taste profile and what /forget deletes, on both stores.

Each test runs on a SQLite file and on PostgreSQL + pgvector (tests/pg_server.py), so both answer alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moodtape.db.models import NewTrack
from moodtape.db.pg.store import PgStore

from tests.conftest import AnyStore, any_store

store = any_store  # every test in this module runs on a SQLite file and on PostgreSQL


async def _tracks(store: AnyStore, n: int) -> list[int]:
    return [(await store.add_track(NewTrack(title=f"t{i}", source_kind="file", content_hash=f"h{i}")))[0]
            for i in range(n)]


async def _set_time(store: AnyStore, track_id: int, user_ref: str, when: str) -> None:
    """Back-date a vote (the database stamps votes with its own clock)."""
    mark = "%s" if isinstance(store, PgStore) else "?"
    sql = f"UPDATE feedback SET created_at = {mark} WHERE track_id = {mark} AND user_ref = {mark}"
    async with store.transaction() as conn:
        await conn.execute(sql, (when, track_id, user_ref))


async def test_one_persons_votes_come_newest_first_with_their_times(store: AnyStore) -> None:
    a, b, c = await _tracks(store, 3)
    await store.add_feedback(a, "tg:1", -1, {"chat": 1})
    await store.add_feedback(b, "tg:1", 1, {"chat": 1})
    await store.add_feedback(c, "tg:2", -1, {"chat": 2})  # someone else's
    await _set_time(store, a, "tg:1", "2026-01-01T10:00:00Z")
    await _set_time(store, b, "tg:1", "2026-01-05T10:00:00Z")
    votes = await store.feedback_of("tg:1")
    assert votes == [(b, 1, "2026-01-05T10:00:00Z"), (a, -1, "2026-01-01T10:00:00Z")]
    assert await store.feedback_of("tg:1", limit=1) == [(b, 1, "2026-01-05T10:00:00Z")]
    assert await store.feedback_of("nobody") == []
    # a fresh vote carries the database's UTC time in the documented format
    (_, _, stamp), = await store.feedback_of("tg:2")
    when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 300


async def test_changing_a_vote_makes_it_the_newest(store: AnyStore) -> None:
    a, b = await _tracks(store, 2)
    await store.add_feedback(a, "tg:1", 1, {"m": 1})
    await store.add_feedback(b, "tg:1", 1, {"m": 2})
    await _set_time(store, a, "tg:1", "2020-01-01T00:00:00Z")
    await _set_time(store, b, "tg:1", "2021-01-01T00:00:00Z")
    await store.add_feedback(a, "tg:1", -1, {"m": 1})  # same answer, changed mind: updated, stamped now
    votes = await store.feedback_of("tg:1")
    assert [(t, v) for t, v, _ in votes] == [(a, -1), (b, 1)]


async def test_forget_deletes_only_that_persons_votes_and_counts_them(store: AnyStore) -> None:
    a, b, c = await _tracks(store, 3)
    await store.add_feedback(a, "tg:1", -1)
    await store.add_feedback(b, "tg:1", -1)
    await store.add_feedback(c, "tg:1", 1)
    await store.add_feedback(a, "dc:9", -1)
    assert await store.forget_feedback("tg:1") == (1, 2)
    assert await store.feedback_of("tg:1") == []
    assert [(t, v) for t, v, _ in await store.feedback_of("dc:9")] == [(a, -1)]
    assert sorted(await store.feedback()) == [(a, "dc:9", -1)]
    assert await store.forget_feedback("tg:1") == (0, 0)  # nothing left: says so, fails nothing
