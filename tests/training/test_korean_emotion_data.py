"""Korean emotion data and training paths: KOTE's 44 labels -> 7 moods, the `#dev` carve, `mix` files,
KOTE's multi-label scoring in `moodtape eval emotion`, and n-gram training with Kiwi morphemes and the
informal-text normalisation.  Synthetic rows only (seconds, offline; no research data is read)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from moodtape.bot.cli import main
from moodtape.core.errors import UserError
from moodtape.core.mood.ngram import kiwi_available
from moodtape.core.mood.space import KOTE_MOOD, canonical_label, label_point
from moodtape.training.emotion import TrainConfig, train
from moodtape.training.emotion_data import EKMAN, carve, kote_mood, load_emotion_data
from moodtape.training.eval_emotion import multilabel_metrics

from tests.tiny_models import one_torch_thread  # noqa: F401 (autouse fixture)

# Synthetic, hand-written rows in the layouts of the real files (never rows of the research-only sets).
SAD = ["시험 망쳐서 너무 우울해", "오늘 진짜 슬프다ㅠㅠ", "혼자라서 외로워요", "눈물이 계속 나ㅜㅜ", "다 끝난 것 같아 슬퍼"]
JOY = ["오늘 너무 행복해", "시험 붙었어 신난다ㅋㅋ", "선물 받아서 기뻐요^^", "최고의 하루였어", "너무 좋아서 웃음이 나"]
ANGRY = ["진짜 화가 난다", "왜 맨날 나한테만 그래 짜증나", "어이없네 진짜 열받아", "그만 좀 해 화나니까", "완전 빡쳤어 ㅡㅡ"]


def _write_kote(path: Path) -> Path:
    rows = [("정말 감동이에요 고맙습니다", "감동/감탄,고마움,존경"),
            ("이게 말이 되냐 어이없다", "불평/불만,어이없음,짜증,슬픔"),  # anger 3, sadness 1
            ("너무 무섭고 슬프다", "공포/무서움,슬픔"),  # a tie: fear before sadness
            ("그냥 그렇네요", "없음"),
            ("", "기쁨"),  # empty text: skipped
            ]
    lines = ["text\tlabels\tid"] + [f"{t}\t{labels}\t{i}" for i, (t, labels) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_single_turn(path: Path, copies: int = 4) -> Path:
    rows = [("Sentence", "Emotion")]
    for _ in range(copies):
        rows += [(t, "슬픔") for t in SAD] + [(t, "행복") for t in JOY] + [(t, "분노") for t in ANGRY]
    path.write_text("\n".join(f"{a},{b}" for a, b in rows) + "\n", encoding="utf-8")
    return path


def test_every_kote_label_has_a_mood_and_a_place_in_the_space() -> None:
    assert len(KOTE_MOOD) == 44 and set(KOTE_MOOD.values()) == set(EKMAN)
    for name, mood in KOTE_MOOD.items():
        assert canonical_label(name) == mood and label_point(name) is not None
    assert label_point("절망")[0] < 0 < label_point("뿌듯함")[0]  # type: ignore[index]


def test_kote_rows_take_the_majority_mood_and_keep_every_label(tmp_path: Path) -> None:
    data = load_emotion_data(_write_kote(tmp_path / "kote.tsv"), "kote")
    assert data.label_names == EKMAN and len(data) == 4 and data.skipped_empty == 1
    assert [EKMAN[i] for i in data.labels] == ["joy", "anger", "fear", "neutral"]
    assert data.label_sets is not None and data.label_sets[1] == ["불평/불만", "어이없음", "짜증", "슬픔"]
    assert kote_mood(["슬픔", "기쁨"]) == "sadness" and kote_mood(["없음", "기쁨"]) == "joy"
    assert kote_mood(["no-such-label"]) is None


def test_dev_carve_is_seeded_stratified_and_disjoint(tmp_path: Path) -> None:
    path = _write_single_turn(tmp_path / "st.csv", copies=10)  # 50 rows per label
    whole = load_emotion_data(path, "ko-single-turn")
    dev = load_emotion_data(f"{path}#dev", "ko-single-turn")
    rest = load_emotion_data(f"{path}#train", "ko-single-turn")
    assert len(dev) == 15 and len(rest) == 135 and set(dev.counts().values()) == {0, 5}  # 10 % of each label
    assert sorted(dev.texts + rest.texts) == sorted(whole.texts)
    assert load_emotion_data(f"{path}#dev", "ko-single-turn").texts == dev.texts  # the same rows every time
    assert carve([0] * 10 + [1] * 10, "dev") != carve([0] * 10 + [1] * 10, "dev", seed=1)


def test_a_mix_file_maps_every_set_to_the_seven_moods(tmp_path: Path) -> None:
    _write_single_turn(tmp_path / "st.csv", copies=1)
    _write_kote(tmp_path / "kote.tsv")
    mix = tmp_path / "ko.mix"
    mix.write_text("# comment\nko-single-turn st.csv 2\nkote kote.tsv\n", encoding="utf-8")
    data = load_emotion_data(mix, "mix")
    assert data.label_names == EKMAN and len(data) == 2 * 15 + 4
    assert data.counts()["sadness"] == 10 and data.counts()["anger"] == 11
    assert [s["format"] for s in data.sources] == ["ko-single-turn", "kote"]
    assert data.sources[0]["weight"] == 2 and "research only" in str(data.sources[0]["licence"])
    mix.write_text("no-such-format st.csv\n", encoding="utf-8")
    with pytest.raises(UserError, match="FORMAT PATH"):
        load_emotion_data(mix, "mix")


def test_multilabel_scores_sets_not_just_the_top_label() -> None:
    scores = np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    result = multilabel_metrics([{0, 1}, {0}], scores, ["a", "b", "c"], threshold=0.25)
    assert result["per_label"]["b"]["f1"] == 1.0  # predicted through the threshold, not the argmax
    assert result["per_label"]["a"]["recall"] == 0.5 and result["top_in_gold"] == 0.5


def test_eval_emotion_on_kote_reports_multilabel_and_mapped_accuracy(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    kote = _write_kote(tmp_path / "kote.tsv")
    out = tmp_path / "model"
    train(TrainConfig(data=str(kote), format="kote", out=str(out), method="ngram", epochs=30, lr=0.1,
                      batch_size=2, buckets=2048, save_every=0, normalise="informal-v1"), progress=False)
    assert main(["eval", "emotion", "--data", str(kote), "--format", "kote", "--model", str(out),
                 "--no-confusion", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 4 and result["accuracy"] == 1.0  # memorised: each row's majority mood
    multi = result["multi_label"]
    assert multi["n"] == 4 and 0.0 < multi["macro_f1"] <= 1.0 and multi["top_in_gold"] == 1.0
    assert multi["per_label"]["sadness"]["support"] == 2  # rows 2 and 3 carry a sadness label
    assert main(["eval", "emotion", "--data", str(kote), "--format", "kote", "--model", str(out),
                 "--confusion", str(tmp_path / "c.png")]) == 0
    text = capsys.readouterr().out
    assert "multi-label" in text and "majority mood" in text and (tmp_path / "c.png").is_file()


@pytest.mark.skipif(not kiwi_available(), reason="kiwipiepy is an optional feature")
def test_train_ngram_with_morphemes_from_a_mix_and_read_it_back(tmp_path: Path) -> None:
    from moodtape.core.mood.reader import EmotionClassifier

    _write_single_turn(tmp_path / "st.csv", copies=2)
    mix = tmp_path / "ko.mix"
    mix.write_text("ko-single-turn st.csv#train\n", encoding="utf-8")
    dev = tmp_path / "dev.mix"
    dev.write_text("ko-single-turn st.csv#dev\n", encoding="utf-8")
    out = tmp_path / "model"
    result = train(TrainConfig(data=str(mix), format="mix", dev=str(dev), out=str(out), method="ngram",
                               epochs=20, lr=0.1, batch_size=4, buckets=4096, save_every=0,
                               features=["char", "morph"], normalise="informal-v1"), progress=False)
    spec = json.loads((out / "moodtape_emotion.json").read_text(encoding="utf-8"))
    assert spec["features"] == ["char", "morph"] and spec["normalise"] == "informal-v1"
    assert result["evaluations"]["dev"]["accuracy"] >= 0.5
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "st.csv#train" in card and "research only" in card  # the card names every set and its terms
    classifier = EmotionClassifier(out)
    sad, happy = classifier.classify(["시험 망쳐서 너무 우울해ㅠㅠㅠ", "시험 붙었어 신난다ㅋㅋㅋㅋ"])
    assert sad.label == "sadness" and happy.label == "joy"


def test_bench_times_a_korean_model_on_korean_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_single_turn(tmp_path / "st.csv", copies=1)
    out = tmp_path / "model"
    train(TrainConfig(data=str(tmp_path / "st.csv"), format="ko-single-turn", out=str(out), method="ngram",
                      epochs=2, batch_size=4, buckets=1024, save_every=0, normalise="informal-v1"), progress=False)
    assert main(["bench", "emotion", "--model", str(out), "--language", "ko", "--messages", "6", "--batches", "1",
                 "--batch-size", "4", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)["models"][0]
    from moodtape.training.bench_emotion import KOREAN, sample_messages

    korean = sample_messages(KOREAN, 6)
    assert entry["model"].startswith("model@")  # timed on the Korean phrases, not the English ones:
    assert entry["mean_words"] == round(sum(len(t.split()) for t in korean) / 6, 1)
    engine = entry["paths"]["optimised"]
    assert engine["single"]["n"] == 6 and engine["single"]["median_ms"] > 0 and engine["first_message_ms"] > 0
