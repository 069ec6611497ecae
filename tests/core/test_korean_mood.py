"""Korean and mixed-language mood reading: chat spellings, the n-gram model's feature options, code-switched
messages read by both models, and 24 hand-written messages whose mood direction a person would agree on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from moodtape.core.errors import UserError
from moodtape.core.mood.ngram import NgramModel, ngram_features, normalise_informal
from moodtape.core.mood.reader import (
    BUNDLED_KOREAN,
    MoodReader,
    MoodReading,
    combine_readings,
    latin_part,
    reading_from_probs,
    script_shares,
)

from tests.core.test_emotion import make_settings

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


# ----------------------------------------------------------------------------- chat spellings
@pytest.mark.parametrize("raw, expected", [
    ("ㅋㅋㅋㅋㅋㅋ 웃겨", "ㅋㅋ 웃겨"),
    ("너무너무너무 좋아!!!!", "너무너무 좋아!!"),
    ("보고싶어ㅜㅜㅜ", "보고싶어 ㅠㅠ"),  # the trailing jamo leave the word, ㅜㅜ == ㅠㅠ
    ("T_T 슬퍼 :(", "ㅠㅠ 슬퍼 ㅠㅠ"),  # tears however they are typed
    ("좋아요 :) ^^", "좋아요 emosmile emosmile"),
    ("아 진짜 -_-", "아 진짜 ㅡㅡ"),
    ("헐 ㄷㄷㄷㄷ", "헐 ㄷㄷ"),
    ("meet at 10:30 (ok)", "meet at 10:30 (ok)"),  # times and brackets are not faces
])
def test_informal_spellings_meet_in_one_form(raw: str, expected: str) -> None:
    assert normalise_informal(raw) == expected


def test_laughter_length_does_not_change_the_features() -> None:
    long = ngram_features("ㅋㅋㅋㅋㅋㅋㅋ 진짜 웃겨", 1 << 16, normalise="informal-v1")
    short = ngram_features("ㅋㅋ 진짜 웃겨", 1 << 16, normalise="informal-v1")
    assert np.array_equal(long[0], short[0]) and np.allclose(long[1], short[1])
    plain = ngram_features("ㅋㅋㅋㅋㅋㅋㅋ 진짜 웃겨", 1 << 16)  # models without normalisation read as before
    assert not np.array_equal(np.sort(plain[0]), np.sort(short[0]))


def _ngram_folder(path: Path, extra: dict[str, object]) -> Path:
    from safetensors.numpy import save_file

    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    save_file({"weight": rng.normal(size=(512, 7)).astype(np.float16), "bias": np.zeros(7, np.float16)},
              str(path / "weights.safetensors"))
    spec = {"format": "moodtape-emotion", "format_version": 1, "kind": "char-ngram", "name": path.name,
            "labels": EKMAN, "buckets": 512, "char_ngrams": [1, 3], **extra}
    (path / "moodtape_emotion.json").write_text(json.dumps(spec), encoding="utf-8")
    return path


def test_folders_without_feature_keys_read_as_they_always_did(tmp_path: Path) -> None:
    model = NgramModel(_ngram_folder(tmp_path / "old", {}), json.loads(
        (tmp_path / "old" / "moodtape_emotion.json").read_text(encoding="utf-8")))
    assert model.features == ("char",) and model.normalise == "none"
    text = "오늘은 ㅋㅋㅋㅋ 좋아"
    ids, weights = ngram_features(text, 512)
    expected = model.bias + weights @ model.weight[ids]
    assert np.allclose(model.logits([text])[0], expected)


def test_unknown_feature_names_are_refused(tmp_path: Path) -> None:
    folder = _ngram_folder(tmp_path / "new", {"features": ["char", "bpe"]})
    with pytest.raises(UserError, match="unknown n-gram features bpe"):
        NgramModel(folder, json.loads((folder / "moodtape_emotion.json").read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------- code-switching
def _reading(probs: dict[str, float], model: str) -> MoodReading:
    return reading_from_probs("x", probs, max(probs.values()), "ko", model)


def test_combining_weighs_script_share_and_confidence() -> None:
    korean = _reading({"neutral": 0.4, "joy": 0.3, "sadness": 0.3}, "ko@1")
    english = _reading({"joy": 0.9, "neutral": 0.1}, "en@1")
    mixed = combine_readings("오늘 너무 happy 해", korean, english, 3, 1)
    # weights 3/4 * 0.4 = 0.3 (Korean) and 1/4 * 0.9 = 0.225 (English): joy wins over neutral.
    assert mixed.label == "joy" and mixed.valence > korean.valence
    assert mixed.probs["joy"] == pytest.approx((0.3 * 0.3 + 0.225 * 0.9) / 0.525)
    assert mixed.model == "ko@1+en@1" and mixed.language == "ko"
    assert combine_readings("x", korean, english, 3, 0).probs == korean.probs  # no English words: Korean only


def test_script_shares_and_the_english_part() -> None:
    assert script_shares("오늘 너무 happy 해 ㅋㅋ") == (4, 1)
    assert script_shares("오늘 a 좋아") == (2, 0)  # a single letter is not an English word
    assert latin_part("오늘 너무 happy 해") == "happy"


@pytest.fixture(scope="module")
def reader() -> MoodReader:
    return MoodReader(make_settings(Path("/nonexistent-unused")), "cpu")


def test_code_switched_messages_use_both_models(reader: MoodReader) -> None:
    english_only, korean_only, mixed, mixed_sad = reader.read(
        ["I am so happy today", "오늘 너무 행복해", "오늘 너무 happy 해", "today was awful 진짜 우울해"])
    assert english_only.model == reader.english.version and english_only.language == "en"
    assert english_only.probs == reader.english.classify(["I am so happy today"])[0].probs  # unchanged path
    assert korean_only.model == reader.korean.version
    assert korean_only.probs == reader.korean.classify(["오늘 너무 행복해"])[0].probs
    assert mixed.model == f"{reader.korean.version}+{reader.english.version}"
    assert mixed.valence > 0.1 and mixed_sad.valence < -0.1


def test_chat_signs_read_as_people_mean_them(reader: MoodReader) -> None:
    laugh, long_laugh, tears, tremble, frown = reader.korean.classify(["ㅋㅋ", "ㅋㅋㅋㅋㅋㅋㅋ", "ㅜㅜㅜ", "헐 ㄷㄷㄷ", "오늘 :("])
    assert laugh.label == "joy" and laugh.valence > 0 and long_laugh.probs == laugh.probs
    assert tears.label == "sadness" and tears.valence < 0
    assert tremble.label in ("fear", "surprise")
    assert frown.label == "sadness"  # a Western face, learnt through the ㅠㅠ it is normalised to


# ----------------------------------------------------------------------------- 24 hand-written messages
#: Written for this test (not taken from any data set): (message, +1 pleasant / -1 unpleasant).
MESSAGES: list[tuple[str, int]] = [
    ("시험 망쳤어 너무 우울하다", -1),
    ("오늘 진짜 행복한 하루였어", 1),
    ("ㅋㅋㅋㅋ 너무 웃기다 진짜", 1),
    ("보고 싶어서 눈물 나ㅠㅠ", -1),
    ("아 진짜 짜증나 ㅡㅡ", -1),
    ("합격했어!! 너무너무 기뻐 ^^", 1),
    ("오늘 너무 happy 해", 1),
    ("this is so annoying 진짜 싫다", -1),
    ("친구랑 맛있는 거 먹어서 기분 최고", 1),
    ("혼자 있으니까 너무 외롭고 힘들어", -1),
    ("선물 고마워 정말 감동이야 :)", 1),
    ("왜 나한테만 이런 일이 생기는지 화가 나", -1),
    ("I failed my exam and I feel terrible", -1),
    ("Best day ever, I got the job!", 1),
    ("I'm so angry at my landlord right now", -1),
    ("Thank you so much, this made me really happy", 1),
    ("I miss my grandmother so much", -1),
    ("What a beautiful sunny morning", 1),
    ("I'm scared about the surgery tomorrow", -1),
    ("We won the championship!!", 1),
    ("This food is disgusting", -1),
    ("I love spending time with my friends", 1),
    ("Nobody ever listens to me, I feel so alone", -1),
    ("haha that was hilarious :)", 1),
]


def test_hand_written_messages_get_the_right_mood_direction(reader: MoodReader) -> None:
    assert BUNDLED_KOREAN.is_dir()
    readings = reader.read([text for text, _ in MESSAGES])
    wrong = [(text, round(r.valence, 3), r.label) for (text, sign), r in zip(MESSAGES, readings)
             if np.sign(r.valence) != sign]
    assert len(MESSAGES) == 24 and len(wrong) <= 2, wrong
