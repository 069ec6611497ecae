"""Faster emotion inference with (near-)unchanged readings: what `EmotionClassifier` does to a loaded model.

Two changes that leave the model's answers as they were (up to float rounding), and one that does not:

* **Length groups.**  A batch is tokenised once, sorted by token count and cut into groups that minimise
  padded tokens plus a per-forward overhead (`length_groups`), so a one-word message is not padded to the
  length of a pasted paragraph.  Exact: padding is masked out.
* **Merged LoRA.**  An adapter's `W x + s B A x` becomes `(W + s B A) x`: the same function (up to float
  rounding) in one matrix product instead of three.
* **Dynamic int8** (CPU only; `quantize=True`, which the engine passes by default through
  `MOODTAPE_EMOTION_INT8`) of the encoder's Linear layers (`build_int8_linear`, fbgemm kernels): int8 weights,
  activations quantised per call.  On the bundled MiniLM it changes about 3 % of GoEmotions dev labels
  (macro-F1 -0.0005) for 1.5x the batched throughput, and a message's probabilities move slightly (~0.01)
  with the other messages of its batch.  That cannot be designed away: scaling every token row on its own
  (tried: exact at the kernel level) still lets float rounding, which differs between batch shapes by ~1e-6,
  flip an int8 rounding step.  Where ONNX Runtime is installed the int8 model is not these layers but the
  whole graph exported and quantised the same way (`core.mood.onnx_int8`): 1.5x the torch int8 layers'
  throughput in one `bench emotion` run, macro-F1 -0.0012 against float.  `EmotionClassifier` itself
  defaults to `quantize=False` (readings identical however batched, tests/core/test_emotion.py);
  `moodtape bench emotion --f1-data` measures both costs.

Importing this module does not import torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OVERHEAD_TOKENS", "Speedups", "length_groups", "merge_lora", "optimise", "quantize_linears"]

#: What one extra forward pass costs on CPU, in padded tokens: MiniLM-L6 on 2 cores spends ~5 ms per call
#: beyond ~0.13 ms per token.  Only the ratio matters, and the optimum is flat around it.
OVERHEAD_TOKENS = 32


@dataclass
class Speedups:
    """What was applied to one model (reported by `moodtape bench emotion`)."""

    length_groups: bool = False
    lora_merged: int = 0
    int8: bool = False
    onnx: bool = False  # the int8 graph runs in ONNX Runtime (else torch's int8 Linear layers)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        int8 = ["onnxruntime-int8" if self.onnx else "int8"] if self.int8 else []
        parts = (["length-groups"] if self.length_groups else []) + (
            [f"lora-merged({self.lora_merged})"] if self.lora_merged else []) + int8
        return "+".join(parts) or "float"

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.describe(), "length_groups": self.length_groups, "lora_merged": self.lora_merged,
                "int8": self.int8, "onnx": self.onnx, "notes": list(self.notes)}


def length_groups(lengths: Sequence[int], max_batch: int, overhead: int = OVERHEAD_TOKENS) -> list[list[int]]:
    """Index groups of at most `max_batch` texts, by token length, minimising sum(overhead + size * longest).

    Dynamic programming over the lengths sorted ascending (a group is then a contiguous run and its cost
    depends only on its last member): O(n * max_batch).  Every index appears exactly once.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    size = max(1, max_batch)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest cost of the first j sorted texts
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = lengths[order[end - 1]]
        for start in range(max(0, end - size), end):
            cost = best[start] + overhead + (end - start) * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[int]] = []
    end = n
    while end > 0:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def merge_lora(net: Any) -> int:
    """Fold every LoRA layer (`mood.adapter.build_lora_linear`) into its base Linear, in place; returns how many.

    Only for inference: the merged weights can no longer be told apart from the base encoder's.
    """
    import torch

    merged = 0
    for name, module in list(net.named_modules()):
        if not all(hasattr(module, attr) for attr in ("lora_a", "lora_b", "base", "scale")):
            continue
        base = module.base
        with torch.no_grad():
            delta = (module.lora_b.float() @ module.lora_a.float()) * float(module.scale)
            base.weight.add_(delta.to(base.weight.dtype))
        parent_name, _, child = name.rpartition(".")
        setattr(net.get_submodule(parent_name) if parent_name else net, child, base)
        merged += 1
    return merged


def quantize_linears(module: Any) -> int:
    """Swap every Linear inside `module` for an int8 one (`build_int8_linear`), in place; returns how many,
    0 where this torch build has no quantised CPU kernels (the float layers are then kept).

    torch marks its quantised tensors as deprecated (in favour of the torchao package); they still work
    and need no extra dependency, so the notice is silenced, and a torch without them falls back to float.
    """
    import torch

    engines = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    if not engines:
        return 0
    if torch.backends.quantized.engine not in engines:
        torch.backends.quantized.engine = "fbgemm" if "fbgemm" in engines else engines[0]
    int8_cls = build_int8_linear()
    swapped = 0
    for name, child in list(module.named_modules()):
        if not isinstance(child, torch.nn.Linear) or not name:
            continue
        try:
            replacement = int8_cls(child)
        except (RuntimeError, NotImplementedError, AttributeError):  # a torch without these kernels
            return swapped
        parent_name, _, leaf = name.rpartition(".")
        setattr(module.get_submodule(parent_name) if parent_name else module, leaf, replacement)
        swapped += 1
    return swapped


def build_int8_linear() -> type:
    """The int8 Linear class, built on first use so importing this module does not import torch."""
    import torch

    class Int8Linear(torch.nn.Module):
        """y = dequant(q(x) @ q(W)^T) + b: int8 weights with one scale per output row, activations quantised
        per call over their full 8-bit range.

        torch's `quantize_dynamic` uses one weight scale per tensor and 7-bit activations ("reduce_range",
        against a rare int16 overflow in the AVX2 kernel): on MiniLM that changed 5-9 % of the labels;
        per-row weights with 8-bit activations change about 3 % (see `moodtape bench emotion`).
        """

        def __init__(self, linear: Any) -> None:
            super().__init__()
            weight = linear.weight.detach().float().cpu()
            scale = (weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0).double()
            bias = linear.bias.detach().float().cpu() if linear.bias is not None else None
            with warnings.catch_warnings():  # quantised tensors are marked deprecated; see quantize_linears
                warnings.simplefilter("ignore")
                qweight = torch.quantize_per_channel(weight, scale, torch.zeros_like(scale, dtype=torch.long), 0,
                                                     torch.qint8)
                self.packed = torch.ops.quantized.linear_prepack(qweight, bias)
            self.in_features, self.out_features = linear.in_features, linear.out_features

        def forward(self, x: Any) -> Any:
            return torch.ops.quantized.linear_dynamic(x.float(), self.packed, False)

    return Int8Linear


def optimise(model: Any, device: str, quantize: bool = False, cache_dir: Path | None = None, *,
             onnx: bool = True) -> Speedups:
    """Apply the speed-ups that fit `model` (an AdapterModel, HFModel or NgramModel), in place.

    Length groups and merged LoRA always; int8 only with `quantize` and on CPU: through ONNX Runtime where
    it is installed (`mood.onnx_int8`, the graph exported once into `cache_dir`, default the user's cache
    folder), else (or with `onnx=False`) torch's int8 Linear layers.  A char n-gram model has no encoder:
    nothing applies.
    """
    done = Speedups()
    on_cpu = str(device).split(":")[0] == "cpu"
    net = getattr(model, "net", None)  # AdapterModel: the EncoderClassifier
    hf = getattr(model, "model", None)  # HFModel: the AutoModelForSequenceClassification
    if net is None and hf is None:
        done.notes.append("no transformer encoder (e.g. a char n-gram model): nothing to speed up")
        return done
    model.group_by_length = True
    model.overhead_tokens = OVERHEAD_TOKENS if on_cpu else 1 << 30  # on a GPU padding is nearly free
    done.length_groups = True
    if net is not None:
        done.lora_merged = merge_lora(net)
        target, attr = net, "encoder"
    else:
        target, attr = hf, hf.base_model_prefix
    if quantize and on_cpu:
        if onnx and _onnx_int8(model, done, cache_dir):
            return done
        done.int8 = quantize_linears(getattr(target, attr)) > 0
        if not done.int8:
            done.notes.append("int8 unavailable in this torch build; float weights kept")
    elif quantize:
        done.notes.append(f"int8 is CPU-only; float weights kept on {device}")
    return done


def _onnx_int8(model: Any, done: Speedups, cache_dir: Path | None) -> bool:
    """Switch `model` to the ONNX Runtime int8 forward (`model.fast_forward`); False (with a note) when
    ONNX Runtime is missing or the export fails, so the caller falls back to torch's int8 layers."""
    import torch

    from moodtape.core.mood import onnx_int8

    if not onnx_int8.available():
        done.notes.append("onnxruntime not installed: torch int8 layers instead")
        return False
    if cache_dir is None:
        from moodtape.core.config import default_cache_dir

        cache_dir = default_cache_dir()
    try:
        model.fast_forward = onnx_int8.int8_session(model, Path(cache_dir), torch.get_num_threads())
    except Exception as exc:  # noqa: BLE001 - an exporter that cannot trace this model: torch int8 still works
        done.notes.append(f"ONNX export failed ({type(exc).__name__}: {str(exc)[:200]}): torch int8 instead")
        return False
    done.int8 = done.onnx = True
    return True
