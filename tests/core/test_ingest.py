"""Adding files and folders: tags, dedupe by content, broken files reported and kept as failed."""

from __future__ import annotations

from pathlib import Path

from moodtape.core.engine import Engine
from moodtape.core.pipeline.ingest import collect_files
from tests.conftest import GOOD_AUDIO


def test_collect_walks_folders_and_skips_non_audio(audio_dir: Path) -> None:
    (audio_dir / "sub").mkdir()
    (audio_dir / "pad_b.mp3").rename(audio_dir / "sub" / "pad_b.mp3")
    (audio_dir / ".hidden.mp3").write_bytes(b"x")
    files, skipped, missing = collect_files([audio_dir, audio_dir / "nope.mp3"])
    names = sorted(f.name for f in files)
    assert "pad_b.mp3" in names and ".hidden.mp3" not in names
    assert any(s.endswith("notes.txt") for s in skipped)
    assert missing == [(str(audio_dir / "nope.mp3"), "no such file or folder")]


async def test_folder_with_broken_files_ingests_the_good_ones(engine: Engine, audio_dir: Path) -> None:
    report, embedded = await engine.add_files([audio_dir])
    assert embedded is not None
    added_names = sorted(Path(p).name for _, p in report.added)
    assert added_names == sorted(GOOD_AUDIO + ["corrupt.mp3", "truncated.flac"])
    assert [Path(p).name for p, _ in report.failed] == ["empty.mp3"]
    failed_at_embed = {Path(label).name if "/" in label else label: reason for _, label, reason in embedded.failed}
    assert len(embedded.ready) == len(GOOD_AUDIO)
    assert len(embedded.failed) == 2 and all(failed_at_embed.values())
    stats = await engine.store.stats()
    assert stats["tracks"]["ready"] == len(GOOD_AUDIO) and stats["tracks"]["failed"] == 3
    corrupt = [t for t in await engine.store.list_tracks(status="failed") if t.source.endswith("corrupt.mp3")][0]
    assert "not an audio file" in (corrupt.error or "")


async def test_re_adding_adds_nothing(engine: Engine, audio_dir: Path) -> None:
    await engine.add_files([audio_dir / "pad_a.mp3", audio_dir / "beat_a.ogg"])
    before = await engine.store.stats()
    copy = audio_dir / "copy_of_pad.mp3"
    copy.write_bytes((audio_dir / "pad_a.mp3").read_bytes())
    report, embedded = await engine.add_files([audio_dir / "pad_a.mp3", copy])
    assert report.added == [] and len(report.duplicates) == 2
    assert embedded is not None and embedded.ready == []
    assert await engine.store.stats() == before


async def test_no_embed_leaves_pending_then_embed_pending(engine: Engine, audio_dir: Path) -> None:
    report, embedded = await engine.add_files([audio_dir / "pad_b.mp3"], embed=False)
    assert embedded is None and len(report.added) == 1
    track = await engine.store.get_track(report.added[0][0])
    assert track is not None and track.status == "pending"
    assert track.title == "pad b"  # no tags: the file name, underscores as spaces
    done = await engine.embed_pending()
    assert done.ready == [track.id]
    assert (await engine.store.get_vector("mood", track.id)) is not None


async def test_re_adding_finishes_what_no_embed_left_pending(engine: Engine, audio_dir: Path) -> None:
    """Issue 13, item 1: `add --no-embed` then `add` again ends with every good file ready, exactly once."""
    first, embedded = await engine.add_files([audio_dir], embed=False)
    assert embedded is None and first.resumed == []
    report, embedded = await engine.add_files([audio_dir])
    assert report.added == [] and len(report.duplicates) == len(GOOD_AUDIO) + 2
    assert sorted(report.resumed) == sorted(tid for tid, _ in first.added)
    assert embedded is not None and len(embedded.ready) == len(GOOD_AUDIO)
    stats = await engine.store.stats()
    assert stats["tracks"]["ready"] == len(GOOD_AUDIO) and stats["tracks"]["pending"] == 0
    again, embedded = await engine.add_files([audio_dir])
    assert again.resumed == [] and embedded is not None and embedded.ready == []
    assert await engine.store.stats() == stats


async def test_re_adding_one_file_resumes_only_that_file(engine: Engine, audio_dir: Path) -> None:
    """Pending tracks the command was not given stay for `embed` or the scheduler."""
    await engine.add_files([audio_dir / "pad_b.mp3", audio_dir / "beat_a.ogg"], embed=False)
    report, embedded = await engine.add_files([audio_dir / "pad_b.mp3"])
    assert len(report.resumed) == 1 and embedded is not None and embedded.ready == report.resumed
    assert (await engine.store.stats())["tracks"]["pending"] == 1
