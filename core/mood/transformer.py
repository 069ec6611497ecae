"""Any Hugging Face sequence classifier as an emotion model, and the tokenised inference the adapter shares.

A local checkpoint folder or a hub id (the production RoBERTa, a hub emotion model, a full fine-tune written
by `moodtape train emotion --method full`).  torch and transformers load inside the functions, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.mood.checkpoint import (
    folder_stamp,
    looks_like_hub_id,
    missing_model_error,
    offline,
    sigmoid,
    softmax,
)

__all__ = ["HFModel", "max_tokens", "quiet_transformers", "tokenized_probabilities"]

#: Model types whose position ids start after the padding index, so two positions are unusable.
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart", "data2vec-text",
                     "xlm-roberta-xl", "roberta-prelayernorm", "ernie_m", "luke", "mpnet"}


def max_tokens(config: Any, tokenizer: Any, wanted: int) -> int:
    """The longest input the model can take without an index error, capped at `wanted`."""
    limit = wanted
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limit = min(limit, model_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        usable = positions - 2 if getattr(config, "model_type", "") in _OFFSET_POSITIONS else positions
        limit = min(limit, usable)
    return max(limit, 8)


def quiet_transformers() -> None:
    """No weight-loading progress bars or init warnings in a chat reply's stderr."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _batches(texts: Sequence[str], size: int) -> list[list[int]]:
    """Index batches of similar length, so little compute goes to padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[start:start + size] for start in range(0, len(order), size)]


def tokenized_probabilities(model: Any, texts: Sequence[str], forward: Callable[[Any], Any]) -> np.ndarray:
    """Batches of `texts` through `model.tokenizer` and `forward(encoding) -> logits`, as probabilities.

    Shared by the transformer-based kinds so that truncation, padding and the sigmoid/softmax choice cannot
    drift apart between a full checkpoint and an adapter.
    """
    import torch

    out = np.zeros((len(texts), len(model.labels)), dtype=np.float32)
    with torch.inference_mode():
        for batch, enc in _encoded_batches(model, texts):
            logits = forward(enc.to(model.device)).float().cpu().numpy()
            out[batch] = sigmoid(logits) if model.multi_label else softmax(logits)
    return out


def _encoded_batches(model: Any, texts: Sequence[str]) -> Iterator[tuple[list[int], Any]]:
    """(indices, padded encoding) per forward pass.

    A model that `mood.speed.optimise` marked with `group_by_length` is tokenised once and cut into groups
    by token count (`mood.speed.length_groups`); otherwise batches of `batch_size` by character length.
    """
    if not getattr(model, "group_by_length", False):
        for batch in _batches(texts, model.batch_size):
            yield batch, model.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                         max_length=model.max_length, return_tensors="pt")
        return
    from moodtape.core.mood.speed import length_groups

    enc = model.tokenizer(list(texts), truncation=True, max_length=model.max_length)
    lengths = [len(ids) for ids in enc["input_ids"]]
    for group in length_groups(lengths, model.batch_size, model.overhead_tokens):
        features = {key: [enc[key][i] for i in group] for key in enc}
        yield group, model.tokenizer.pad(features, padding=True, return_tensors="pt")


class HFModel:
    """Any Hugging Face sequence-classification checkpoint (local folder or hub id)."""

    def __init__(self, ref: str, device: str, batch_size: int, max_length: int) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_transformers()
        local = Path(ref).expanduser()
        source = str(local) if local.is_dir() else ref
        if not local.is_dir() and (local.exists() or not looks_like_hub_id(ref)):
            raise missing_model_error(ref)
        kwargs: dict[str, Any] = {"local_files_only": True} if offline() or local.is_dir() else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            self.model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as exc:
            raise missing_model_error(ref, exc) from exc
        config = self.model.config
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        self.multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_tokens(config, self.tokenizer, max_length)
        self.model.to(device).eval()
        self.version = (folder_stamp(local) or local.name) if local.is_dir() else ref

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        fast = getattr(self, "fast_forward", None)  # set by `mood.speed.optimise` (ONNX Runtime int8)
        return tokenized_probabilities(self, texts, fast or (lambda enc: self.model(**enc).logits))
