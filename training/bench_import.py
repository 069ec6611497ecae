"""`moodtape bench import`: time and peak memory of `moodtape import`, on a file or on synthetic slices.

Each import runs `moodtape import --json FILE` (the CLI's own entry point, which loads no torch) in a child
process, into a fresh temporary database, and reports the child's peak RSS, so each figure is what a person
running the command sees.  `--synthetic 4000,40000` writes MPD-shaped gzipped slices of those many
playlists (65 tracks each, drawn with a long tail from a pool that grows with the file, like the MPD) and
imports each: with streaming imports, peak memory stays flat as the file grows tenfold while the time grows
about linearly.  Nothing here asserts a speed; the numbers go to the README with the command.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.results import print_json

#: Distinct tracks per playlist in the MPD development slice (144,309 tracks over 4,365 playlists).
_POOL_PER_PLAYLIST = 33
_TRACKS_PER_PLAYLIST = 65

_CHILD = """
import contextlib, io, json, os, resource, sys, time
from pathlib import Path
os.environ["MOODTAPE_DB"] = sys.argv[2]
from moodtape.bot.cli import main

out = io.StringIO()
began = time.perf_counter()
with contextlib.redirect_stdout(out):
    code = main(["import", "--json", sys.argv[1]])
seconds = time.perf_counter() - began
if code:
    sys.exit(code)
# VmHWM: the peak RSS of this program (ru_maxrss would carry over the parent's from before the exec)
status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
hwm = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
peak = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": round(seconds, 2), "peak_kb": peak, "report": json.loads(out.getvalue()),
                  "torch_loaded": "torch" in sys.modules}))
"""


def write_synthetic_mpd(path: Path, playlists: int, seed: int = 0) -> dict[str, int]:
    """A gzipped MPD-shaped slice, written playlist by playlist (its size never sits in memory)."""
    rng = random.Random(seed)
    pool = max(1, playlists * _POOL_PER_PLAYLIST)
    entries = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        info = {"generated_by": "moodtape bench import", "num_playlists": playlists}
        out.write(f'{{"info": {json.dumps(info)}, "playlists": [')
        for pid in range(playlists):
            tracks = []
            for _ in range(_TRACKS_PER_PLAYLIST):
                t = min(pool - 1, int(pool * rng.random() ** 3))  # a long tail: a few tracks are everywhere
                tracks.append({"artist_name": f"Artist {t % (pool // 8 + 1)}", "track_name": f"Song {t}",
                               "track_uri": f"spotify:track:syn{t:09d}", "album_name": f"Album {t // 12}",
                               "duration_ms": 120_000 + t % 180_000})
            entries += len(tracks)
            out.write(("," if pid else "") + json.dumps({"name": f"mix {pid}", "pid": pid, "tracks": tracks}))
        out.write("]}")
    return {"playlists": playlists, "entries": entries}


def import_in_child(path: Path, folder: Path) -> dict[str, Any]:
    """Import `path` into a fresh database in a child process: its time, report and peak RSS."""
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(folder / "bench.db")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate()
    if child.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit status {child.returncode}"
        raise UserError(f"the import of {path.name} failed: {last}")
    result = json.loads(out)
    return {"file": path.name, "file_mb": round(path.stat().st_size / 2**20, 1),
            "wall_s": round(time.perf_counter() - began, 2), "import_s": result["seconds"],
            "peak_rss_mb": round(result["peak_kb"] / 1024, 1), "torch_loaded": result["torch_loaded"],
            "report": result["report"]}


def bench_import(files: list[Path], synthetic: list[int], seed: int = 0) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="moodtape-bench-import-") as tmp:
        folder = Path(tmp)
        for path in files:
            runs.append(import_in_child(path, folder))
            (folder / "bench.db").unlink(missing_ok=True)
        for count in synthetic:
            path = folder / f"synthetic-{count}.json.gz"
            shape = write_synthetic_mpd(path, count, seed)
            runs.append({**import_in_child(path, folder), "synthetic": shape})
            path.unlink()
            for leftover in folder.glob("bench.db*"):
                leftover.unlink()
    return {"runs": runs, "python": sys.version.split()[0], "cpus": os.cpu_count()}


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    imp = bench.add_parser(
        "import", help="time and peak memory of `moodtape import` on files and on synthetic MPD slices",
        description="Imports each FILE, then a synthetic MPD slice of each --synthetic size, into fresh "
                    "temporary databases, each by `moodtape import --json` in a child process: seconds, "
                    "peak RSS and the import report, as JSON.",
    )
    imp.add_argument("files", nargs="*", type=Path, metavar="FILE", help="an MPD slice or CSV to import")
    imp.add_argument("--synthetic", default="", metavar="N[,N...]",
                     help="playlist counts of synthetic slices, e.g. 4000,40000 (memory should stay flat)")
    imp.add_argument("--seed", type=int, default=0)
    imp.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        sizes = [int(part) for part in args.synthetic.split(",") if part.strip()]
    except ValueError:
        raise UserError("--synthetic takes playlist counts separated by commas, e.g. 4000,40000") from None
    if any(size < 1 for size in sizes):
        raise UserError("--synthetic sizes must be at least 1")
    if not args.files and not sizes:
        raise UserError("give a FILE to import or --synthetic sizes")
    print_json(bench_import(list(args.files), sizes, args.seed))
    return 0
