"""`moodtape db copy`: SQLite -> PostgreSQL and back, everything kept (ids too), idempotent, counts reported."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moodtape.bot.cli import main
from moodtape.core.results import top_tags_of
from moodtape.db.models import NewTrack
from moodtape.db.pg.store import PgStore
from moodtape.db.store import Store


def _unit(seed: int, dim: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return x / np.linalg.norm(x)


async def _fill(store: Store) -> None:
    ids = []
    for i in range(6):
        tid, _ = await store.add_track(NewTrack(title=f"Song {i}", artist="A", source_kind="file",
                                                content_hash=f"h{i}", source=f"/m/{i}.mp3", duration_s=30.5 + i))
        await store.mark_ready(tid, {"audio": (_unit(i, 128), "audio-v1" if i < 4 else "audio-v2"),
                                     "mood": ([0.1 * i, -0.2], "mood-v1")},
                               details={"mood": {"gems": {"calm": 0.1 * i},
                                                 "top_tags": [f"tag{i}", "piano"]}})
        ids.append(tid)
    demo, _ = await store.add_track(NewTrack(title="Catalogue", source_kind="catalogue", external_id="deezer:9",
                                             status="metadata_only", id=1_000_000))
    await store.set_status(ids[5], "failed", "file vanished", count_attempt=True)
    await store.put_vectors("cf", [(tid, _unit(100 + tid, 64)) for tid in [*ids, demo]], "cf-v1")
    await store.add_playlists_bulk([("mix", "mpd", "1", "a mix", [ids[0], demo, ids[1]]),
                                    ("other", "mpd", "2", None, [ids[2]])])
    await store.add_feedback(ids[0], "tg:1", 1, {"mood": "calm"})
    await store.add_feedback(demo, "dc:2", -1)
    job = await store.enqueue_job("embed")
    assert job is not None
    await store.claim_job(["embed"], "host/ns/1/x")
    await store.finish_job(job)
    await store.enqueue_job("backup")
    await store.set_meta("cf_signature", "abc")
    await store.set_pref("tg:1", "strategy", "lift")


async def _everything(store: Any) -> dict[str, Any]:
    """All a user could notice, read through the public methods both stores share."""
    vectors = {kind: {tid: (np.round(v.vector, 6).tolist(), v.model_version, v.details)
                      for tid, v in (await store.get_vectors(kind)).items()} for kind in ("audio", "cf", "mood")}
    query = _unit(2, 128)
    tracks = await store.list_tracks()
    _, shown = await store.tracks_with_moods([t.id for t in tracks], tags_only=True)  # what replies show
    return {
        "tracks": tracks,
        "reply_moods": {tid: (np.round(m.vector, 6).tolist(), m.model_version, top_tags_of(m))
                        for tid, m in shown.items()},
        "vectors": vectors,
        "pairs": await store.playlist_pairs(),
        "feedback": await store.feedback(),
        "jobs": await store.jobs(),
        "meta": await store.get_meta("cf_signature"),
        "pref": await store.get_pref("tg:1", "strategy"),
        "knn": [h.track_id for h in await store.knn("audio", query, 3, model_version="audio-v1")],
        "stats": {k: v for k, v in (await store.stats()).items() if k not in ("ann", "schema_version")},
    }


def _copy(capsys: pytest.CaptureFixture[str], source: str, target: str) -> tuple[int, dict[str, Any]]:
    code = main(["db", "copy", "--from", source, "--to", target, "--json"])
    return code, json.loads(capsys.readouterr().out)


async def _filled(path: Path) -> dict[str, Any]:
    source = await Store.open(path)
    try:
        await _fill(source)
        return await _everything(source)
    finally:
        await source.close()


async def _check_postgres(url: str, want: dict[str, Any]) -> None:
    pg = await PgStore.open(url)
    try:
        assert await _everything(pg) == want
        new, _ = await pg.add_track(NewTrack(title="after", source_kind="file", content_hash="new"))
        assert new == 1_000_001  # the id sequence moved past the copied ids
    finally:
        await pg.close()


async def _read(path: Path) -> dict[str, Any]:
    store = await Store.open(path)
    try:
        return await _everything(store)
    finally:
        await store.close()


def test_copy_to_postgres_and_back_keeps_everything(tmp_path: Path, pg_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source_path = tmp_path / "source.db"
    want = asyncio.run(_filled(source_path))

    code, report = _copy(capsys, f"sqlite:{source_path}", pg_url)
    assert code == 0 and report["matches"] and report["to"].startswith("postgresql://")
    tables = report["tables"]
    assert tables["tracks"] == {"source": 7, "target_before": 0, "target_after": 7}
    assert tables["vec_audio"]["target_after"] == 5 and tables["vec_cf"]["target_after"] == 7
    assert tables["playlist_tracks"]["target_after"] == 4 and tables["jobs"]["target_after"] == 2

    code, again = _copy(capsys, f"sqlite:{source_path}", pg_url)  # idempotent: nothing added twice
    assert code == 0 and again["matches"]
    assert all(t["target_before"] == t["source"] == t["target_after"] for t in again["tables"].values())

    asyncio.run(_check_postgres(pg_url, want))

    back = tmp_path / "back.db"
    code, report = _copy(capsys, pg_url, f"sqlite:{back}")
    assert code == 0 and report["matches"] and report["tables"]["tracks"]["target_after"] == 8
    got = asyncio.run(_read(back))
    assert got["tracks"][:-1] == want["tracks"] and got["tracks"][-1].title == "after"
    same = ("vectors", "reply_moods", "pairs", "feedback", "jobs", "meta", "pref", "knn")
    assert {k: got[k] for k in same} == {k: want[k] for k in same}
    assert got["reply_moods"][1][2] == ("tag0", "piano")


def test_a_target_with_other_tracks_is_refused_and_extra_rows_are_reported(
        tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def prepare() -> None:
        source = await Store.open(tmp_path / "a.db")
        await source.add_track(NewTrack(title="a", source_kind="file", content_hash="a"))
        await source.close()
        pg = await PgStore.open(pg_url)
        await pg.add_track(NewTrack(title="z", source_kind="file", content_hash="z"))
        await pg.close()

    async def titles() -> list[str]:
        pg = await PgStore.open(pg_url)
        try:
            return [t.title for t in await pg.list_tracks()]
        finally:
            await pg.close()

    asyncio.run(prepare())
    assert main(["db", "copy", "--from", f"sqlite:{tmp_path / 'a.db'}", "--to", pg_url]) == 2
    assert "already holds a different track #1" in capsys.readouterr().err
    assert asyncio.run(titles()) == ["z"]  # nothing was written

    # A target that holds the copied rows plus its own: the copy works, and the counts tell.
    back = tmp_path / "back.db"
    assert _copy(capsys, pg_url, f"sqlite:{back}")[0] == 0

    async def extra() -> None:
        store = await Store.open(back)
        await store.add_track(NewTrack(title="only here", source_kind="file", content_hash="x"))
        await store.close()

    asyncio.run(extra())
    code, report = _copy(capsys, pg_url, f"sqlite:{back}")
    assert code == 1 and not report["matches"] and report["tables"]["tracks"] == {
        "source": 1, "target_before": 2, "target_after": 2}
    assert main(["db", "copy", "--from", f"sqlite:{tmp_path / 'missing.db'}", "--to", pg_url]) == 2
    assert "does not exist" in capsys.readouterr().err
