"""The frozen encoder under `lora` and `head` training: one pass over the data, cached, then replayed.

A frozen layer gives the same output every epoch, so its output is computed once (float16, on disk, reused
by a resumed run or by a later `head` run on the same data) instead of once per epoch; that is what makes
LoRA on the upper layers and head-only training affordable on a CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from moodtape.core.errors import UserError
from moodtape.core.mood.models import encoder_layers
from moodtape.training.emotion_config import TrainConfig


def pad_ids(rows: list[list[int]], pad_id: int, device: str) -> tuple[Any, Any]:
    """(token ids padded to the longest row, attention mask) as tensors on `device`."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids.to(device), mask.to(device)


def pad_states(rows: list[Any], device: str) -> Any:
    """Cached token states of a batch (one (tokens, hidden) tensor per row), zero-padded into one tensor."""
    import torch

    width = max(r.shape[0] for r in rows)
    out = torch.zeros((len(rows), width, rows[0].shape[1]), dtype=torch.float32)
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row.float()
    return out.to(device)


def _cache_key(config: TrainConfig, source: str, n: int, cut: int) -> str:
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
            tokens, mask = pad_ids([ids[i] for i in batch], pad_id, device)
            with autocast(device):
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


def autocast(device: str) -> Any:
    """bfloat16 autocast on a GPU that has it (about twice as fast), no change anywhere else."""
    import torch

    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
