"""What a `moodtape train emotion` run is asked to do: the method, its defaults and every setting.

`fingerprint` is the part of the settings a `--resume` must repeat exactly: a run continued with another
learning rate or data file would be neither run, and its model card would describe neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moodtape.core.errors import UserError
from moodtape.core.mood.models import PACKAGED_BASE

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
    features: list[str] = field(default_factory=lambda: ["char"])  # ngram: "char", "morph"
    normalise: str = "none"  # ngram: "none" | "informal-v1" (core.mood.ngram)
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
                "char_ngrams", "features", "normalise", "limit", "max_steps", "weight_decay", "warmup", "label_smoothing", "dropout")
        return {key: getattr(self, key) for key in keep}


def jsonable(value: Any) -> Any:
    """`value` as it reads back from JSON (what a checkpoint's fingerprint and the model card store)."""
    return json.loads(json.dumps(value, default=str))
