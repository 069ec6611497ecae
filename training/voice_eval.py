"""Fit and measure the voice path: the speech/music detector, then recognition and mood on synthetic speech.

`fit_detector` builds the split (held-out sentences spoken by held-out voices; every fifth music clip held out,
whole clips, so no song is on both sides), computes `core.voice.detector`'s features and fits a balanced
logistic regression.  `evaluate_speech` speaks every sentence of `voice_corpus` once per language with a random
voice and runs the real `VoiceListener` on the file (detector, recogniser, prosody), then compares the words
(WER; for Korean also the character error rate, as its spacing varies) and the mood the chat reads in the
transcript with the mood it reads in the true sentence.
"""

from __future__ import annotations

import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from moodtape.core.audio.decode import SAMPLE_RATE, decode, ffmpeg_binary
from moodtape.core.audio.tags import AUDIO_EXTENSIONS
from moodtape.core.voice.detector import FEATURE_NAMES, SpeechMusicDetector, detector_features
from moodtape.training import voice_corpus as corpus

__all__ = ["detector_split", "edit_distance", "error_rate", "evaluate_speech", "fit_detector", "music_files"]

TRAIN_VOICES = {"en": 5, "ko": 4}  # the first N voices of each list train; the rest are held out


def music_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise SystemExit(f"no audio files under {folder}")
    return files


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _norm(text: str) -> str:
    return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text)


def error_rate(truth: list[str], heard: str, unit: str = "word") -> tuple[int, int]:
    """(edits, reference length) between the true sentences and the heard text, by word or character."""
    ref = " ".join(_norm(t) for t in truth)
    hyp = _norm(heard)
    if unit == "char":
        a, b = list(ref.replace(" ", "")), list(hyp.replace(" ", ""))
    else:
        a, b = ref.split(), hyp.split()
    return edit_distance(a, b), len(a)


def detector_split(music_dir: Path, seed: int = 0, log: Any = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features and labels (1 = speech) of the train and test sides, and of clean held-out speech."""
    ffmpeg = ffmpeg_binary(None)
    rng = np.random.default_rng(seed)
    files = music_files(music_dir)
    sides: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "test": [], "test_clean_speech": []}
    beds: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for index, path in enumerate(files):
        side = "test" if index % 5 == 0 else "train"
        samples = decode(path, sample_rate=SAMPLE_RATE).samples
        beds[side].append(samples)
        for window in corpus.music_windows(samples, SAMPLE_RATE, rng, n=3, seconds=float(rng.uniform(3, 15))):
            sides[side].append((detector_features(window, SAMPLE_RATE), 0))
        if log and index % 50 == 0:
            log(f"music {index}/{len(files)}")
    for language in ("en", "ko"):
        voices = corpus.VOICES[language]
        cut = TRAIN_VOICES[language]
        for side, pool, per in (("train", voices[:cut], 4), ("test", voices[cut:], 3)):
            spoken = [u for u in corpus.utterances(language, seed, per, pool) if (u.index % 5 == 0) == (side == "test")]
            for n, utterance in enumerate(spoken):
                speech = corpus.speak(utterance, SAMPLE_RATE, ffmpeg)
                if n % 3 == 2:  # every third clip: two sentences in a row, a longer note
                    other = spoken[(n + 1) % len(spoken)]
                    speech = np.concatenate([speech, np.zeros(int(0.3 * SAMPLE_RATE), np.float32),
                                             corpus.speak(other, SAMPLE_RATE, ffmpeg)])
                if side == "test":
                    sides["test_clean_speech"].append((detector_features(speech, SAMPLE_RATE), 1))
                noisy = corpus.augment(speech, SAMPLE_RATE, rng, beds[side])
                sides[side].append((detector_features(noisy, SAMPLE_RATE), 1))
        if log:
            log(f"speech {language} done")
    return {name: (np.stack([f for f, _ in rows]), np.array([y for _, y in rows])) for name, rows in sides.items()}


def _scores(detector: SpeechMusicDetector, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    p = np.array([detector.probability(row) for row in x])
    said = p >= detector.threshold
    out: dict[str, Any] = {"n": len(y), "speech": int(y.sum()), "music": int((y == 0).sum()),
                           "accuracy": round(float((said == (y == 1)).mean()), 4)}
    if y.sum():
        out["speech_recall"] = round(float(said[y == 1].mean()), 4)
    if (y == 0).sum():
        out["music_recall"] = round(float((~said[y == 0]).mean()), 4)
    if y.sum() and (y == 0).sum():
        from sklearn.metrics import roc_auc_score

        out["auc"] = round(float(roc_auc_score(y, p)), 4)
    return out


def fit_detector(music_dir: Path, seed: int = 0, log: Any = None) -> tuple[SpeechMusicDetector, dict[str, Any]]:
    """Fit on the train side; report on the held-out side (noisy speech + music) and on clean held-out speech."""
    from sklearn.linear_model import LogisticRegression

    data = detector_split(music_dir, seed, log)
    x, y = data["train"]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000).fit((x - mean) / scale, y)
    detector = SpeechMusicDetector(mean=mean, scale=scale, weights=model.coef_[0].astype(np.float64),
                                   bias=float(model.intercept_[0]), threshold=0.5,
                                   version=f"logreg-{len(FEATURE_NAMES)}f-seed{seed}")
    report = {"train": _scores(detector, x, y), "test": _scores(detector, *data["test"]),
              "test_clean_speech": _scores(detector, *data["test_clean_speech"]),
              "weights": dict(zip(FEATURE_NAMES, [round(float(w), 3) for w in detector.weights]))}
    return detector, report


def evaluate_detector(detector: SpeechMusicDetector, music_dir: Path, seed: int = 0, log: Any = None) -> dict:
    data = detector_split(music_dir, seed, log)
    return {"test": _scores(detector, *data["test"]), "test_clean_speech": _scores(detector, *data["test_clean_speech"])}


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def evaluate_speech(settings: Any, languages: tuple[str, ...] = ("en", "ko"), seed: int = 1, hint: bool = True,
                    limit: int | None = None, log: Any = None) -> dict[str, Any]:
    """WER/CER and mood agreement per language through the real listener (detector, recogniser, prosody)."""
    from moodtape.core.mood.reader import MoodReader
    from moodtape.core.voice.listen import VoiceListener, nudged_arousal

    ffmpeg = ffmpeg_binary(None)
    listener = VoiceListener(settings)
    reader = MoodReader(settings, "cpu")
    report: dict[str, Any] = {}
    for language in languages:
        rows = []
        spoken = corpus.utterances(language, seed, 1)[:limit]
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="moodtape-voice-eval-") as folder:
            for n, utterance in enumerate(spoken):
                path = Path(folder) / f"{n}.wav"
                _write_wav(path, corpus.speak(utterance, 16000, ffmpeg), 16000)
                heard = listener.listen(path, language if hint else None)
                rows.append((utterance, heard))
                if log:
                    text = heard.transcript.text if heard.transcript else "(music)"
                    log(f"{language} {n}: {utterance.text!r} -> {text!r}")
        seconds = time.perf_counter() - began
        truths = [u.text for u, _ in rows]
        texts = [h.transcript.text if h.transcript else "" for _, h in rows]
        true_readings = reader.read(truths)
        heard_readings = reader.read([t if t else " " for t in texts])
        words = [error_rate([u], t) for u, t in zip(truths, texts)]
        chars = [error_rate([u], t, "char") for u, t in zip(truths, texts)]
        same = [a.label == b.label for a, b in zip(true_readings, heard_readings)]
        dv = [abs(a.valence - b.valence) for a, b in zip(true_readings, heard_readings)]
        da = [abs(a.arousal - b.arousal) for a, b in zip(true_readings, heard_readings)]
        da_nudged = [abs(a.arousal - nudged_arousal(b.arousal, h.prosody))
                     for a, b, (_, h) in zip(true_readings, heard_readings, rows)]
        sign = [np.sign(a.valence) == np.sign(b.valence) or abs(a.valence - b.valence) < 0.1
                for a, b in zip(true_readings, heard_readings)]
        langs = [h.transcript.language if h.transcript else None for _, h in rows]
        nudges = [h.prosody.nudge for _, h in rows if h.prosody is not None]
        report[language] = {
            "n": len(rows),
            "judged_speech": sum(h.kind == "speech" for _, h in rows),
            "wer": round(sum(e for e, _ in words) / max(1, sum(n for _, n in words)), 4),
            "cer": round(sum(e for e, _ in chars) / max(1, sum(n for _, n in chars)), 4),
            "empty_transcripts": sum(not t for t in texts),
            "language_right": sum(lang == language for lang in langs),
            "mood_label_agreement": round(float(np.mean(same)), 4),
            "valence_side_agreement": round(float(np.mean(sign)), 4),
            "mean_abs_valence_diff": round(float(np.mean(dv)), 4),
            "mean_abs_arousal_diff": round(float(np.mean(da)), 4),
            "mean_abs_arousal_diff_with_prosody": round(float(np.mean(da_nudged)), 4),
            "prosody_nudge_range": [round(float(min(nudges)), 3), round(float(max(nudges)), 3)] if nudges else None,
            "seconds_per_clip": round(seconds / max(1, len(rows)), 2),
            "examples": [{"said": u.text, "heard": t} for (u, _), t in list(zip(rows, texts))[:5]],
        }
    return report


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sphinx_transcripts(folder: Path) -> list[tuple[Path, str]]:
    """(wav, words) pairs from CMU Sphinx-style `transcription` files under `folder` ("<s> words </s> (id)"),
    e.g. Debian's pocketsphinx-testdata (/usr/share/pocketsphinx/test/data: LibriVox readings and card names)."""
    import re

    pairs = []
    for listing in sorted(folder.rglob("*transcription")):
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$", line)
            if not match:
                continue
            wav = listing.parent / f"{match.group(2).strip()}.wav"
            if wav.is_file():
                pairs.append((wav, " ".join(match.group(1).split())))
    return pairs


def evaluate_recorded(settings: Any, folder: Path, log: Any = None) -> dict[str, Any]:
    """Recorded English speech with transcripts: the detector's decision and the WER through the listener."""
    from moodtape.core.voice.listen import VoiceListener

    listener = VoiceListener(settings)
    pairs = sphinx_transcripts(folder)
    if not pairs:
        raise SystemExit(f"no Sphinx-style transcription files with .wav files under {folder}")
    edits = words = speech = general = 0
    examples = []
    for wav, truth in pairs:
        heard = listener.listen(wav, "en", voice_note=True)  # as `chat --voice` and voice notes are judged
        text = heard.transcript.text if heard.transcript else ""
        speech += heard.kind == "speech"
        general += heard.speech_probability >= listener.detector.threshold
        e, n = error_rate([truth], text)
        edits, words = edits + e, words + n
        examples.append({"file": wav.name, "said": truth, "heard": text, "speech_probability":
                         round(heard.speech_probability, 3)})
        if log:
            log(f"{wav.name}: {truth!r} -> {text!r}")
    return {"n": len(pairs), "judged_speech_as_voice_note": speech, "judged_speech_as_audio_file": general,
            "wer": round(edits / max(1, words), 4), "examples": examples}
