"""`moodtape bench emotion` compares the float, optimised and int8 inference paths in one run, with the F1
check, on a tiny random adapter checkpoint and the small GoEmotions fixture (seconds, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.core.test_emotion_speed import build_tiny_adapter
from tests.tiny_models import EKMAN, build_tiny_roberta, one_torch_thread  # noqa: F401 (autouse fixture)

EKMAN_TSV = Path(__file__).parents[1] / "fixtures" / "emotion" / "goemotions_ekman.tsv"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    return build_tiny_adapter(folder / "adapter", build_tiny_roberta(folder / "roberta", labels=EKMAN))


def test_bench_reports_every_path_and_the_f1_check(adapter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "emotion", "--model", str(adapter), "--messages", "8", "--batches", "2",
                 "--batch-size", "8", "--f1-data", str(EKMAN_TSV), "--json"])
    entry = json.loads(capsys.readouterr().out)["models"][0]
    assert code == 0 and set(entry["paths"]) == {"float", "optimised", "int8", "int8-torch"}
    assert entry["paths"]["float"]["applied"]["applied"] == "float"
    assert entry["paths"]["int8"]["applied"]["int8"] and not entry["paths"]["optimised"]["applied"]["int8"]
    assert entry["paths"]["int8"]["applied"]["onnx"] and not entry["paths"]["int8-torch"]["applied"]["onnx"]
    assert entry["paths"]["optimised"]["applied"]["lora_merged"] == 5
    for path in entry["paths"].values():
        assert path["single"]["n"] == 8 and path["single"]["median_ms"] > 0 and path["single"]["p99_ms"] > 0
        assert path["batch"]["messages"] == 16 and path["batch"]["messages_per_s"] > 0
    assert entry["batch"] == entry["paths"]["int8"]["batch"]  # the top-level figures are the engine's default
    assert set(entry["speedup"]) == {"optimised", "int8", "int8-torch"}
    assert entry["speedup"]["optimised"]["batch_messages_per_s"] > 0
    check = entry["f1_check"]
    assert check["n"] == 36 and check["tolerance"] == 0.005
    assert check["paths"]["float"]["macro_f1_delta"] == 0.0 and check["paths"]["float"]["same_label"] == 1.0
    optimised = check["paths"]["optimised"]
    assert optimised["same_label"] == 1.0 and optimised["max_prob_diff"] < 1e-4 and optimised["within_tolerance"]
    for name in ("int8", "int8-torch"):
        int8 = check["paths"][name]
        assert 0.0 <= int8["macro_f1"] <= 1.0 and int8["same_label"] > 0.8


def test_bench_text_output_names_the_paths(adapter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "emotion", "--model", str(adapter), "--messages", "4", "--batches", "1",
                 "--batch-size", "4", "--f1-data", str(EKMAN_TSV), "--f1-limit", "10"]) == 0
    out = capsys.readouterr().out
    for name in ("float", "optimised", "int8", "int8-torch"):
        assert f"  {name} " in out
    assert "macro-F1" in out and "messages/s" in out
