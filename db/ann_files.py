"""The ANN indexes on disk, beside the database: `<db>.ann/<kind>-<version>.usearch` and a `<kind>.json` sidecar.

Building a million-vector HNSW index takes minutes, restoring it seconds, so `db/ann.py` saves each finished
index here.  The sidecar is written last (atomically, by rename) and names the files, the log `seq` they
include, their vector counts and the parameters; anything that does not match (missing or corrupt file,
other dimension, metric or parameters, other counts) makes `load_kind` return None and the caller rebuild.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moodtape.db.models import VECTOR_DIMS
from moodtape.db.usearch_index import Index

if TYPE_CHECKING:
    from moodtape.db.ann import AnnParams

__all__ = ["file_name", "load_kind", "remove_kind", "save_kind"]

log = logging.getLogger(__name__)

_FORMAT = 1


def file_name(kind: str, version: str) -> str:
    """A file name per (kind, version): readable part of the version plus a hash, so any version string fits."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", version)[:40]
    return f"{kind}-{slug}-{hashlib.sha1(version.encode()).hexdigest()[:10]}.usearch"


def _sidecar(folder: Path, kind: str) -> Path:
    return folder / f"{kind}.json"


def _describe(kind: str, params: AnnParams) -> dict[str, Any]:
    return {"format": _FORMAT, "kind": kind, "dim": VECTOR_DIMS[kind], "dtype": params.dtype,
            "connectivity": params.connectivity, "expansion_add": params.expansion_add}


def save_kind(folder: Path, kind: str, indexes: dict[str, Index], seq: int, params: AnnParams) -> None:
    """Write each version's index, then the sidecar naming them; files of versions now gone are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for version, index in indexes.items():
        name = file_name(kind, version)
        tmp = folder / (name + ".tmp")
        index.save(str(tmp))
        os.replace(tmp, folder / name)
        files[version] = {"file": name, "count": len(index)}
    sidecar = {**_describe(kind, params), "seq": seq, "versions": files}
    tmp = _sidecar(folder, kind).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    os.replace(tmp, _sidecar(folder, kind))
    kept = {entry["file"] for entry in files.values()}
    for stale in folder.glob(f"{kind}-*.usearch"):
        if stale.name not in kept:
            stale.unlink(missing_ok=True)


def load_kind(folder: Path, kind: str, params: AnnParams) -> tuple[dict[str, Index], int] | None:
    """(indexes by version, seq) as saved, or None when absent, unreadable or made for other settings."""
    try:
        sidecar = json.loads(_sidecar(folder, kind).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the ANN sidecar of %s: %s", kind, exc)
        return None
    if not isinstance(sidecar, dict) or any(sidecar.get(k) != v for k, v in _describe(kind, params).items()):
        log.info("the saved ANN index of %s was made with other settings; rebuilding", kind)
        return None
    indexes = {}
    try:
        for version, entry in dict(sidecar["versions"]).items():
            index = Index.restore(str(folder / entry["file"]), view=False)
            if index is None or index.ndim != VECTOR_DIMS[kind] or len(index) != int(entry["count"]):
                raise ValueError(f"{entry['file']} does not hold the {entry['count']} vectors the sidecar names")
            index.expansion_search = params.expansion_search
            index.expansion_add = params.expansion_add
            indexes[str(version)] = index
        seq = int(sidecar["seq"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        log.warning("ignoring the saved ANN index of %s: %s", kind, exc)
        return None
    return indexes, seq


def remove_kind(folder: Path, kind: str) -> None:
    _sidecar(folder, kind).unlink(missing_ok=True)
    for file in folder.glob(f"{kind}-*.usearch"):
        file.unlink(missing_ok=True)
