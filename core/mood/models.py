"""Opening any emotion checkpoint, and the model-building surface `training/` shares with the reader.

`load_probability_model` looks at a reference and picks the family: a compact Moodtape folder
(`moodtape_emotion.json`: an encoder adapter, mood.adapter, or a char n-gram model, mood.ngram), a Hugging
Face checkpoint folder, or a hub id (mood.transformer).  Training builds its nets with the names exported
here, so what it writes always loads.  Nothing is imported from torch or transformers until a model loads.
"""

from __future__ import annotations

import json
from pathlib import Path

from moodtape.core.errors import UserError
from moodtape.core.mood.adapter import (
    AdapterModel,
    add_lora,
    build_encoder_classifier,
    encoder_layers,
    trainable_state,
)
from moodtape.core.mood.checkpoint import (
    COMPACT_FILE,
    FORMAT_VERSION,
    PACKAGED_BASE,
    WEIGHTS_FILE,
    ProbabilityModel,
    is_compact,
    missing_model_error,
    offline,
    resolve_base,
)
from moodtape.core.mood.ngram import NgramModel, ngram_features
from moodtape.core.mood.transformer import HFModel, max_tokens

__all__ = [
    "load_probability_model", "ProbabilityModel", "COMPACT_FILE", "WEIGHTS_FILE", "PACKAGED_BASE",
    "FORMAT_VERSION", "add_lora", "build_encoder_classifier", "encoder_layers", "trainable_state",
    "ngram_features", "max_tokens", "missing_model_error", "offline", "resolve_base",
]


def load_probability_model(ref: str, device: str = "cpu", batch_size: int = 32,
                           max_length: int = 128) -> ProbabilityModel:
    """Open any supported checkpoint: a compact Moodtape folder, a HF folder, or a hub id."""
    path = Path(ref).expanduser()
    if path.is_dir() and is_compact(path):
        spec = json.loads((path / COMPACT_FILE).read_text(encoding="utf-8"))
        if int(spec.get("format_version", 0)) > FORMAT_VERSION:
            raise UserError(f"{path} needs a newer Moodtape (model format {spec.get('format_version')})")
        if not (path / WEIGHTS_FILE).is_file():
            raise UserError(f"{path}: {WEIGHTS_FILE} is missing")
        kind = spec.get("kind")
        if kind == "encoder-adapter":
            return AdapterModel(path, spec, device, batch_size, max_length)
        if kind == "char-ngram":
            return NgramModel(path, spec)
        raise UserError(f"{path}: unknown model kind {kind!r} in {COMPACT_FILE}")
    if path.is_dir() and not (path / "config.json").is_file():
        raise missing_model_error(str(path))
    return HFModel(ref, device, batch_size, max_length)
