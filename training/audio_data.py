"""Labelled audio folders for evaluations and training: a CSV of (file, label) plus cached decoding.

Every audio evaluation and trainer reads its data the same way: a folder and a CSV whose `file` column is
relative to it.  Column names are options because the datasets we use name them differently (Debian
manifest: `path`/`album`, Emotify: `file`/`genre`).
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.audio.decode import AudioError, decode


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    label: str
    row: dict[str, str]


def read_labels(
    data_dir: Path, labels_csv: Path, *, file_column: str = "file", label_column: str = "label"
) -> list[LabelledFile]:
    """Rows of the CSV whose file exists; missing columns or files are errors with the name in them."""
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for column in (file_column, label_column):
            if column not in fields:
                raise ValueError(f"{labels_csv}: no column {column!r} (columns: {', '.join(fields)})")
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
        raise ValueError(f"none of the {len(missing)} files in {labels_csv} exist under {data_dir}")
    return out


def _cache_key(paths: Sequence[Path], tag: str) -> str:
    digest = hashlib.sha256(tag.encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _compute_one(args: tuple[str, str, float, Callable[[np.ndarray], np.ndarray]]) -> np.ndarray | str:
    path, _, window_s, fn = args
    try:
        decoded = decode(path, window_s=window_s)
    except AudioError as exc:
        return exc.reason
    return fn(decoded.samples)


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
    cache_file = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache_file = cache_dir / f"{tag}-{_cache_key(paths, tag)}.npz"
        if cache_file.exists():
            data = np.load(cache_file)
            return data["vectors"], data["index"].tolist()
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    jobs = [(str(p), tag, window_s, fn) for p in paths]
    vectors, index = [], []
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        results = pool.map(_compute_one, jobs, chunksize=2)
        for i, result in enumerate(tqdm(results, total=len(jobs), desc=desc, unit="file")):
            if isinstance(result, str):
                tqdm.write(f"skipped {paths[i]}: {result}", file=sys.stderr)
                continue
            vectors.append(np.asarray(result, dtype=np.float32))
            index.append(i)
    stacked = np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    if cache_file is not None:
        np.savez(cache_file, vectors=stacked, index=np.asarray(index))
    return stacked, index
