"""int8 transformer inference through ONNX Runtime: the fastest CPU path for the emotion models.

torch's int8 Linear layers (`mood.speed.build_int8_linear`) leave every other operation, and the framework's
per-operation overhead, in eager PyTorch; the bot's batches are small (length groups of a few short
messages), so that overhead is a large share of a forward pass.  ONNX Runtime runs the whole graph with
int8 matrix products (`quantize_dynamic`: int8 weights with one scale per output channel, activations
quantised per call over their 8-bit range, as our torch path does): on the bundled MiniLM on 2 cores,
256 messages/s in batches against 168 for the torch int8 layers and 77 for plain float, in one
`moodtape bench emotion` run, at a macro-F1 0.0012 below float on GoEmotions dev.

The graph is exported once per model (the LoRA-merged encoder and head, or a Hugging Face classifier) with
torch's TorchScript exporter, quantised, and kept in the cache folder under a key naming the model's
version and the exporter's and runtime's versions (about 8 s the first time; later starts load it in a
fraction of a second).  A failed export (a model the exporter cannot trace) leaves the caller on the torch
path with the reason noted; a cached file that does not load is exported again.  A cached graph's
modification time is its last use: exporting a new one deletes the graphs not used for `UNUSED_DAYS` (an
older model version's, or one made for another torch or ONNX Runtime; 23 MB each for MiniLM), and keeps
those another model in use still loads.  ONNX Runtime and torch's tracer only work in a process where
usearch was imported through `db.usearch_index` (see there).

Needs the `onnxruntime` and `onnx` packages (dependencies of Moodtape); `available()` says whether they are
importable, and importing this module imports neither them nor torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["OnnxLogits", "available", "int8_session", "model_key", "prune_unused"]

#: Bumped when the export or quantisation recipe changes, so old cached graphs are not reused.
RECIPE = "onnx-int8-v1"
_INPUTS = ("input_ids", "attention_mask")
#: A cached graph not loaded for this many days is deleted when another one is exported.
UNUSED_DAYS = 30
_SUFFIX = ".int8.onnx"


class _QuantiserAdvice(logging.Filter):
    """Drops what the ONNX quantiser logs on the root logger ("consider pre-processing before
    quantization", on every call): advice for people tuning a graph by hand, noise in a bot's log.  Only
    records logged from inside `onnxruntime/quantization` are dropped, so nothing else is lost meanwhile."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname


def available() -> bool:
    """Whether ONNX Runtime and the ONNX package (for exporting and quantising) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def model_key(model: Any) -> str:
    """File-name-safe key of a loaded model under this recipe and the installed torch/ONNX Runtime.

    The version names the checkpoint's own files; an adapter's does not name its base encoder, whose files'
    stamp (`base_stamp`) is part of the key too, so a changed base gives a new graph, not a stale one.  (A
    fingerprint of the weights as loaded would not do: merging LoRA is not bit-for-bit reproducible, and a
    base loaded without its unused pooler gets random pooler weights, so every start would export again.)
    """
    import onnxruntime
    import torch

    text = (f"{RECIPE}|{model.version}|{getattr(model, 'base_stamp', '')}|torch {torch.__version__}|"
            f"onnxruntime {onnxruntime.__version__}")
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class OnnxLogits:
    """`forward(encoding) -> logits` for `mood.transformer.tokenized_probabilities`, run by ONNX Runtime."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, encoding: Any) -> Any:
        import torch

        feed = {name: encoding[name].cpu().numpy().astype("int64") for name in _INPUTS}
        return torch.from_numpy(self.session.run(None, feed)[0])


def _logits_module(model: Any) -> Any:
    """The module to export: an adapter model's classifier, or a wrapper returning a HF model's logits."""
    import torch

    net = getattr(model, "net", None)
    if net is not None:
        return net

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    return Logits(model.model)


def _export(model: Any, target: Path) -> None:
    """Export `model` (float, on CPU) to ONNX and quantise it into `target`, atomically."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    module = _logits_module(model).eval()
    example = model.tokenizer(["a short example", "and a slightly longer example message"], padding=True,
                              return_tensors="pt")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "logits": {0: "batch"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as work:
        plain, quantised = Path(work) / "float.onnx", Path(work) / "int8.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's tracer warnings name transformers internals
            torch.onnx.export(module, (example["input_ids"], example["attention_mask"]), str(plain),
                              input_names=list(_INPUTS), output_names=["logits"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
            advice = _QuantiserAdvice()
            logging.getLogger().addFilter(advice)
            try:
                quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8, per_channel=True,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            finally:
                logging.getLogger().removeFilter(advice)
        os.replace(quantised, target)  # two processes exporting at once: the last complete file wins


def prune_unused(folder: Path, keep: Path, *, days: float = UNUSED_DAYS) -> list[Path]:
    """Delete the cached graphs in `folder` other than `keep` not used for `days`; the ones deleted.

    A file that vanishes or cannot be deleted meanwhile (another process pruning, a read-only cache) is
    left alone: pruning only saves space.
    """
    import time

    cutoff = time.time() - days * 86400
    removed = []
    for graph in folder.glob(f"*{_SUFFIX}"):
        try:
            if graph != keep and graph.stat().st_mtime < cutoff:
                graph.unlink()
                removed.append(graph)
        except OSError:
            continue
    return removed


def int8_session(model: Any, cache_dir: Path, threads: int) -> OnnxLogits:
    """The int8 ONNX Runtime forward of `model` (an AdapterModel or HFModel), exported on first use.

    Raises whatever the export raises (the caller keeps the torch path and notes why); a cached file that
    does not load is exported again.
    """
    path = cache_dir / "onnx" / f"{model_key(model)}{_SUFFIX}"
    if path.is_file():
        try:
            session = OnnxLogits(path, threads)
        except Exception:  # noqa: BLE001 - a truncated or foreign file: export again
            path.unlink(missing_ok=True)
        else:
            _mark_used(path)
            return session
    _export(model, path)
    prune_unused(path.parent, keep=path)
    return OnnxLogits(path, threads)


def _mark_used(path: Path) -> None:
    """Set the graph's modification time to now: its last use, which pruning goes by."""
    try:
        os.utime(path)
    except OSError:  # a read-only cache: nothing is pruned there either
        pass
