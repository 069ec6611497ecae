"""Rendering music21's corpus for training: instruments per part, bounded synthesis, resumable labels."""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pytest

from moodtape.core.audio.decode import decode

music21 = pytest.importorskip("music21", reason="the `train` extra is not installed")

from moodtape.training.audio_render import PROGRAMS, assign_programs, corpus_scores, find_tools, render_corpus  # noqa: E402

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None or not any(
    Path(p).is_file() for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")),
    reason="apt-get install fluidsynth fluid-soundfont-gm")


def _two_part_score() -> object:
    from music21 import instrument, note, stream

    score = stream.Score()
    for pitch in ("C4", "E5"):
        part = stream.Part()
        part.insert(0, instrument.Piano())
        for _ in range(8):
            part.append(note.Note(pitch, quarterLength=1))
        score.insert(0, part)
    return score


def test_every_part_gets_one_instrument_from_the_palette() -> None:
    from music21 import instrument

    score = _two_part_score()
    programs = assign_programs(score, random.Random(3))
    assert len(programs) == 2 and all(p in PROGRAMS for p in programs)
    for part, program in zip(score.parts, programs):
        found = list(part.recurse().getElementsByClass(instrument.Instrument))
        assert [i.midiProgram for i in found] == [program]  # the piano is gone
    # instruments vary from piece to piece
    drawn = {tuple(assign_programs(_two_part_score(), random.Random(seed))) for seed in range(12)}
    assert len(drawn) > 6


def test_corpus_sample_is_seeded_and_capped_per_collection() -> None:
    first = corpus_scores(per_collection=3, seed=0)
    assert first == corpus_scores(per_collection=3, seed=0)
    collections = [c for c, _ in first]
    assert max(collections.count(c) for c in set(collections)) <= 3
    assert {"bach", "palestrina"} <= set(collections)


@needs_fluidsynth
def test_render_writes_audio_and_labels_and_resumes(tmp_path: Path) -> None:
    find_tools()
    labels = render_corpus(tmp_path, pieces=2, per_collection=2, seed=1, min_s=5.0, max_s=12.0, log=lambda _: None)
    with open(labels, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {"file", "collection", "programs", "seconds"} <= set(rows[0])
    for row in rows:
        audio = decode(tmp_path / row["file"])
        assert 5.0 <= audio.duration_s <= 12.5 and float(abs(audio.samples).max()) > 0.01
    stamps = {row["file"]: (tmp_path / row["file"]).stat().st_mtime_ns for row in rows}
    render_corpus(tmp_path, pieces=2, per_collection=2, seed=1, min_s=5.0, max_s=12.0, log=lambda _: None)
    assert {f: (tmp_path / f).stat().st_mtime_ns for f in stamps} == stamps  # nothing rendered twice
