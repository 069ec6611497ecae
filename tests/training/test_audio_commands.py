"""Audio evaluation and the KNN/embed benchmarks on small inputs (shapes and invariants, not speeds)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from moodtape.training.bench import bench_knn
from moodtape.training.retrieval_metrics import chance_precision, precision_at_k


def test_precision_at_k_and_chance() -> None:
    vectors = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]
    labels = ["a", "a", "b", "b"]
    assert precision_at_k(vectors, labels, ks=(1,))["p@1"] == 1.0
    assert chance_precision(labels) == pytest.approx(1 / 3)


def test_bench_knn_recall_is_exact_for_small_n() -> None:
    result = bench_knn(n=2000, dim=64, k=5, queries=20)
    assert result["sqlite_vec"]["recall_at_10"] == 1.0
    assert result["sqlite_vec"]["p50_ms"] > 0 and result["numpy"]["p50_ms"] > 0
    assert result["ratios"]["sqlite_vec_over_numpy_p50"] > 0


def test_eval_audio_cli(capsys: pytest.CaptureFixture[str], audio_dir: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        for name, label in [("pad_a.wav", "pad"), ("pad_a.mp3", "pad"), ("pad_b.mp3", "pad"),
                            ("beat_a.ogg", "beat"), ("beat_b.mp3", "beat"), ("corrupt.mp3", "beat")]:
            writer.writerow([name, label])
    code = main(["eval", "audio", "--data", str(audio_dir), "--labels", str(labels), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["n"] == 5 and data["skipped"] == 1
    assert data["encoders"]["handcrafted"]["p@5"] >= 0 and set(data["encoders"]["handcrafted"]) == {"p@5", "p@10"}


def test_bench_embed_cli(capsys: pytest.CaptureFixture[str], audio_dir: Path) -> None:
    code = main(["bench", "embed", str(audio_dir), "--limit", "3", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["tracks"] + data["failed"] == 3 and data["tracks_per_s"] > 0
