"""`moodtape train|eval|bench emotion` on tiny synthetic data and tiny random checkpoints (seconds, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from moodtape.bot.cli import main
from moodtape.core.mood.reader import EmotionClassifier
from moodtape.core.errors import UserError
from tests.tiny_models import build_tiny_roberta, one_torch_thread  # noqa: F401 (autouse fixture)
from moodtape.training.emotion import TrainConfig, train
from moodtape.training.emotion_data import EKMAN, load_emotion_data
from moodtape.training.eval_emotion import classification_metrics

DATA = Path(__file__).parents[1] / "fixtures" / "emotion"
EKMAN_TSV = DATA / "goemotions_ekman.tsv"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "roberta", labels=EKMAN)


@pytest.fixture(scope="module")
def tiny_two_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny RoBERTa with a second encoder layer, so LoRA can sit above a frozen, replayed layer."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    path = build_tiny_roberta(tmp_path_factory.mktemp("tiny") / "two", labels=EKMAN)
    config = RobertaConfig.from_pretrained(path)
    config.num_hidden_layers = 2
    RobertaForSequenceClassification(config).save_pretrained(path)
    return path


def _config(tmp_path: Path, model: Path, method: str, **extra: object) -> TrainConfig:
    values: dict[str, object] = dict(data=str(EKMAN_TSV), format="goemotions-ekman", out=str(tmp_path / method),
                                     model=str(model), method=method, dev=str(EKMAN_TSV), epochs=1, batch_size=8,
                                     save_every=2)
    values.update(extra)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_data_readers_skip_and_count_multilabel_rows() -> None:
    data = load_emotion_data(EKMAN_TSV, "goemotions-ekman")
    assert len(data) == 36 and data.skipped_multilabel == 3 and data.label_names == EKMAN
    assert data.counts()["joy"] == 6 and data.counts()["fear"] == 4
    korean = load_emotion_data(DATA / "ko_single_turn.csv", "ko-single-turn")
    assert len(korean) == 21 and korean.label_names[0] == "행복"
    dair = load_emotion_data(DATA / "dair.txt", "dair")
    assert len(dair) == 12 and "love" in dair.label_names
    assert load_emotion_data(DATA / "goemotions_ko.tsv", "goemotions-ko").skipped_multilabel == 1


def test_data_readers_refuse_the_wrong_layout() -> None:
    with pytest.raises(UserError, match="no column Sentence"):
        load_emotion_data(EKMAN_TSV, "ko-single-turn")
    with pytest.raises(UserError, match="no such file"):
        load_emotion_data(DATA / "missing.tsv", "goemotions")
    with pytest.raises(UserError, match="unknown data format"):
        load_emotion_data(EKMAN_TSV, "tweets")


def test_metrics() -> None:
    result = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert result["accuracy"] == 0.6
    assert result["per_label"]["b"]["f1"] == pytest.approx(0.8)
    assert result["per_label"]["a"]["f1"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3, abs=1e-4)


def test_full_fine_tune_writes_a_loadable_checkpoint_and_card(tmp_path: Path, tiny: Path) -> None:
    result = train(_config(tmp_path, tiny, "full", command="moodtape train emotion ..."), progress=False)
    out = tmp_path / "full"
    assert (out / "config.json").is_file() and (out / "README.md").is_file()
    assert not (out / "checkpoint").exists()  # the resume state is removed once the run is complete
    card = (out / "README.md").read_text()
    assert "goemotions_ekman.tsv" in card and "macro-F1" in card and "Apache-2.0" in card
    assert "36 single-label rows used, 3 multi-label rows" in card
    assert result["evaluations"]["dev"]["n"] == 36
    classifier = EmotionClassifier(out)
    assert classifier.labels == EKMAN
    assert classifier.classify(["i am so happy today"])[0].label in EKMAN


def test_lora_and_head_write_the_compact_format(tmp_path: Path, tiny: Path) -> None:
    for method in ("lora", "head"):
        train(_config(tmp_path, tiny, method, epochs=2), progress=False)
        out = tmp_path / method
        spec = json.loads((out / "moodtape_emotion.json").read_text())
        assert spec["kind"] == "encoder-adapter" and spec["base"] == str(tiny) and spec["labels"] == EKMAN
        assert not (out / "model.safetensors").exists()  # the base encoder is not copied
        reading = EmotionClassifier(out).classify(["what a surprise"])[0]
        assert set(reading.probs) == set(EKMAN)


def test_training_learns_the_fixture(tmp_path: Path, tiny: Path) -> None:
    """Enough epochs on 36 rows: the dev (= train) macro-F1 must beat always answering the biggest class."""
    result = train(_config(tmp_path, tiny, "lora", epochs=10, lr=3e-2, save_every=0), progress=False)
    assert result["evaluations"]["dev"]["macro_f1"] > 0.5


def test_lora_above_replayed_frozen_layers_matches_the_real_forward(tmp_path: Path, tiny_two_layers: Path) -> None:
    """Layer 0 is frozen and replayed from a cache; the trained checkpoint must read exactly as trained."""
    result = train(_config(tmp_path, tiny_two_layers, "lora", epochs=3, lr=1e-2, lora_layers=[1],
                           pool_layers=[-1, -2]), progress=False)
    spec = json.loads((tmp_path / "lora" / "moodtape_emotion.json").read_text())
    assert spec["lora"]["layers"] == [1] and spec["pool_layers"] == [-1, -2]
    history = result["history"][-1]
    # The per-epoch dev score used the replayed states; the final one reloads the checkpoint and runs
    # every layer for real. They agree (float16 storage aside).
    assert history["macro_f1"] == pytest.approx(result["evaluations"]["dev"]["macro_f1"], abs=0.03)


def test_pooling_below_the_replayed_layers_is_refused(tmp_path: Path, tiny_two_layers: Path) -> None:
    with pytest.raises(UserError, match="below the lowest LoRA layer"):
        train(_config(tmp_path, tiny_two_layers, "lora", lora_layers=[1], pool_layers=[-1, 0]), progress=False)


def test_resume_continues_to_the_same_weights(tmp_path: Path, tiny: Path) -> None:
    import torch
    from safetensors.torch import load_file

    straight = train(_config(tmp_path / "a", tiny, "full", epochs=2), progress=False)
    assert straight["history"]
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path / "b", tiny, "full", epochs=2), progress=False, stop_after=5)
    assert (tmp_path / "b" / "full" / "checkpoint" / "state.pt").is_file()
    with pytest.raises(UserError, match="--resume"):
        train(_config(tmp_path / "b", tiny, "full", epochs=2), progress=False)
    with pytest.raises(UserError, match="different settings"):
        train(_config(tmp_path / "b", tiny, "full", epochs=2, lr=1e-3), resume=True, progress=False)
    train(_config(tmp_path / "b", tiny, "full", epochs=2), resume=True, progress=False)
    a = load_file(str(tmp_path / "a" / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "full" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_ngram_model_for_korean(tmp_path: Path) -> None:
    config = TrainConfig(data=str(DATA / "goemotions_ko.tsv"), format="goemotions-ko", out=str(tmp_path / "ko"),
                         method="ngram", epochs=40, lr=0.05, batch_size=4, buckets=4096, save_every=0,
                         eval_on=[f"ko-single-turn:{DATA / 'ko_single_turn.csv'}"])
    result = train(config, progress=False)
    mapped = result["evaluations"]["ko-single-turn:ko_single_turn.csv"]
    assert mapped["label_matching"] == "canonical" and len(mapped["compared_labels"]) == 7
    assert mapped["accuracy"] > 0.8  # the same sentences, Korean label names mapped to Ekman ones
    classifier = EmotionClassifier(tmp_path / "ko")
    assert classifier.classify(["너무 슬퍼서 눈물이 나요"])[0].label == "sadness"


def test_train_command_with_a_hub_id_offline_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["train", "emotion", "--model", "moodtape-test/no-such-model", "--data", str(EKMAN_TSV),
                 "--format", "goemotions-ekman", "--out", str(tmp_path / "x")])
    assert code == 2 and "HF_HUB_OFFLINE" in capsys.readouterr().err


def test_eval_command_writes_json_and_confusion_png(tmp_path: Path, tiny: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "confusion.png"
    code = main(["eval", "emotion", "--data", str(EKMAN_TSV), "--format", "goemotions-ekman", "--model", str(tiny),
                 "--json", "--confusion", str(png)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"accuracy", "macro_f1", "per_label", "n", "skipped_multilabel"} <= set(data)
    assert data["n"] == 36 and data["skipped_multilabel"] == 3 and set(data["per_label"]) == set(EKMAN)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_maps_label_names_across_data_sets(tiny: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["eval", "emotion", "--data", str(DATA / "dair.txt"), "--format", "dair", "--model", str(tiny)])
    text = capsys.readouterr().out
    assert code == 0 and "labels compared (mapped to Ekman names): sadness, joy, anger, fear, surprise" in text
    assert "2 with a label the model cannot name" in text  # the two "love" rows
    # the confusion matrix is written by default, next to where the command ran
    assert "confusion matrix: confusion-dair-dair.png" in text
    assert (tmp_path / "confusion-dair-dair.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_can_skip_the_png(tiny: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "emotion", "--data", str(DATA / "dair.txt"), "--format", "dair", "--model", str(tiny),
                 "--no-confusion"]) == 0
    assert "confusion matrix" not in capsys.readouterr().out and not list(tmp_path.glob("*.png"))


def test_bench_command(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "emotion", "--model", str(tiny), "--messages", "12", "--batches", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    entry = data["models"][0]
    assert code == 0 and entry["single"]["n"] == 12 and entry["single"]["median_ms"] > 0
    assert entry["batch"]["messages"] == 64 and entry["batch"]["messages_per_s"] > 0
    assert np.isfinite(entry["single"]["p99_ms"])
