"""More, and more varied, training music: the `music21` package's score corpus rendered to audio.

Contrastive training learns most from many distinct recordings, and the game music and Emotify clips we
may train on number a few hundred.  music21 ships ~3,000 scores (Bach chorales, Palestrina masses, Irish
fiddle tunes, Monteverdi madrigals, Beethoven quartets, ...); FluidSynth renders them with a General MIDI
soundfont.  Each piece gets its own random instruments (General MIDI programs drawn per part from a wide
palette), so "same collection" never means "same instrument" and the encoder cannot learn a composer as a
timbre.  Rendering is a data-building step for `moodtape train audio --data DIR --labels DIR/labels.csv`;
it needs the `train` extra (music21) and the system packages fluidsynth and fluid-soundfont-gm (Debian
names), never at run time.

Collections are capped so that the thousand Palestrina movements do not drown the rest, and the order is
seeded, so a render is repeatable up to the soundfont and FluidSynth versions.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtape.core.errors import UserError

#: General MIDI programs (0-based) that sound like an instrument playing notes: pianos, chromatic
#: percussion, organs, guitars, basses, strings, ensembles, brass, reeds, pipes, synth leads and pads.
#: Sound effects (120-127), percussive kits and most "ethnic" drums are left out.
PROGRAMS: tuple[int, ...] = (
    *range(0, 8), 8, 9, 11, 12, 13, *range(16, 24), *range(24, 32), 32, 33, 35, 38, *range(40, 47), 48, 49, 50,
    52, 53, *range(56, 64), *range(64, 72), *range(72, 80), *range(80, 88), *range(88, 96), 104, 105, 106, 108,
)
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".abc")
SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))


@dataclass(frozen=True)
class RenderedPiece:
    file: str  # relative to the output folder
    collection: str  # music21 corpus folder: a composer (bach, palestrina) or a collection (ryansMammoth)
    source: str  # the score's path inside the corpus
    programs: str  # General MIDI programs, one per part, space-separated
    seconds: float


def find_tools() -> tuple[str, Path]:
    """(fluidsynth binary, soundfont); a clear error naming the Debian packages when one is missing."""
    binary = shutil.which("fluidsynth")
    font = next((f for f in SOUNDFONTS if f.is_file()), None)
    if binary is None or font is None:
        raise UserError("rendering needs FluidSynth and a General MIDI soundfont: "
                        "apt-get install fluidsynth fluid-soundfont-gm")
    return binary, font


def corpus_scores(per_collection: int, seed: int) -> list[tuple[str, Path]]:
    """(collection, score path) pairs: a seeded sample of at most `per_collection` scores per collection."""
    from music21 import corpus

    by_collection: dict[str, list[Path]] = {}
    for raw in corpus.getPaths():
        path = Path(raw)
        if path.suffix.lower() not in SCORE_SUFFIXES or "corpus" not in path.parts:
            continue
        collection = path.parts[path.parts.index("corpus") + 1]
        by_collection.setdefault(collection, []).append(path)
    rng = random.Random(seed)
    chosen = []
    for collection in sorted(by_collection):
        paths = sorted(by_collection[collection])
        rng.shuffle(paths)
        chosen += [(collection, p) for p in paths[:per_collection]]
    rng.shuffle(chosen)
    return chosen


def assign_programs(score: object, rng: random.Random) -> list[int]:
    """Give every part of `score` a random General MIDI program (in place); returns them in part order."""
    from music21 import instrument, stream

    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    programs = []
    for part in parts:
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        chosen = rng.choice(PROGRAMS)
        voice = instrument.Instrument()
        voice.midiProgram = chosen
        part.insert(0, voice)
        programs.append(chosen)
    return programs


def render_piece(score_path: Path, out_file: Path, *, rng: random.Random, fluidsynth: str, soundfont: Path,
                 min_s: float, max_s: float, sample_rate: int = 22050) -> tuple[list[int], float] | None:
    """Score -> MIDI with random instruments -> FluidSynth -> mono Ogg Vorbis of at most `max_s` seconds.

    Returns (programs, seconds), or None when the score does not parse, has no notes, or is shorter than
    `min_s` once rendered.
    """
    from music21 import converter, stream

    try:
        parsed = converter.parse(str(score_path))
    except Exception:  # music21 raises many kinds of errors on corpus files it cannot read
        return None
    if isinstance(parsed, stream.Opus):  # an ABC book: its first tune
        scores = list(parsed.scores)
        if not scores:
            return None
        parsed = scores[0]
    if not parsed.recurse().notes:
        return None
    programs = assign_programs(parsed, rng)
    with tempfile.TemporaryDirectory(prefix="moodtape-render-") as tmp:
        midi = Path(tmp) / "piece.mid"
        try:
            parsed.write("midi", fp=str(midi))
        except Exception:
            return None
        pcm = _synthesise(fluidsynth, soundfont, midi, max_s, sample_rate)
    samples = np.frombuffer(pcm[:len(pcm) // 4 * 4], dtype="<i2").reshape(-1, 2).mean(axis=1)
    loud = np.flatnonzero(np.abs(samples) > 30)  # about -60 dBFS: the end of the last note's tail
    seconds = (int(loud[-1]) + 1) / sample_rate if len(loud) else 0.0
    if seconds < min_s:
        return None
    from moodtape.core.audio.decode import ffmpeg_binary

    out_file.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_binary(None), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "s16le",
                    "-ar", str(sample_rate), "-ac", "2", "-i", "pipe:0", "-t", f"{seconds:.3f}",
                    "-af", f"afade=t=out:st={max(0.0, seconds - 2):.3f}:d=2", "-ac", "1", "-c:a", "libvorbis",
                    "-q:a", "4", str(out_file)], input=pcm, check=True, capture_output=True, timeout=300)
    return programs, round(seconds, 2)


def _synthesise(fluidsynth: str, soundfont: Path, midi: Path, max_s: float, sample_rate: int) -> bytes:
    """Raw 16-bit stereo PCM of the first `max_s` seconds of `midi`.

    FluidSynth's fast render never ends on some corpus files (a note that is never released keeps the
    synthesiser busy), so its output is read from a pipe and the process is stopped after `max_s` seconds.
    """
    wanted = int(max_s * sample_rate) * 4
    with subprocess.Popen([fluidsynth, "-ni", "-q", "-g", "0.7", "-r", str(sample_rate), "-T", "raw", "-O", "s16",
                           "-F", "/dev/stdout", str(soundfont), str(midi)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        chunks, size = [], 0
        while size < wanted:
            chunk = proc.stdout.read(min(1 << 16, wanted - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        proc.kill()
    return b"".join(chunks)


def render_corpus(out_dir: Path, *, pieces: int, per_collection: int = 60, seed: int = 0, min_s: float = 20.0,
                  max_s: float = 60.0, log: Callable[[str], None] = print) -> Path:
    """Render up to `pieces` corpus scores into OUT_DIR/audio/ and write OUT_DIR/labels.csv; resumable.

    Pieces already rendered (listed in labels.csv with their file present) are kept, so an interrupted
    render continues where it stopped.  Returns the labels CSV (columns file, collection, source,
    programs, seconds).
    """
    fluidsynth, soundfont = find_tools()
    labels = out_dir / "labels.csv"
    done: dict[str, RenderedPiece] = {}
    if labels.is_file():
        with open(labels, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if (out_dir / row["file"]).is_file():
                    done[row["source"]] = RenderedPiece(row["file"], row["collection"], row["source"],
                                                        row["programs"], float(row["seconds"]))
    rendered = list(done.values())
    for collection, path in corpus_scores(per_collection, seed):
        if len(rendered) >= pieces:
            break
        source = "/".join(path.parts[path.parts.index("corpus") + 1:])
        if source in done:
            continue
        rng = random.Random(f"{seed}:{source}")
        inside = path.parts[path.parts.index("corpus") + 2:]  # below the collection folder, made flat
        name = f"audio/{collection}/{Path('_'.join(inside)).with_suffix('.ogg')}"
        result = render_piece(path, out_dir / name, rng=rng, fluidsynth=fluidsynth, soundfont=soundfont,
                              min_s=min_s, max_s=max_s)
        if result is None:
            log(f"skipped {source}")
            continue
        programs, seconds = result
        rendered.append(RenderedPiece(name, collection, source, " ".join(map(str, programs)), seconds))
        done[source] = rendered[-1]
        _write_labels(labels, rendered)
        log(f"[{len(rendered)}/{pieces}] {source}: {seconds:.0f} s, programs {programs}")
    _write_labels(labels, rendered)
    return labels


def _write_labels(path: Path, rows: list[RenderedPiece]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "collection", "source", "programs", "seconds"])
        for row in rows:
            writer.writerow([row.file, row.collection, row.source, row.programs, f"{row.seconds:.2f}"])
    os.replace(tmp, path)
