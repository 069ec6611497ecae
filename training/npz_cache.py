"""The on-disk cache of decoded audio features: named arrays in one .npz file, keyed by the files' stats.

Decoding and analysing audio is the slow part of every audio trainer and evaluation; the features of a file
change only when the file does (path, size, mtime) or when the analysis does (the `tag`), so those make the
key.  The cache lives outside the repository (a folder the person chooses, or the user cache dir).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def file_stamp(path: Path) -> str:
    """What identifies one version of a file: its absolute path, size and modification second."""
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}"


def file_key(path: Path) -> str:
    """A short key of one file's stamp (for caches that hold one row per file)."""
    return hashlib.sha256(file_stamp(path).encode()).hexdigest()[:20]


def files_key(paths: Sequence[Path], tag: str) -> str:
    """A short key of a whole list of files (in order) and the analysis `tag` applied to them."""
    digest = hashlib.sha256(tag.encode())
    for path in paths:
        digest.update(file_stamp(path).encode())
    return digest.hexdigest()[:16]


def load_arrays(path: Path | None) -> dict[str, np.ndarray] | None:
    """The arrays stored at `path`, or None when caching is off or nothing is stored yet."""
    if path is None or not path.exists():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def save_arrays(path: Path | None, **arrays: np.ndarray) -> None:
    """Store `arrays` at `path` (nothing when caching is off)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
