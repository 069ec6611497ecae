"""Labelled audio folders for evaluations and training: the CSVs that list them, and cached decoding.

Every audio evaluation and trainer reads its data the same way: a folder and a CSV whose file column is
relative to it.  Column names are options because the datasets we use name them differently (Debian
manifest: `path`/`package`, Emotify: `file`/`genre`); rows whose file is not on disk are left out, since
the fetch scripts may have skipped some.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moodtape.core.audio.decode import AudioError, decode
from moodtape.core.errors import UserError
from moodtape.training.npz_cache import files_key, load_arrays, save_arrays


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    label: str
    row: dict[str, str]


def present_rows(table: Path, folder: Path, file_column: str, *, missing: str) -> list[dict[str, str]]:
    """The rows of CSV `table` whose `file_column` names a file under `folder`.

    A missing table is a `UserError` reading "`table` not found" followed by `missing` (what to do).
    """
    if not table.is_file():
        raise UserError(f"{table} not found{missing}")
    with open(table, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if (folder / (row.get(file_column) or "")).is_file()]


def debian_manifest(music_dir: Path) -> list[dict[str, str]]:
    """The rows of `fetch-debian-music.sh OUTDIR`'s manifest.csv whose file was fetched (path, package, ...)."""
    return present_rows(music_dir / "manifest.csv", music_dir, "path",
                        missing=f": run ../shared/scripts/fetch-debian-music.sh {music_dir} first")


def emotify_rows(data_dir: Path, table: Path | None = None) -> list[dict[str, str]]:
    """The clips of the Emotify folder (`tracks.csv`, or `table`) that are on disk (file, genre, GEMS ...)."""
    return present_rows(table or data_dir / "tracks.csv", data_dir, "file",
                        missing=" (expected the Emotify folder with tracks.csv and clips/)")


def read_labels(
    data_dir: Path, labels_csv: Path, *, file_column: str = "file", label_column: str = "label"
) -> list[LabelledFile]:
    """Rows of the CSV whose file exists; missing columns or files are errors with the name in them."""
    if not labels_csv.is_file():
        raise UserError(f"{labels_csv}: no such file")
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for column in (file_column, label_column):
            if column not in fields:
                raise UserError(f"{labels_csv}: no column {column!r} (columns: {', '.join(fields)})")
        rows = list(reader)
    out, missing = [], []
    for row in rows:
        path = data_dir / row[file_column]
        if not path.is_file():
            missing.append(row[file_column])
            continue
        label = row[label_column].strip()
        if label:
            out.append(LabelledFile(path, label, row))
    if missing and not out:
        raise UserError(f"none of the {len(missing)} files in {labels_csv} exist under {data_dir}")
    return out


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _decode_and(fn: Callable[[np.ndarray], np.ndarray], window_s: float, path: str) -> np.ndarray | str:
    """`fn` of the file's decoded samples, or the reason it could not be decoded."""
    try:
        decoded = decode(path, window_s=window_s)
    except AudioError as exc:
        return exc.reason
    return fn(decoded.samples)


def decode_each(paths: Sequence[Path], fn: Callable[[np.ndarray], np.ndarray], *, window_s: float,
                workers: int | None = None, desc: str = "audio") -> tuple[list[np.ndarray], list[int]]:
    """`fn` (samples -> array) of up to `window_s` seconds of every file, in worker processes.

    Returns (the results of the files that decoded, their indices into `paths`); the others are reported on
    stderr.  `fn` must be picklable when `workers` > 1.
    """
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    job = functools.partial(_decode_and, fn, window_s)
    results_of, kept = [], []
    with contextlib.ExitStack() as stack:
        if workers > 1:  # worker processes only pay off beyond one (each imports torch)
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, initializer=_init_worker))
            results: Iterator[np.ndarray | str] = pool.map(job, [str(p) for p in paths], chunksize=2)
        else:
            results = map(job, [str(p) for p in paths])
        for i, result in enumerate(tqdm(results, total=len(paths), desc=desc, unit="file")):
            if isinstance(result, str):
                tqdm.write(f"skipped {paths[i]}: {result}", file=sys.stderr)
                continue
            results_of.append(result)
            kept.append(i)
    return results_of, kept


def map_audio(
    paths: Sequence[Path],
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    tag: str,
    window_s: float = 120.0,
    workers: int | None = None,
    cache_dir: Path | None = None,
    desc: str = "audio",
) -> tuple[np.ndarray, list[int]]:
    """Apply `fn` (samples -> vector) to every file, in parallel, cached on disk by file stats and `tag`.

    Returns (vectors of the files that decoded, their indices into `paths`).  `fn` must be picklable.
    """
    cache_file = cache_dir / f"{tag}-{files_key(paths, tag)}.npz" if cache_dir is not None else None
    cached = load_arrays(cache_file)
    if cached is not None:
        return cached["vectors"], cached["index"].tolist()
    results, index = decode_each(paths, fn, window_s=window_s, workers=workers, desc=desc)
    vectors = [np.asarray(result, dtype=np.float32) for result in results]
    stacked = np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    save_arrays(cache_file, vectors=stacked, index=np.asarray(index))
    return stacked, index
