"""The four ways `moodtape train emotion` trains (`--method`), behind one interface the training loop uses.

A task owns what differs between methods: the trainable network, how a batch of rows becomes logits, how
its state is checkpointed and how the result is written (a Hugging Face checkpoint for `full`, Moodtape's
compact format, which stores only what was trained, for the others).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.mood.models import (
    COMPACT_FILE, FORMAT_VERSION, WEIGHTS_FILE, add_lora, build_encoder_classifier, max_tokens,
    missing_model_error, ngram_features, offline, resolve_base, trainable_state,
)
from moodtape.core.mood.ngram import check_feature_spec
from moodtape.core.mood.reader import prepare_text
from moodtape.training.emotion_config import TrainConfig
from moodtape.training.emotion_data import EmotionData
from moodtape.training.emotion_encoder import autocast, encoder_pass, install_replay, pad_ids, pad_states


class Task:
    """What differs between methods: the trainable net, how a batch becomes logits, how it is saved."""

    params: list[Any]
    lengths: list[int]

    def logits(self, batch: list[int]) -> Any: ...
    def dev_logits(self) -> np.ndarray: ...
    def train_mode(self, on: bool) -> None: ...
    def state(self) -> dict[str, Any]: ...
    def load_state(self, state: dict[str, Any]) -> None: ...
    def save(self, out: Path, config: TrainConfig, labels: list[str]) -> None: ...


def load_tokenizer_and(base: str, loader: Any, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    extra: dict[str, Any] = {"local_files_only": True} if offline() or Path(base).is_dir() else {}
    source = resolve_base(base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        model = loader.from_pretrained(source, **extra, **kwargs)
    except (OSError, ValueError) as exc:
        raise missing_model_error(base, exc) from exc
    return tokenizer, model


class EncoderTask(Task):
    """`full` and `lora`: token ids through a transformer."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str,
                 cache: Path) -> None:
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification

        self.config = config
        self.device = device
        labels = train.label_names
        if config.method == "full":
            self.tokenizer, model = load_tokenizer_and(
                config.model, AutoModelForSequenceClassification, num_labels=len(labels),
                id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
                problem_type="single_label_classification", ignore_mismatched_sizes=True,
            )
            self.net = model
            self.params = [p for p in model.parameters() if p.requires_grad]
            self._forward = lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits
        else:
            self.tokenizer, encoder = load_tokenizer_and(config.model, AutoModel)
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
            self.holder["states"] = pad_states([states[i] for i in batch], self.device)

    def logits(self, batch: list[int]) -> Any:
        ids, mask = pad_ids([self.train_ids[i] for i in batch], self.pad_id, self.device)
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
                ids, mask = pad_ids([self.dev_ids[i] for i in batch], self.pad_id, self.device)
                self._replay(self.dev_states, batch)
                with autocast(self.device):
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
        spec = compact_spec(config, labels, "encoder-adapter")
        spec["lora"] = {"rank": config.lora_rank, "alpha": config.lora_alpha, "targets": config.lora_targets,
                        "layers": config.lora_layers, "modules": len(self.wrapped)}
        spec["pool_layers"] = config.pool_layers
        spec["head_hidden"] = config.head_hidden
        save_compact(out, spec, trainable_state(self.net), config.half)


class HeadTask(Task):
    """`head`: the frozen encoder runs once over the data; only the head trains, on cached features."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str,
                 cache: Path) -> None:
        import torch
        from transformers import AutoModel

        self.config = config
        self.device = device
        self.tokenizer, encoder = load_tokenizer_and(config.model, AutoModel)
        for p in encoder.parameters():
            p.requires_grad_(False)
        torch.manual_seed(config.seed)
        self.net = build_encoder_classifier()(encoder, len(train.label_names), config.pool_layers,
                                              config.head_hidden, config.dropout).to(device)
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
        spec = compact_spec(config, labels, "encoder-adapter")
        spec["lora"] = None
        spec["pool_layers"] = config.pool_layers
        spec["head_hidden"] = config.head_hidden
        save_compact(out, spec, trainable_state(self.net), config.half)


class NgramTask(Task):
    """`ngram`: softmax regression over hashed character n-grams (an EmbeddingBag is exactly W . x)."""

    def __init__(self, config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str) -> None:
        import torch

        self.config = config
        self.device = device
        n_min, n_max = config.char_ngrams
        check_feature_spec(config.features, config.normalise)

        def featurise(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
            # Repeated rows (a mix's WEIGHT) are featurised once: Kiwi is the slow part.
            seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for text in texts:
                if text not in seen:
                    seen[text] = ngram_features(prepare_text(text), config.buckets, n_min, n_max,
                                                features=config.features, normalise=config.normalise)
            return [seen[text] for text in texts]

        self.train_f = featurise(train.texts)
        self.dev_f = featurise(dev.texts) if dev else []
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
        spec = compact_spec(config, labels, "char-ngram")
        spec.pop("base")
        spec["buckets"] = config.buckets
        spec["char_ngrams"] = config.char_ngrams
        if list(config.features) != ["char"] or config.normalise != "none":  # else: as older folders, loads anywhere
            spec["features"] = list(config.features)
            spec["normalise"] = config.normalise
        save_compact(out, spec, self.state(), config.half)


def make_task(config: TrainConfig, train: EmotionData, dev: EmotionData | None, device: str, cache: Path) -> Task:
    """The task of `config.method`."""
    if config.method == "ngram":
        return NgramTask(config, train, dev, device)
    if config.method == "head":
        return HeadTask(config, train, dev, device, cache)
    return EncoderTask(config, train, dev, device, cache)


def compact_spec(config: TrainConfig, labels: list[str], kind: str) -> dict[str, Any]:
    return {"format": "moodtape-emotion", "format_version": FORMAT_VERSION, "kind": kind,
            "name": config.name or Path(config.out).name, "base": config.model, "labels": labels,
            "multi_label": False, "max_length": config.max_length, "preprocess": "moodtape.core.mood.reader.prepare_text"}


def save_compact(out: Path, spec: dict[str, Any], state: dict[str, Any], half: bool) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {k: (v.detach().cpu().to(torch.float16) if half and v.is_floating_point() else v.detach().cpu())
               .contiguous() for k, v in state.items()}
    spec["dtype"] = "float16" if half else "float32"
    save_file(tensors, str(out / WEIGHTS_FILE))
    (out / COMPACT_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
