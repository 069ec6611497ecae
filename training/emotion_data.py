"""Readers for the emotion-labelled text sets (formats of `../shared/data/emotion/`, README section 1).

Every reader returns the same `EmotionData`: texts, one label index per text, and the data set's full label
list in a fixed order (so a model trained on a small sample still has every label).  Training and evaluation
are single-label: rows carrying several labels are skipped and counted, never silently merged -- except
KOTE (`kote`), which is multi-label by design: each of a row's labels maps to a mood (`space.KOTE_MOOD`)
and the row takes the mood most of its labels map to (ties: the rarer, more specific mood, `KOTE_TIE_ORDER`);
its full label set stays in `EmotionData.label_sets` for multi-label scoring.

Two additions work with every format:

* **Split suffixes**: `PATH#dev` / `PATH#train` read a seeded, stratified carve of the file (`DEV_FRACTION`
  of each label's rows for dev, seed `DEV_SEED`; the two parts are disjoint and together the whole file), so
  a set that ships without a dev split (Korean single-turn, KOTE) gets one that every command agrees on.
* **`mix`**: a text file naming several sets, one `FORMAT PATH [WEIGHT]` per line (`#` starts a comment
  line; PATH relative to the mix file, split suffixes allowed; WEIGHT a whole number of copies, default 1).
  Every set's labels are mapped onto the seven mood labels (`EKMAN`) through `space.canonical_label`;
  `EmotionData.sources` lists each set with its rows and terms for the model card.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from moodtape.core.errors import UserError
from moodtape.core.mood.space import KOTE_MOOD, canonical_label

__all__ = [
    "DAIR",
    "DEV_FRACTION",
    "DEV_SEED",
    "EKMAN",
    "FORMATS",
    "GOEMOTIONS",
    "KOTE",
    "KOTE_TIE_ORDER",
    "KO_SINGLE_TURN",
    "EmotionData",
    "Format",
    "kote_mood",
    "load_emotion_data",
    "split_suffix",
]

EKMAN = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
GOEMOTIONS = [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief", "joy",
    "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise",
    "neutral",
]
DAIR = ["sadness", "joy", "love", "anger", "fear", "surprise"]
KO_SINGLE_TURN = ["행복", "놀람", "분노", "공포", "혐오", "슬픔", "중립"]
#: KOTE's 44 labels, in the order of its release (see ../shared/data/README.md section 1.5).
KOTE = list(KOTE_MOOD)
#: A KOTE row whose labels split evenly between moods takes the first of them in this order: the rarer,
#: more specific moods first, neutral last (any emotion label outweighs "no emotion" in a tie).
KOTE_TIE_ORDER = ["fear", "sadness", "disgust", "surprise", "anger", "joy", "neutral"]
#: The `#dev` carve: share of each label's rows, and the seed (fixed, so every command cuts the same rows).
DEV_FRACTION = 0.1
DEV_SEED = 0


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
    "kote": Format("kote", EKMAN, "tsv", "text", "labels", "ko", "MIT",
                   "KOTE, Korean online comments (Jeon et al. 2022), 44 emotions mapped to 7 moods by majority"),
    "mix": Format("mix", EKMAN, "mix", language="ko", licence="see each set",
                  description="several sets together, labels mapped to the 7 moods (a mix file)"),
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
    #: Multi-label sets (KOTE): every row's original labels, for scoring all of them.
    label_sets: list[list[str]] | None = None
    #: `mix`: one summary per set (format, path, rows, weight, licence, description).
    sources: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        counter = Counter(self.labels)
        return {name: counter.get(i, 0) for i, name in enumerate(self.label_names)}

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path, "format": self.format, "n": len(self), "labels": self.counts(),
            "skipped_multilabel": self.skipped_multilabel, "skipped_empty": self.skipped_empty,
            "skipped_unknown_label": sum(self.skipped_unknown.values())}
        if self.sources:
            out["sources"] = self.sources
        return out

    def subset(self, rows: Sequence[int]) -> EmotionData:
        """The given rows (in that order), same labels and counters."""
        return EmotionData([self.texts[i] for i in rows], [self.labels[i] for i in rows], list(self.label_names),
                           self.format, self.path, self.skipped_multilabel, self.skipped_empty,
                           dict(self.skipped_unknown),
                           [self.label_sets[i] for i in rows] if self.label_sets is not None else None,
                           list(self.sources))


def split_suffix(path: Path | str) -> tuple[Path, str | None]:
    """`file.csv#dev` -> (file.csv, "dev"); a path without a split suffix -> (path, None)."""
    text = str(path)
    for split in ("dev", "train"):
        if text.endswith("#" + split):
            return Path(text[: -len(split) - 1]), split
    return Path(text), None


def carve(labels: Sequence[int], split: str, fraction: float = DEV_FRACTION, seed: int = DEV_SEED) -> list[int]:
    """Row indices of the `split` ("dev" or "train") part: per label, a seeded random `fraction` is dev."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels, dtype=np.int64)
    dev: list[int] = []
    for label in sorted(set(y.tolist())):
        rows = np.flatnonzero(y == label)
        take = round(fraction * len(rows))
        dev.extend(rng.permutation(rows)[:take].tolist())
    chosen = set(dev)
    return sorted(chosen) if split == "dev" else [i for i in range(len(y)) if i not in chosen]


def kote_mood(labels: Sequence[str]) -> str | None:
    """The mood most of a KOTE row's labels map to (ties by `KOTE_TIE_ORDER`); None if none maps."""
    votes = Counter(KOTE_MOOD[name] for name in labels if name in KOTE_MOOD)
    if not votes:
        return None
    top = max(votes.values())
    return next(mood for mood in KOTE_TIE_ORDER if votes.get(mood) == top)


def load_emotion_data(path: Path | str, fmt: str, limit: int | None = None) -> EmotionData:
    """Read a labelled file; `limit` keeps the first N usable rows (quick experiments, tests).

    `PATH#dev` / `PATH#train` read one part of a seeded stratified carve (module docstring).
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown data format \"{fmt}\"; choose one of {', '.join(FORMATS)}")
    path, split = split_suffix(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if fmt == "mix":
        data = _load_mix(path)
    else:
        data = _load_file(path, fmt)
    if split is not None:
        data = data.subset(carve(data.labels, split))
        data.path = f"{path}#{split}"
    if limit is not None and len(data) > limit:
        data = data.subset(range(limit))
    return data


def _load_mix(path: Path) -> EmotionData:
    """Every set a mix file names, labels mapped to the seven moods, each repeated WEIGHT times."""
    index = {name: i for i, name in enumerate(EKMAN)}
    data = EmotionData([], [], list(EKMAN), "mix", str(path))
    unknown: Counter[str] = Counter()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the mix file {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) not in (2, 3) or parts[0] in ("mix",) or parts[0] not in FORMATS:
            raise UserError(f"{path}, line {number}: expected `FORMAT PATH [WEIGHT]` with FORMAT one of "
                            f"{', '.join(f for f in FORMATS if f != 'mix')}")
        try:
            weight = int(parts[2]) if len(parts) == 3 else 1
        except ValueError:
            weight = 0
        if weight < 1:
            raise UserError(f"{path}, line {number}: WEIGHT must be a whole number >= 1")
        target = parts[1] if Path(parts[1]).is_absolute() else os.path.normpath(path.parent / parts[1])
        part = load_emotion_data(target, parts[0])
        kept = 0
        for text, label in zip(part.texts, part.labels):
            mood = canonical_label(part.label_names[label])
            if mood not in index:
                unknown[part.label_names[label]] += 1
                continue
            data.texts.extend([text] * weight)
            data.labels.extend([index[mood]] * weight)
            kept += 1
        data.skipped_multilabel += part.skipped_multilabel
        data.skipped_empty += part.skipped_empty
        fmt = FORMATS[parts[0]]
        data.sources.append({"format": parts[0], "path": part.path, "rows": kept, "weight": weight,
                             "licence": fmt.licence, "description": fmt.description})
    data.skipped_unknown = dict(unknown)
    if not data.texts:
        raise UserError(f"{path}: the mix names no usable rows")
    return data


def _load_file(path: Path, fmt: str) -> EmotionData:
    spec = FORMATS[fmt]
    index = {name: i for i, name in enumerate(spec.labels)}
    data = EmotionData([], [], list(spec.labels), fmt, str(path))
    if fmt == "kote":
        data.label_sets = []
    unknown: Counter[str] = Counter()
    for text, raw_label in _rows(path, spec):
        label = raw_label.strip()
        if fmt == "kote":
            names = [n.strip() for n in label.split(",") if n.strip()]
            mood = kote_mood(names)
            if not text.strip():
                data.skipped_empty += 1
                continue
            if mood is None:
                unknown[label] += 1
                continue
            assert data.label_sets is not None
            data.texts.append(text)
            data.labels.append(index[mood])
            data.label_sets.append(names)
            continue
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
