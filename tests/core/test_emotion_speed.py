"""The emotion speed-ups (core.mood.speed): the optimised path reads messages as the float path does, keeps
their order under length grouping, and copes with empty and very long messages; tiny random models only."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import pytest

from moodtape.core.mood import EmotionClassifier
from moodtape.core.mood.speed import length_groups
from tests.tiny_models import EKMAN, build_tiny_roberta, one_torch_thread  # noqa: F401 (autouse fixture)

MESSAGES = [
    "i am so happy today", "ok", "this is terrible and i am sad " * 6, "what a surprise",
    "i feel scared and alone", "that is disgusting", "it is an ordinary day", "i love this song so much",
    "everything went wrong today and i am angry at everything", "fun",
]


def build_tiny_adapter(path: Path, base: Path) -> Path:
    """A compact encoder-adapter checkpoint over the tiny RoBERTa: LoRA on layer 0 (query, value and the
    three dense layers: 5 modules), mean pooling over two layers.

    LoRA B is random (not the zero a training run starts from) so that merging it changes the weights.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModel

    from moodtape.core.mood.models import add_lora, build_encoder_classifier

    spec = {"format": "moodtape-emotion", "format_version": 1, "kind": "encoder-adapter", "name": "tiny-adapter",
            "base": str(base), "labels": EKMAN, "multi_label": False, "max_length": 64,
            "lora": {"rank": 4, "alpha": 8.0, "targets": ["query", "value", "dense"], "layers": [0]},
            "pool_layers": [-1, -2], "head_hidden": 0}
    encoder = AutoModel.from_pretrained(base)
    add_lora(encoder, 4, 8.0, spec["lora"]["targets"], 0.0, [0])
    net = build_encoder_classifier()(encoder, len(EKMAN), spec["pool_layers"], 0, 0.0)
    generator = torch.Generator().manual_seed(7)
    state = {}
    for name, param in net.named_parameters():
        if ".lora_" in name or name.startswith("head."):
            scale = 1.0 if name.startswith("head.") else 0.5
            state[name] = torch.randn(param.shape, generator=generator) * scale
    path.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path / "weights.safetensors"))
    (path / "moodtape_emotion.json").write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("speed") / "roberta")


@pytest.fixture(scope="module")
def adapter(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_adapter(tmp_path_factory.mktemp("speed") / "adapter", tiny)


def _close(a: object, b: object, tol: float) -> bool:
    return all(math.isclose(a.probs[k], b.probs[k], abs_tol=tol) for k in a.probs)  # type: ignore[attr-defined]


def test_length_groups_cover_every_text_once_and_keep_short_texts_apart() -> None:
    lengths = [3, 64, 5, 4, 60, 3, 64, 6, 2, 62]
    groups = length_groups(lengths, max_batch=4, overhead=8)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    assert all(1 <= len(group) <= 4 for group in groups)
    longest_group = next(group for group in groups if 1 in group)
    assert all(lengths[i] >= 60 for i in longest_group)  # one-word messages are not padded to 64 tokens
    # With a huge per-call overhead the fewest calls win: ceil(10 / 4) groups.
    assert len(length_groups(lengths, max_batch=4, overhead=10**9)) == 3
    assert length_groups([], max_batch=4) == []


def test_adapter_is_merged_by_default_and_int8_only_when_asked(adapter: Path) -> None:
    plain = EmotionClassifier(adapter, optimised=False)
    exact = EmotionClassifier(adapter)
    fast = EmotionClassifier(adapter, quantize=True)
    assert plain.speedups.describe() == "float"
    assert exact.speedups.lora_merged == 5 and not exact.speedups.int8 and exact.speedups.length_groups
    assert fast.speedups.int8 and fast.speedups.onnx and fast.speedups.lora_merged == 5
    reference = plain.classify(MESSAGES)
    assert len({r.label for r in reference}) > 1  # the tiny head really tells messages apart
    for ref, same, quick in zip(reference, exact.classify(MESSAGES), fast.classify(MESSAGES)):
        assert same.label == ref.label and _close(same, ref, 1e-5)
        # int8 on a 16-wide random encoder moves probabilities by up to ~0.08 (MiniLM: see bench emotion)
        assert quick.label == ref.label and _close(quick, ref, 0.1)
        assert quick.model == ref.model  # the same checkpoint, whatever path reads it


def test_order_is_kept_under_length_grouping(adapter: Path) -> None:
    fast = EmotionClassifier(adapter, batch_size=3)
    one_by_one = [fast.classify([text])[0] for text in MESSAGES]
    batched = fast.classify(MESSAGES)
    assert [r.text for r in batched] == MESSAGES
    for single, together in zip(one_by_one, batched):
        assert single.label == together.label and _close(single, together, 1e-5)


@pytest.mark.parametrize("quantize", [False, True])
def test_empty_and_very_long_messages_on_the_optimised_path(adapter: Path, quantize: bool) -> None:
    fast = EmotionClassifier(adapter, quantize=quantize)
    novel = "i feel scared and alone " * 3000
    readings = fast.classify(["", novel, "   ", "ok"])
    assert readings[0].confidence == 0.0 and readings[2].confidence == 0.0
    assert readings[1].confidence > 0.0 and math.isclose(sum(readings[1].probs.values()), 1.0, abs_tol=1e-4)
    assert readings[3].confidence > 0.0
    assert fast.classify([novel])[0].label == readings[1].label


def test_hf_checkpoints_are_grouped_and_get_int8_only_when_asked(tiny: Path) -> None:
    default = EmotionClassifier(tiny)
    assert default.speedups.length_groups and not default.speedups.int8
    asked = EmotionClassifier(tiny, quantize=True)
    assert asked.speedups.int8 and asked.speedups.onnx  # a Hugging Face classifier runs in ONNX Runtime too
    plain = EmotionClassifier(tiny, optimised=False)
    for ref, same, quick in zip(plain.classify(MESSAGES), default.classify(MESSAGES), asked.classify(MESSAGES)):
        assert same.label == ref.label and _close(same, ref, 1e-5)
        assert _close(quick, ref, 0.1)


def test_the_int8_setting_reaches_the_mood_reader(tiny: Path) -> None:
    from moodtape.core.config import Settings
    from moodtape.core.mood.reader import MoodReader

    assert not MoodReader(Settings(emotion_model=str(tiny), emotion_int8=False)).english.speedups.int8
    reader = MoodReader(Settings(emotion_model=str(tiny)))  # int8 is the default on CPU
    assert reader.english.speedups.int8
    (reading,) = reader.read(["what a day"])  # the int8 model reads
    assert -1.0 <= reading.valence <= 1.0 and -1.0 <= reading.arousal <= 1.0


def test_gpu_devices_keep_float_weights() -> None:
    from moodtape.core.mood.speed import optimise

    class FakeAdapter:  # optimise only looks at `net`; a CUDA device must not be quantised
        def __init__(self) -> None:
            import torch

            self.net = torch.nn.Module()
            self.net.encoder = torch.nn.Sequential(torch.nn.Linear(4, 4))

    model = FakeAdapter()
    done = optimise(model, "cuda:0", quantize=True)
    assert not done.int8 and "CPU-only" in done.notes[0]
    assert model.overhead_tokens > 10**6  # on a GPU, fewest forward passes: padding is nearly free
    import torch

    assert isinstance(model.net.encoder[0], torch.nn.Linear)


def test_the_onnx_graph_is_exported_once_and_the_torch_path_remains(adapter: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "onnx"
    folder.mkdir()
    old, recent = folder / ("0" * 24 + ".int8.onnx"), folder / ("1" * 24 + ".int8.onnx")
    for graph, days in ((old, 45), (recent, 3)):  # another model version's graphs, last used then
        graph.write_bytes(b"not a graph")
        when = time.time() - days * 86400
        os.utime(graph, (when, when))
    with caplog.at_level(logging.DEBUG):
        first = EmotionClassifier(adapter, quantize=True, cache_dir=tmp_path)
    assert not [r for r in caplog.records if "quantization" in r.pathname]  # the quantiser's advice is dropped
    (graph,) = set(folder.glob("*.int8.onnx")) - {recent}
    assert not old.exists() and recent.exists()  # unused for 30 days: deleted when a new graph is exported
    inode = graph.stat().st_ino
    os.utime(graph, (time.time() - 86400, time.time() - 86400))
    again = EmotionClassifier(adapter, quantize=True, cache_dir=tmp_path)  # loads the cached graph
    assert again.speedups.onnx and graph.stat().st_ino == inode  # not exported again ...
    assert graph.stat().st_mtime > time.time() - 60  # ... and marked as used now
    assert sorted(folder.iterdir()) == sorted([graph, recent])  # no leftovers of the export
    torch_int8 = EmotionClassifier(adapter, quantize=True, cache_dir=tmp_path, onnx=False)
    assert torch_int8.speedups.int8 and not torch_int8.speedups.onnx
    assert torch_int8.speedups.describe().endswith("+int8")
    for a, b, c in zip(first.classify(MESSAGES), again.classify(MESSAGES), torch_int8.classify(MESSAGES)):
        assert a.probs == b.probs and _close(a, c, 0.1)


def test_a_failed_export_falls_back_to_torch_int8(adapter: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from moodtape.core.mood import onnx_int8

    def refuse(model: object, target: Path) -> None:
        raise RuntimeError("this exporter cannot trace the model")

    monkeypatch.setattr(onnx_int8, "_export", refuse)
    fast = EmotionClassifier(adapter, quantize=True, cache_dir=tmp_path)
    assert fast.speedups.int8 and not fast.speedups.onnx
    assert "cannot trace" in fast.speedups.notes[0]
    assert fast.classify(["i am so happy today"])[0].confidence > 0


def test_onnx_runtime_and_the_export_work_after_the_store_loaded_usearch(tiny: Path, tmp_path: Path) -> None:
    """usearch's extension, loaded first, used to break later C++ libraries (ONNX Runtime refused valid
    graphs or crashed, torch's tracer hung); `db.usearch_index` loads the system C++ runtime before it.
    A fresh process, as in the bot: the store first, then the emotion model."""
    import subprocess
    import sys

    script = (
        "import sys, moodtape.db.store\n"
        "assert 'usearch.index' in sys.modules\n"
        "from moodtape.core.mood import EmotionClassifier\n"
        f"c = EmotionClassifier({str(tiny)!r}, quantize=True, cache_dir={str(tmp_path)!r})\n"
        "print(c.speedups.describe(), c.speedups.notes, c.classify(['what a day'])[0].confidence > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "length-groups+onnxruntime-int8 [] True"
