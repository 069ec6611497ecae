"""`similar` by a track id: the query's row is read after the search, with its neighbours' (`QueryRow`).

That shortcut must answer exactly what the general way answers, reasons included (they compare the query's
album and artist, which only that late read brings), on the exact scan and through the HNSW index, and
must say the same thing the general way says when the id names no ready track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodtape.core.engine import Engine
from moodtape.core.errors import QueryError
from moodtape.db.models import NewTrack
from tests.conftest import make_settings


def _vector(rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    v = centre + 0.05 * rng.standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


async def _catalogue(engine: Engine) -> dict[str, int]:
    """Forty ready songs in two sound clusters (the first by one band, tagged "rock"; the second by forty
    artists), and one track of each status that has no vectors."""
    store, rng = engine.store, np.random.default_rng(7)
    centres = rng.standard_normal((2, 128)).astype(np.float32)
    ids: dict[str, int] = {}
    for i in range(40):
        artist = "Same Band" if i % 2 == 0 else f"Artist {i}"
        tid, _ = await store.add_track(NewTrack(title=f"song {i}", artist=artist, album=f"Album {i}",
                                                source_kind="file", content_hash=f"h{i}"))
        await store.mark_ready(tid, {"audio": (_vector(rng, centres[i % 2]), "a1"),
                                     "mood": ([0.1 * (i % 10) - 0.5, 0.3], "m1")},
                               details={"mood": {"top_tags": ["piano", "mellow"] if i % 2 else ["rock"]}})
        ids[f"song {i}"] = tid
    for status in ("pending", "failed", "metadata_only"):
        tid, _ = await store.add_track(NewTrack(title=f"{status} song", source_kind="file",
                                                content_hash=status))
        if status != "pending":
            await store.set_status(tid, status, "decode error" if status == "failed" else None)
        ids[status] = tid
    return ids


@pytest.mark.parametrize("ann_min_tracks", [10**9, 10], ids=["exact scan", "hnsw index"])
async def test_by_id_answers_what_the_title_answers(tmp_path: Path, ann_min_tracks: int) -> None:
    settings = make_settings(tmp_path, demo="never", ann_min_tracks=ann_min_tracks)
    async with await Engine.open(settings) as engine:
        ids = await _catalogue(engine)
        if ann_min_tracks == 10:
            await engine.store.knn("audio", _vector(np.random.default_rng(1), np.ones(128, np.float32)), 1)
            assert await engine.store.ann.wait("audio") == "ready"
        by_id = await engine.similar(str(ids["song 0"]), 6)
        by_title = await engine.similar("Same Band - song 0", 6)
        assert by_id.query.track == by_title.query.track and by_id.query.track.title == "song 0"
        assert by_id.query.catalogue == "database" and by_id.query.text == str(ids["song 0"])
        assert by_id.tracks == by_title.tracks and len(by_id.tracks) == 6
        assert ids["song 0"] not in [t.id for t in by_id.tracks]
        # the query's artist comes with the late read; the tags and points with the neighbours' cards
        assert all(t.reason.startswith("same artist; sounds alike: rock (similarity") for t in by_id.tracks)
        assert all(t.tags == ("rock",) and t.valence is not None for t in by_id.tracks)


@pytest.mark.parametrize(("name", "message"), [
    ("pending", "is waiting to be embedded"),
    ("failed", r"could not be embedded \(decode error\)"),
    ("metadata_only", r"has no audio \(metadata only\)"),
])
async def test_by_id_of_a_track_without_vectors_says_why(tmp_path: Path, name: str, message: str) -> None:
    async with await Engine.open(make_settings(tmp_path, demo="never")) as engine:
        ids = await _catalogue(engine)
        with pytest.raises(QueryError, match=message):
            await engine.similar(f"#{ids[name]}", 5)
        with pytest.raises(QueryError, match=r"there is no track #99999 in the catalogue"):
            await engine.similar("99999", 5)
