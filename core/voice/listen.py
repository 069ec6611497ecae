"""A clip a person sent: speech or music, and when speech, what was said and how.

`VoiceListener.listen` does the blocking part (decoding through ffmpeg, the detector, recognition, prosody)
and is run in a worker thread by `Engine.voice`; the engine then reads the transcript's mood with the chat's
emotion models and picks songs, or, for music, answers "songs like this" exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from moodtape.core.audio.decode import SAMPLE_RATE, AudioError, decode
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.voice.asr import ASR_SAMPLE_RATE, LANGUAGES, SpeechModels, Transcript
from moodtape.core.voice.detector import (
    DETECTOR_WINDOW_S,
    SpeechMusicDetector,
    detector_features,
    shipped_detector,
)
from moodtape.core.voice.prosody import Prosody, measure_prosody

__all__ = ["MAX_SPEECH_S", "MIN_CLIP_S", "Heard", "VoiceListener", "nothing_heard", "nudged_arousal"]

#: Shorter clips are refused: under a second there is neither a word nor a bar of music to judge.
MIN_CLIP_S = 1.0
#: Longer speech is refused rather than transcribed for minutes (music of any length up to the global cap
#: still gets "songs like this").
MAX_SPEECH_S = 120.0


@dataclass(frozen=True)
class Heard:
    """What listening found; `transcript` and `prosody` only for speech."""

    kind: Literal["speech", "music"]
    speech_probability: float
    duration_s: float
    transcript: Transcript | None = None
    prosody: Prosody | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"input": self.kind, "speech_probability": round(self.speech_probability, 3),
                                "duration_s": round(self.duration_s, 2)}
        if self.transcript is not None:
            data["transcript"] = self.transcript.to_json()
        if self.prosody is not None:
            data["prosody"] = self.prosody.to_json()
        return data


#: The refusals again in Korean, added for people whose language is Korean (the bots' other text is English).
KOREAN_NOTHING_HEARD = "말소리는 들리지만 알아들은 단어가 없어요. 마이크에 더 가까이 대고 다시 보내 주시거나, 기분을 글로 적어 주세요."
KOREAN_TOO_LONG = f"음성은 {MAX_SPEECH_S / 60:.0f}분까지만 알아들을 수 있어요. 더 짧게 보내 주세요."


def nothing_heard(name: str, language: str | None = None) -> UserError:
    """Speech in which no word was recognised (in Korean too when the person's `language` is Korean)."""
    known = " and ".join(LANGUAGES.values())
    text = (f"{name}: I hear someone speaking but could not make out any words (I understand spoken {known}). "
            "Try again closer to the microphone, or type how you feel.")
    return UserError(text + (f" / {KOREAN_NOTHING_HEARD}" if language == "ko" else ""))


class VoiceListener:
    """The detector and the recognisers (loaded on first use), for one process."""

    def __init__(self, settings: Settings, device: str = "cpu", detector: SpeechMusicDetector | None = None,
                 models: SpeechModels | None = None) -> None:
        self.settings = settings
        self.device = device
        self.detector = detector or shipped_detector()
        self.models = models or SpeechModels()

    def _decode(self, path: Path, sample_rate: int, window_s: float | None) -> Any:
        return decode(path, sample_rate=sample_rate, max_duration_s=self.settings.max_duration_s,
                      max_file_bytes=self.settings.max_file_bytes, window_s=window_s,
                      ffmpeg=self.settings.ffmpeg or None)

    def classify(self, path: Path) -> tuple[float, float]:
        """(P(speech), duration in seconds) of an audio file, from at most `DETECTOR_WINDOW_S` of its middle."""
        decoded = self._decode(path, SAMPLE_RATE, DETECTOR_WINDOW_S)
        if decoded.duration_s < MIN_CLIP_S:
            raise AudioError(f"too short ({decoded.duration_s:.1f} s) to tell speech from music; "
                             f"send at least {MIN_CLIP_S:.0f} s", path)
        features = detector_features(decoded.samples, decoded.sample_rate, self.device)
        return self.detector.probability(features), decoded.duration_s

    def listen(self, path: Path, language: str | None = None, *, strict: bool = False,
               name: str | None = None, voice_note: bool = False) -> Heard:
        """Speech or music; for speech, the transcript (`language` as a hint, or the only one with `strict`)
        and the prosody.  `voice_note`: the chat says it was recorded as one, so the detector's lower
        voice-note threshold applies.  Unusable audio is an `AudioError`, speech too long a `UserError`."""
        probability, duration = self.classify(path)
        if probability < (self.detector.voice_note_threshold if voice_note else self.detector.threshold):
            return Heard("music", probability, duration)
        shown = name or path.name
        if duration > MAX_SPEECH_S:
            raise UserError(f"{shown}: that is {duration / 60:.1f} min of speech; I transcribe up to "
                            f"{MAX_SPEECH_S / 60:.0f} min. Send a shorter voice note."
                            + (f" / {KOREAN_TOO_LONG}" if language == "ko" else ""))
        decoded = self._decode(path, ASR_SAMPLE_RATE, None)
        transcript = self.models.transcribe(decoded.samples, language, strict=strict)
        prosody = measure_prosody(decoded.samples, decoded.sample_rate)
        return Heard("speech", probability, duration, transcript, prosody)


def nudged_arousal(arousal: float, prosody: Prosody | None) -> float:
    """The reading's arousal moved by the prosody's nudge, kept inside [-1, 1]."""
    if prosody is None or not math.isfinite(prosody.nudge):
        return arousal
    return max(-1.0, min(1.0, arousal + prosody.nudge))
