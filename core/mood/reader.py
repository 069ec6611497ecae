"""Reading the mood of a chat message: emotion label probabilities -> a point in the mood space.

`EmotionClassifier` wraps one checkpoint (any Hugging Face sequence classifier, or one of Moodtape's compact
formats, see `mood.models`); `MoodReader` is what the engine uses: it sends text that contains Hangul
to the Korean model and everything else to the English one, because the English default's WordPiece
vocabulary turns Hangul into meaningless jamo.  Code-switched messages (Hangul *and* English words, "오늘
너무 happy 해") are read by both and the two readings combined (`combine_readings`), each weighted by its
script's share of the words and by the model's confidence.

Importing this module is cheap (no torch, no transformers); models load in the constructors, which the
engine calls in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.mood.space import canonical_label, va_from_probs
from moodtape.core.text import clean_text

#: The shipped default models (trained by `moodtape train emotion`, see their README.md model cards).
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data" / "emotion"
BUNDLED_ENGLISH = BUNDLED_DIR / "en"
BUNDLED_KOREAN = BUNDLED_DIR / "ko"

#: Characters dropped before reading: zero-width joiner, variation selectors, skin-tone modifiers.  They
#: only change how an emoji is drawn, and left in they would become noise words.  So would U+FFFD, what
#: `clean_text` leaves of undecodable bytes: it says nothing about a mood.
_INVISIBLE = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3", "\ufffd"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}
_SPACES = re.compile(r"\s+")
#: Longer text is cut before tokenising; far more than any model here reads (128 tokens), so it changes
#: nothing but the time a pasted novel would take to tokenise.
MAX_CHARS = 4000


def prepare_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """What the models read: emoji spelled out as their Unicode names, whitespace collapsed, length capped.

    "😭" becomes "loudly crying face", words an English encoder has seen in sad contexts, so an emoji-only
    message gets a real reading instead of an unknown-token guess.  Training applies the same function.
    Surrogates, NULs and control characters are cleaned first (`clean_text`): tokenizers raise on them.
    """
    parts: list[str] = []
    for ch in clean_text(text, max_chars * 2):
        if ch in _INVISIBLE:
            continue
        if unicodedata.category(ch) == "So":
            name = unicodedata.name(ch, "")
            parts.append(f" {name.lower()} " if name else " ")
        else:
            parts.append(ch)
    return _SPACES.sub(" ", "".join(parts)).strip()[:max_chars]


def has_hangul(text: str) -> bool:
    return any(_is_hangul(ch) for ch in text)


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return (0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F
            or 0xA960 <= code <= 0xA97F or 0xD7B0 <= code <= 0xD7FF)


_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]+")


def script_shares(text: str) -> tuple[int, int]:
    """(Hangul words, Latin words of two or more letters) in a text: how much of it each model can read."""
    return len(_HANGUL_WORD.findall(text)), len(_LATIN_WORD.findall(text))


def latin_part(text: str) -> str:
    """The text with its Hangul cut out: what the English model can read of a code-switched message."""
    return _SPACES.sub(" ", _HANGUL_WORD.sub(" ", text)).strip()


def combine_readings(text: str, korean: MoodReading, english: MoodReading, korean_words: int,
                     english_words: int) -> MoodReading:
    """One reading of a code-switched message from the Korean and the English model's readings.

    Each model's label probabilities (mapped to the shared mood names) are weighted by the share of the
    words written in its script times its confidence, so "오늘 너무 happy 해" leans on the Korean model for
    three words and on the English one for "happy" -- more when the English model is sure of it and the
    Korean model is not.  The valence/arousal point follows from the mixed probabilities as for any reading.
    """
    total_words = max(1, korean_words + english_words)
    weights = {"ko": korean_words / total_words * max(korean.confidence, 1e-6),
               "en": english_words / total_words * max(english.confidence, 1e-6)}
    norm = weights["ko"] + weights["en"]
    mixed: dict[str, float] = {}
    for reading, weight in ((korean, weights["ko"] / norm), (english, weights["en"] / norm)):
        for name, p in reading.probs.items():
            key = canonical_label(name) or name
            mixed[key] = mixed.get(key, 0.0) + weight * p
    return reading_from_probs(text, mixed, max(mixed.values()), "ko", f"{korean.model}+{english.model}")


def detect_language(text: str) -> str:
    """"ko" if there is Hangul, "en" for Latin-script letters, "other" for other scripts, "none" for none.

    A script test, not a language identifier: enough to route text to the right model.
    """
    latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if _is_hangul(ch):
            return "ko"
        code = ord(ch)
        if code < 0x250 or 0x1E00 <= code <= 0x1EFF:
            latin += 1
        else:
            other += 1
    if latin == 0 and other == 0:
        return "none"
    return "en" if latin >= other else "other"


@dataclass(frozen=True)
class MoodReading:
    """What we read in one message: label probabilities (high to low) and the point in the mood space."""

    text: str
    probs: dict[str, float]
    label: str
    valence: float
    arousal: float
    confidence: float  # probability of the top label; 0 when there was nothing to read
    language: str
    model: str

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        return list(self.probs.items())[:n]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probs": {name: round(p, 4) for name, p in self.probs.items()},
            "valence": round(self.valence, 4),
            "arousal": round(self.arousal, 4),
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "model": self.model,
        }


def reading_from_probs(text: str, probs: dict[str, float], confidence: float, language: str,
                       model: str) -> MoodReading:
    ordered = dict(sorted(probs.items(), key=lambda item: -item[1]))
    valence, arousal = va_from_probs(ordered)
    label = next(iter(ordered))
    return MoodReading(text=text, probs=ordered, label=label, valence=valence, arousal=arousal,
                       confidence=min(1.0, max(0.0, confidence)), language=language, model=model)


def neutral_reading(text: str, labels: Sequence[str], model: str) -> MoodReading:
    """Nothing to read (empty or whitespace): neutral, at the origin, with confidence 0."""
    neutral = next((name for name in labels if canonical_label(name) == "neutral"), "neutral")
    probs = {neutral: 1.0} | {name: 0.0 for name in labels if name != neutral}
    return MoodReading(text=text, probs=probs, label=neutral, valence=0.0, arousal=0.0, confidence=0.0,
                       language="none", model=model)


class EmotionClassifier:
    """One emotion checkpoint: a HF sequence classifier (local folder or hub id) or a compact Moodtape model.

    Label names come from the checkpoint (`config.id2label`); multi-label checkpoints are read with sigmoids,
    normalised to sum to 1 for `probs`.  Long input is truncated to the model's maximum length.

    `optimised` (default) applies `mood.speed`: length-grouped batches and merged LoRA (same readings up to
    float rounding); `quantize=True` adds int8 on CPU (faster, but readings move slightly): an int8 graph in
    ONNX Runtime, exported once into `cache_dir`, or torch's int8 Linear layers where ONNX Runtime is missing
    (or with `onnx=False`, which `moodtape bench emotion` uses to compare the two).
    `optimised=False` is the plain float path, kept for `moodtape bench emotion` to compare against.
    """

    def __init__(self, ref: str | Path, device: str = "cpu", batch_size: int = 32, max_length: int = 128,
                 optimised: bool = True, quantize: bool = False, cache_dir: Path | None = None,
                 onnx: bool = True) -> None:
        from moodtape.core.mood.models import load_probability_model
        from moodtape.core.mood.speed import Speedups, optimise

        self.ref = str(ref)
        self.device = device
        self._model = load_probability_model(self.ref, device=device, batch_size=batch_size,
                                             max_length=max_length)
        self.speedups: Speedups = (optimise(self._model, device, quantize, cache_dir, onnx=onnx) if optimised
                                   else Speedups())
        self.labels: list[str] = list(self._model.labels)
        self.version: str = self._model.version
        self.multi_label: bool = self._model.multi_label
        # One forward pass at a time: the bots call in from several worker threads, and a multi-layer-pooling
        # adapter reads its layers through hooks on the shared modules, which concurrent passes would mix up.
        # CPU inference already uses every core through torch's intra-op threads, so little is lost.
        self._forward_lock = threading.Lock()

    def classify(self, texts: Sequence[str]) -> list[MoodReading]:
        prepared = [prepare_text(text) for text in texts]
        todo = [i for i, text in enumerate(prepared) if text]
        probs = None
        if todo:
            with self._forward_lock:
                probs = self._model.probabilities([prepared[i] for i in todo])
        readings: list[MoodReading | None] = [None] * len(texts)
        for row, index in enumerate(todo):
            assert probs is not None
            raw = [float(p) for p in probs[row]]
            top = max(raw)
            total = sum(raw)
            values = [p / total for p in raw] if self.multi_label and total > 0 else raw
            readings[index] = reading_from_probs(texts[index], dict(zip(self.labels, values)), top,
                                                 detect_language(texts[index]), self.version)
        return [reading if reading is not None else neutral_reading(texts[i], self.labels, self.version)
                for i, reading in enumerate(readings)]

    async def aclassify(self, texts: Sequence[str]) -> list[MoodReading]:
        return await asyncio.to_thread(self.classify, list(texts))


class MoodReader:
    """The engine's emotion reader: English (and other scripts) to one model, Hangul to the Korean one, text
    with both Hangul and English words to both (`combine_readings`).

    The Korean model loads on the first Korean message, so English-only users never pay for it.
    """

    def __init__(self, settings: Settings, device: str = "cpu") -> None:
        self.device = device
        self.english_ref = _model_ref(settings.emotion_model, BUNDLED_ENGLISH, "MOODTAPE_EMOTION_MODEL")
        self._korean_setting = settings.korean_emotion_model
        self._int8 = settings.emotion_int8
        self._cache_dir = settings.cache_dir
        self.english = EmotionClassifier(self.english_ref, device=device, quantize=self._int8,
                                         cache_dir=self._cache_dir)
        self._korean: EmotionClassifier | None = None
        self._lock = threading.Lock()

    @property
    def korean(self) -> EmotionClassifier:
        with self._lock:
            if self._korean is None:
                ref = _model_ref(self._korean_setting, BUNDLED_KOREAN, "MOODTAPE_KOREAN_EMOTION_MODEL")
                self._korean = EmotionClassifier(ref, device=self.device, quantize=self._int8,
                                                 cache_dir=self._cache_dir)
            return self._korean

    def read(self, texts: Sequence[str]) -> list[MoodReading]:
        """One reading per text; any `str` a person can send is read (the reading keeps the cleaned text)."""
        texts = [clean_text(text, 2 * MAX_CHARS) for text in texts]
        korean = [i for i, text in enumerate(texts) if has_hangul(text)]
        other = [i for i, text in enumerate(texts) if not has_hangul(text)]
        shares = {i: script_shares(texts[i]) for i in korean}
        mixed = [i for i in korean if shares[i][1] > 0]  # Hangul and English words: both models read it
        readings: dict[int, MoodReading] = {}
        if other:
            readings.update(zip(other, self.english.classify([texts[i] for i in other])))
        if korean:
            readings.update(zip(korean, self.korean.classify([texts[i] for i in korean])))
        if mixed:
            english = self.english.classify([latin_part(texts[i]) for i in mixed])
            for i, reading in zip(mixed, english):
                readings[i] = combine_readings(texts[i], readings[i], reading, *shares[i])
        return [readings[i] for i in range(len(texts))]

    async def aread(self, texts: Sequence[str]) -> list[MoodReading]:
        return await asyncio.to_thread(self.read, list(texts))


def _model_ref(configured: str | None, bundled: Path, variable: str) -> str:
    if configured:
        return configured
    if not bundled.is_dir():
        raise UserError(f"the bundled emotion model is missing ({bundled}); reinstall Moodtape or set {variable} "
                        "to a model folder or Hugging Face id")
    return str(bundled)
