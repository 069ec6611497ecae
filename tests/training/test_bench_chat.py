"""`moodtape bench chat` on a tiny synthetic catalogue: real replies with songs, the documented keys, a cached
catalogue reused and a changed one rebuilt."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from moodtape.db.store import Store
from moodtape.training.bench_chat import build_catalogue


async def test_the_catalogue_is_built_once_and_rebuilt_when_its_parameters_change(tmp_path: Path) -> None:
    path = tmp_path / "bench.db"
    first = await build_catalogue(path, 300, seed=1)
    assert first["reused"] is False and first["tracks"] == 300
    async with await Store.open(path) as store:
        assert await store.count_tracks("ready") == 300
        audio = await store.vector_versions("audio")
        assert audio == {first["audio_version"]: 300}
        mood = await store.get_vector("mood", 7)
        assert mood is not None and -1 <= mood.vector[0] <= 1 and mood.details["description"]
        assert set(mood.details) >= {"gems", "top_gems", "mood", "description"}
    assert (await build_catalogue(path, 300, seed=1))["reused"] is True
    again = await build_catalogue(path, 120, seed=1)
    assert again["reused"] is False
    async with await Store.open(path) as store:
        assert await store.count_tracks() == 120


def test_bench_chat_times_real_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "bench.db"
    code = main(["bench", "chat", "--tracks", "400", "--messages", "6", "--queries", "5", "--strategy", "all",
                 "--db", str(db), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["catalogue"]["tracks"] == 400 and out["catalogue"]["db"] == str(db)
    chat, similar = out["chat"], out["similar"]
    assert chat["n"] == 6 and similar["n"] == 5
    assert chat["replies_with_songs"] == 6 and similar["replies_with_songs"] == 5
    for part in (chat, similar):
        assert 0 < part["p50_ms"] <= part["p99_ms"] <= part["max_ms"]
        assert part["replies_per_s"] > 0
    assert set(chat["breakdown"]) == {"reading", "search", "render"}
    assert set(similar["breakdown"]) == {"search", "render"}
    for part in (*chat["breakdown"].values(), *similar["breakdown"].values()):
        assert 0 < part["p50_ms"] <= part["p99_ms"] <= max(chat["max_ms"], similar["max_ms"])
    assert not (tmp_path / "data" / "moodtape.db").exists()  # the user's database is not touched
    assert similar["recall_at_10"] == 1.0 and "library_alone" not in similar  # the exact scan answered
    assert 0 < similar["store_reads_alone"]["p50_ms"] <= similar["store_reads_alone"]["p99_ms"]
    assert out["catalogue"]["read_into_page_cache_s"] >= 0  # the file was read once before the timings
    for part in (chat, similar):  # how often keyed reads left the loop's thread (a count, not a timing check)
        assert isinstance(part["loop_read_pauses"], int) and part["loop_read_pauses"] >= 0


def test_bench_chat_compares_similar_with_the_index_library_alone(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the index threshold `similar` is timed beside usearch alone on the same vectors, at the breadth
    it searches with, and its neighbours are checked against vec0's exact scan."""
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    code = main(["bench", "chat", "--tracks", "600", "--messages", "2", "--queries", "8", "--recall-queries", "6",
                 "--ann-min-tracks", "100", "--db", str(tmp_path / "bench.db"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ann"]["in_play"] is True
    similar = out["similar"]
    assert similar["replies_with_songs"] == 8 and similar["recall_queries"] == 6
    assert similar["recall_at_10"] >= 0.9  # 600 vectors: the graph search is as good as exact
    alone = similar["library_alone"]
    assert 0 < alone["p50_ms"] <= alone["p99_ms"] and alone["breadth"] == 128
    assert similar["ratio_to_library_p50"] == pytest.approx(similar["p50_ms"] / alone["p50_ms"], rel=0.01)
    reads = similar["store_reads_alone"]  # the store's part of a reply, for the split of the overhead
    assert 0 < reads["p50_ms"] <= reads["p99_ms"]
    assert similar["store_reads_ratio_to_library_p50"] == pytest.approx(reads["p50_ms"] / alone["p50_ms"], rel=0.01)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="dropping a file from the page cache needs Linux")
def test_bench_chat_cold_reports_the_loop_lag_while_similar_reads_a_dropped_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`--cold`: the catalogue file leaves the page cache before `similar` is timed, and the event loop's lag
    meanwhile is reported (what a disk read on the loop's thread would cost every other chat)."""
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    code = main(["bench", "chat", "--tracks", "300", "--messages", "2", "--queries", "30", "--recall-queries", "2",
                 "--cold", "--db", str(tmp_path / "bench.db"), "--json"])
    assert code == 0
    similar = json.loads(capsys.readouterr().out)["similar"]
    assert similar["cold_file"] is True and similar["replies_with_songs"] == 30
    lag = similar["loop_lag"]
    assert lag["samples"] > 0 and lag["period_ms"] == 10.0
    assert 0 <= lag["p50_ms"] <= lag["p99_ms"] <= lag["max_ms"]


def test_bench_chat_cold_says_clearly_where_the_page_cache_cannot_be_dropped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODTAPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delattr(os, "posix_fadvise", raising=False)  # as on macOS and Windows
    code = main(["bench", "chat", "--tracks", "50", "--messages", "1", "--queries", "2", "--recall-queries", "1",
                 "--cold", "--db", str(tmp_path / "bench.db")])
    captured = capsys.readouterr()
    assert code != 0 and "--cold needs posix_fadvise" in captured.err
    assert "Traceback" not in captured.err
