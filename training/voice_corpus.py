"""Speech for fitting and measuring the voice path: sentences we wrote, spoken by espeak-ng, plus music clips.

There is no freely licensed emotional speech with transcripts in PyPI or Debian that we found, so the speech is
synthesised: every sentence below was written for this purpose (no data set's rows), in English and Korean,
covering the moods the chat reads.  espeak-ng (`apt-get install espeak-ng`; measurement only, never needed by
the tests or at run time) speaks each with several voices, speeds and pitches.  For the detector, speech is
roughened (background noise at 5-25 dB SNR, quiet background music, a telephone band, random gain) so that it
does not learn espeak's clean studio sound; music is cut into 10-second windows of the Emotify clips.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ENGLISH", "KOREAN", "Utterance", "augment", "espeak_binary", "music_windows", "speak", "utterances"]

#: (text, the mood we meant) — the mood is only for the report; agreement is measured against the reading of
#: the true text, not against these words.
ENGLISH: tuple[tuple[str, str], ...] = (
    ("I feel so happy today, everything is going great", "joy"),
    ("we won the game and I can't stop smiling", "joy"),
    ("this is the best day of my life", "joy"),
    ("I love spending the evening with my friends", "joy"),
    ("finally the weekend is here and the sun is shining", "joy"),
    ("I got the job, I am so excited", "joy"),
    ("I feel sad and lonely tonight", "sadness"),
    ("my dog died this morning and I keep crying", "sadness"),
    ("I failed my exam and everything feels hopeless", "sadness"),
    ("nobody called me on my birthday", "sadness"),
    ("I miss my family so much", "sadness"),
    ("it has been raining for days and I feel empty", "sadness"),
    ("I am so angry at my boss right now", "anger"),
    ("stop lying to me, I am sick of it", "anger"),
    ("the train was late again and I am furious", "anger"),
    ("they cancelled my flight without telling me", "anger"),
    ("I am scared of the dark house", "fear"),
    ("I have a terrible feeling that something bad will happen", "fear"),
    ("my heart is racing and I can't calm down", "fear"),
    ("I am nervous about the interview tomorrow", "fear"),
    ("that smell is disgusting", "disgust"),
    ("the food was rotten and made me sick", "disgust"),
    ("wow, I did not expect that at all", "surprise"),
    ("I can't believe you came all this way", "surprise"),
    ("what a surprise to see you here", "surprise"),
    ("I am just sitting at home reading a book", "neutral"),
    ("I need to buy milk and bread later", "neutral"),
    ("the meeting is at three in the afternoon", "neutral"),
    ("I am tired after a long day at work", "sadness"),
    ("I want to relax and listen to something calm", "neutral"),
    ("I feel calm and peaceful by the sea", "joy"),
    ("play me something to dance to tonight", "joy"),
    ("I am bored and have nothing to do", "neutral"),
    ("thank you so much for your help", "joy"),
    ("I feel really down and I don't know why", "sadness"),
    ("everything is annoying me today", "anger"),
    ("I am worried about my mother", "fear"),
    ("I just want to sleep and forget about today", "sadness"),
    ("my best friend is getting married next week", "joy"),
    ("I am so stressed about all this work", "fear"),
)

KOREAN: tuple[tuple[str, str], ...] = (
    ("오늘 너무 행복해요", "joy"),
    ("시험에 합격해서 정말 기뻐요", "joy"),
    ("친구들이랑 놀아서 즐거웠어", "joy"),
    ("날씨가 좋아서 기분이 최고야", "joy"),
    ("드디어 주말이다 신난다", "joy"),
    ("오늘 정말 슬프고 우울해요", "sadness"),
    ("혼자라서 너무 외로워", "sadness"),
    ("시험을 망쳐서 눈물이 나요", "sadness"),
    ("강아지가 아파서 마음이 아파요", "sadness"),
    ("가족이 너무 보고 싶어", "sadness"),
    ("너무 화가 나서 참을 수가 없어", "anger"),
    ("왜 자꾸 거짓말을 하는 거야", "anger"),
    ("버스가 또 늦게 와서 짜증나", "anger"),
    ("밤에 혼자 있으니까 무서워", "fear"),
    ("내일 면접 때문에 너무 불안해요", "fear"),
    ("무슨 일이 생길까 봐 걱정돼", "fear"),
    ("음식이 상해서 역겨워", "disgust"),
    ("와 정말 깜짝 놀랐어", "surprise"),
    ("여기서 너를 만날 줄은 몰랐어", "surprise"),
    ("지금 집에서 책을 읽고 있어요", "neutral"),
    ("이따가 우유를 사러 갈 거예요", "neutral"),
    ("회의는 오후 세 시에 있어요", "neutral"),
    ("하루 종일 일해서 너무 피곤해", "sadness"),
    ("조용한 음악을 듣고 싶어요", "neutral"),
    ("바다를 보니까 마음이 편안해", "joy"),
    ("도와줘서 정말 고마워요", "joy"),
    ("요즘 일이 너무 많아서 스트레스 받아", "fear"),
    ("그냥 자고 싶어", "sadness"),
    ("친구가 다음 주에 결혼해서 기뻐", "joy"),
    ("아무것도 하기 싫고 지루해", "neutral"),
)

#: espeak-ng voice variants and how they are used: the detector trains on the first part of each list and is
#: measured on the rest (held-out voices as well as held-out sentences).
VOICES = {
    "en": ["en-us", "en-us+m3", "en-gb+f2", "en-us+f4", "en-gb", "en-us+m7", "en-gb+f3", "en-us+m1"],
    "ko": ["ko", "ko+m3", "ko+f2", "ko+f4", "ko+m7", "ko+f3"],
}


@dataclass(frozen=True)
class Utterance:
    text: str
    mood: str
    language: str
    voice: str
    speed: int
    pitch: int
    index: int  # the sentence's position in its list (held-out sentences are chosen by it)


def espeak_binary() -> str:
    found = shutil.which("espeak-ng")
    if not found:
        raise SystemExit("espeak-ng is needed to synthesise the speech: apt-get install -y espeak-ng")
    return found


def utterances(language: str, seed: int = 0, per_sentence: int = 1, voices: list[str] | None = None
               ) -> list[Utterance]:
    """Each sentence of `language` spoken `per_sentence` times with a random voice, speed and pitch."""
    rng = random.Random(f"{seed}-{language}")
    sentences = ENGLISH if language == "en" else KOREAN
    pool = voices or VOICES[language]
    out = []
    for index, (text, mood) in enumerate(sentences):
        for _ in range(per_sentence):
            out.append(Utterance(text, mood, language, rng.choice(pool), rng.randint(120, 185),
                                 rng.randint(30, 70), index))
    return out


def speak(utterance: Utterance, sr: int, ffmpeg: str) -> np.ndarray:
    """The utterance as mono float32 samples at `sr` (espeak-ng writes 22.05 kHz WAV; ffmpeg resamples)."""
    with tempfile.TemporaryDirectory(prefix="moodtape-tts-") as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run([espeak_binary(), "-v", utterance.voice, "-s", str(utterance.speed), "-p",
                        str(utterance.pitch), "-w", str(wav), utterance.text], check=True, capture_output=True)
        raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(sr), "-f", "f32le",
                              "pipe:1"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def augment(speech: np.ndarray, sr: int, rng: np.random.Generator, music: list[np.ndarray]) -> np.ndarray:
    """Speech as a phone might record it: padding, gain, and noise, quiet music or a telephone band."""
    pad = lambda n: (rng.normal(0, 1e-4, n)).astype(np.float32)
    y = np.concatenate([pad(int(sr * rng.uniform(0.1, 0.8))), speech, pad(int(sr * rng.uniform(0.1, 0.8)))])
    y = y * float(10 ** (rng.uniform(-12, 3) / 20))
    power = float(np.mean(y ** 2)) + 1e-12
    roll = rng.random()
    if roll < 0.35:  # broadband noise
        snr = rng.uniform(5, 25)
        y = y + rng.normal(0, np.sqrt(power / 10 ** (snr / 10)), y.shape).astype(np.float32)
    elif roll < 0.55 and music:  # a radio in the background, 12-25 dB under the voice
        bed = music[int(rng.integers(len(music)))]
        if len(bed) < len(y):
            bed = np.resize(bed, len(y))
        start = int(rng.integers(0, len(bed) - len(y) + 1))
        bed = bed[start:start + len(y)]
        bed_power = float(np.mean(bed ** 2)) + 1e-12
        y = y + bed * np.sqrt(power / bed_power / 10 ** (rng.uniform(12, 25) / 10))
    elif roll < 0.75:  # telephone band, 300-3400 Hz
        spectrum = np.fft.rfft(y)
        freqs = np.fft.rfftfreq(len(y), 1 / sr)
        spectrum[(freqs < 300) | (freqs > 3400)] = 0
        y = np.fft.irfft(spectrum, n=len(y)) + rng.normal(0, np.sqrt(power) * 0.01, len(y))
    return np.clip(y, -1, 1).astype(np.float32)


def music_windows(samples: np.ndarray, sr: int, rng: np.random.Generator, n: int = 3, seconds: float = 10.0
                  ) -> list[np.ndarray]:
    """`n` random windows of `seconds` (a voice-note-sized piece of a song)."""
    size = int(seconds * sr)
    if len(samples) <= size:
        return [samples]
    return [samples[s:s + size] for s in rng.integers(0, len(samples) - size, n)]
