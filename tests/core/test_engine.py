"""The engine end to end on real audio: demo fallback, similar by id/text/file, feedback."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodtape.core.engine import Engine
from moodtape.core.errors import QueryError, UserError
from tests.conftest import make_settings


async def test_empty_database_uses_the_demo_catalogue(engine: Engine) -> None:
    store, catalogue = await engine.catalogue()
    assert catalogue == "demo" and await store.count_tracks("ready") > 100
    result = await engine.similar("Battle for Wesnoth", 3)
    assert result.query.catalogue == "demo" and len(result.tracks) == 3
    assert all(t.source and t.source.startswith("https://packages.debian.org/") for t in result.tracks)
    assert await engine.store.count_tracks() == 0  # the user's database is untouched


async def test_own_music_replaces_the_demo(engine: Engine, audio_dir: Path) -> None:
    await engine.add_files([audio_dir / n for n in ("pad_a.wav", "pad_a.mp3", "pad_b.mp3", "beat_a.ogg",
                                                      "beat_b.mp3")])
    _, catalogue = await engine.catalogue()
    assert catalogue == "database"
    result = await engine.similar("pad a", 4)  # title words (no tags: titles come from file names)
    assert result.query.track.title == "pad a"
    top = [t.title for t in result.tracks]
    assert top[0] == "pad a"  # the other encoding of the same music first
    assert top.index("pad b") < top.index("beat a")
    assert "similarity" in result.tracks[0].reason


async def test_similar_by_id_and_by_unknown_file(engine: Engine, audio_dir: Path) -> None:
    report, _ = await engine.add_files([audio_dir / "beat_a.ogg", audio_dir / "pad_b.mp3"])
    beat_id = report.added[0][0]
    by_id = await engine.similar(f"#{beat_id}", 5)
    assert [t.id for t in by_id.tracks] != [] and beat_id not in [t.id for t in by_id.tracks]
    outside = await engine.similar(str(audio_dir / "beat_b.mp3"), 1, paths=True)
    assert outside.query.kind == "file" and outside.query.track is None
    assert outside.tracks[0].title == "beat a"
    assert await engine.store.count_tracks() == 2  # the query file was not added


async def test_known_file_is_recognised_by_content(engine: Engine, audio_dir: Path) -> None:
    await engine.add_files([audio_dir / "beat_a.ogg", audio_dir / "pad_b.mp3"])
    copy = audio_dir / "renamed.ogg"
    copy.write_bytes((audio_dir / "beat_a.ogg").read_bytes())
    result = await engine.similar(str(copy), paths=True)
    assert result.query.track.title == "beat a"
    assert "beat a" not in [t.title for t in result.tracks]


async def test_clear_errors(engine: Engine, audio_dir: Path) -> None:
    await engine.add_files([audio_dir / "pad_b.mp3"])
    with pytest.raises(QueryError, match="no track #999"):
        await engine.similar("999")
    with pytest.raises(QueryError, match="matches"):
        await engine.similar("zzz nothing like this")
    with pytest.raises(UserError, match="not an audio file"):
        await engine.similar(str(audio_dir / "notes.txt"), paths=True)
    with pytest.raises(QueryError):
        await engine.similar("   ")


async def test_chat_queries_never_open_server_files(engine: Engine, audio_dir: Path) -> None:
    """Without `paths=True` (only the CLI passes it) a path is just words to look up in the catalogue."""
    await engine.add_files([audio_dir / "pad_b.mp3"])
    with pytest.raises(QueryError, match="matches"):
        await engine.similar(str(audio_dir / "beat_b.mp3"))


async def test_metadata_only_track_cannot_be_compared_by_sound(tmp_path: Path) -> None:
    from tests.conftest import FIXTURES

    async with await Engine.open(make_settings(tmp_path, demo="never")) as engine:
        await engine.import_file(FIXTURES / "catalogue.csv")
        with pytest.raises(QueryError, match="no audio"):
            await engine.similar("Lonely Track")


async def test_feedback_on_demo_tracks_is_kept(engine: Engine) -> None:
    store, _ = await engine.catalogue()
    track = (await store.list_tracks(status="ready", limit=1))[0]
    await engine.feedback(track.id, "cli:me", 1, {"strategy": "match"})
    assert await store.feedback() == [(track.id, "cli:me", 1)]
    with pytest.raises(QueryError):
        await engine.feedback(987654, "cli:me", 1)


async def test_strategy_preference_persists(settings) -> None:  # type: ignore[no-untyped-def]
    async with await Engine.open(settings) as engine:
        assert await engine.strategy_for("tg:1") == "match"
        await engine.set_strategy("tg:1", "lift")
        with pytest.raises(UserError, match="unknown strategy"):
            await engine.set_strategy("tg:1", "party")
    async with await Engine.open(settings) as engine:
        assert await engine.strategy_for("tg:1") == "lift"
        assert await engine.strategy_for("dc:1") == "match"


@pytest.mark.parametrize("forged", [2**63, 10**30, 0, -1])
async def test_feedback_on_a_forged_track_id_is_a_clear_refusal(engine: Engine, forged: int) -> None:
    """Button data is the user's to forge: an id no row can have is 'no such track', never OverflowError."""
    with pytest.raises(QueryError, match="no such track"):
        await engine.feedback(forged, "tg:1", 1)
