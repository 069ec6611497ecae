"""Readers for the emotion-labelled text sets (formats of `../shared/data/emotion/`, README section 1).

Every reader returns the same `EmotionData`: texts, one label index per text, and the data set's full label
list in a fixed order (so a model trained on a small sample still has every label).  Training and evaluation
are single-label: rows carrying several labels are skipped and counted, never silently merged.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from moodtape.core.errors import UserError

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
GOEMOTIONS = [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief", "joy",
    "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise",
    "neutral",
]
DAIR = ["sadness", "joy", "love", "anger", "fear", "surprise"]
KO_SINGLE_TURN = ["행복", "놀람", "분노", "공포", "혐오", "슬픔", "중립"]


@dataclass(frozen=True)
class Format:
    """How one data set is laid out and which labels it uses."""

    name: str
    labels: list[str]
    kind: str  # tsv | csv | semicolon
    text_column: str = "text"
    label_column: str = "label"
    language: str = "en"
    licence: str = ""
    description: str = ""


FORMATS: dict[str, Format] = {
    "goemotions-ekman": Format("goemotions-ekman", EKMAN, "tsv", "text", "labels_ekman", "en", "Apache-2.0",
                               "GoEmotions (Demszky et al. 2020) mapped to Ekman's 6 emotions + neutral"),
    "goemotions": Format("goemotions", GOEMOTIONS, "tsv", "text", "labels_original", "en", "Apache-2.0",
                         "GoEmotions (Demszky et al. 2020), 27 emotions + neutral"),
    "goemotions-ko": Format("goemotions-ko", EKMAN, "tsv", "text", "labels_ekman", "ko", "Apache-2.0",
                            "GoEmotions-Korean (machine translation by Jangwon Park), Ekman labels + neutral"),
    "goemotions-ko-original": Format("goemotions-ko-original", GOEMOTIONS, "tsv", "text", "labels_original", "ko",
                                     "Apache-2.0", "GoEmotions-Korean, 27 emotions + neutral"),
    "dair": Format("dair", DAIR, "semicolon", language="en", licence="research and education only",
                   description="dair-ai emotion tweets (Saravia et al. 2018), 6 labels"),
    "ko-single-turn": Format("ko-single-turn", KO_SINGLE_TURN, "csv", "Sentence", "Emotion", "ko",
                             "AI Hub terms: research only, no redistribution",
                             "Korean single-turn conversation sentences (AI Hub), 7 labels"),
}


@dataclass
class EmotionData:
    texts: list[str]
    labels: list[int]
    label_names: list[str]
    format: str
    path: str
    skipped_multilabel: int = 0
    skipped_empty: int = 0
    skipped_unknown: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        counter = Counter(self.labels)
        return {name: counter.get(i, 0) for i, name in enumerate(self.label_names)}

    def summary(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "n": len(self), "labels": self.counts(),
                "skipped_multilabel": self.skipped_multilabel, "skipped_empty": self.skipped_empty,
                "skipped_unknown_label": sum(self.skipped_unknown.values())}


def load_emotion_data(path: Path, fmt: str, limit: int | None = None) -> EmotionData:
    """Read a labelled file; `limit` keeps the first N usable rows (quick experiments, tests)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown data format \"{fmt}\"; choose one of {', '.join(FORMATS)}")
    spec = FORMATS[fmt]
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    index = {name: i for i, name in enumerate(spec.labels)}
    data = EmotionData([], [], list(spec.labels), fmt, str(path))
    unknown: Counter[str] = Counter()
    for text, raw_label in _rows(path, spec):
        if limit is not None and len(data) >= limit:
            break
        label = raw_label.strip()
        if "," in label:
            data.skipped_multilabel += 1
            continue
        if not text.strip():
            data.skipped_empty += 1
            continue
        if label not in index:
            unknown[label] += 1
            continue
        data.texts.append(text)
        data.labels.append(index[label])
    data.skipped_unknown = dict(unknown)
    if not data.texts:
        problem = f" (labels not in the {fmt} set: {', '.join(list(unknown)[:5])})" if unknown else ""
        raise UserError(f"{path}: no usable single-label rows in the {fmt} format{problem}")
    return data


def _rows(path: Path, spec: Format) -> Iterator[tuple[str, str]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        try:
            if spec.kind == "semicolon":
                for number, line in enumerate(handle, 1):
                    line = line.rstrip("\r\n")
                    if not line.strip():
                        continue
                    text, sep, label = line.rpartition(";")
                    if not sep:
                        raise UserError(f"{path}, line {number}: expected `text;label` ({spec.name} format)")
                    yield text, label
                return
            reader = csv.DictReader(handle, delimiter="\t" if spec.kind == "tsv" else ",")
            missing = [c for c in (spec.text_column, spec.label_column) if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: not the {spec.name} format: no column {', '.join(missing)} "
                                f"(header: {', '.join(reader.fieldnames or []) or 'empty'})")
            for row in reader:
                yield row[spec.text_column] or "", row[spec.label_column] or ""
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text ({exc.reason})") from exc
