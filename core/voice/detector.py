"""Is a clip mostly speech or mostly music?  A logistic regression on a dozen cheap, generic statistics.

A voice note and a song decode the same way, so the bots need a decision before choosing between "what did
you say" and "songs like this".  The statistics come from the frame features `core.audio.features` already
computes for the content embedding (one STFT), plus the 2-8 Hz modulation of the energy envelope, the
syllable rhythm every language's speech has and most music lacks.  They were chosen to describe speech in
general, not one voice: pauses (low-energy frames), loudness swings, voiced/unvoiced alternation (zero
crossings), timbre jumps, tonal stability (chroma), beat clarity.  Twelve numbers keep the fitted model tiny
and hard to overfit on the synthetic speech it was trained on (see `core/data/voice/MODEL_CARD.md`).

The coefficients are fitted by `moodtape train voice` and shipped as JSON; inference is NumPy over torch
features, no scikit-learn at run time.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["DETECTOR_WINDOW_S", "FEATURE_NAMES", "SpeechMusicDetector", "detector_features", "shipped_detector"]

#: Seconds (from the start) the detector looks at: voice notes are short and speech starts at once.
DETECTOR_WINDOW_S = 30.0

FEATURE_NAMES: tuple[str, ...] = (
    "low_energy_ratio",  # frames 10+ dB below the clip's median loudness: pauses between words
    "rms_db_std",  # loudness swings
    "rms_delta_mean",  # frame-to-frame loudness change
    "modulation_2_8hz",  # share of the energy envelope's modulation at syllable rate
    "zcr_std",  # voiced/unvoiced alternation
    "log_centroid_std",  # brightness jumps (fricatives against vowels)
    "log_flatness_mean",  # noise-like frames
    "mfcc_delta_std",  # how fast the timbre changes
    "chroma_flux_mean",  # harmonic change between frames
    "chroma_entropy_mean",  # tonal concentration (music sits in a key)
    "pulse_clarity",  # a steady beat
    "contrast_mean",  # peaks against valleys in the spectrum (harmonic instruments)
)


def detector_features(samples: np.ndarray, sr: int, device: str = "cpu") -> np.ndarray:
    """The twelve statistics of `samples` (mono float32), in `FEATURE_NAMES` order."""
    import torch
    from moodtape.core.audio.features import frame_features, tempo_profile, to_tensor

    wave = to_tensor(np.asarray(samples, dtype=np.float32)[: int(DETECTOR_WINDOW_S * sr)], device)
    with torch.inference_mode():
        f = frame_features(wave, sr)
        rms_db = f.rms_db
        median = torch.median(rms_db)
        low_energy = (rms_db < median - 10.0).float().mean()
        # the envelope's modulation spectrum: the share of 1-20 Hz modulation energy that falls in 2-8 Hz
        envelope = torch.pow(10.0, rms_db / 20.0)
        envelope = envelope - envelope.mean()
        spectrum = torch.fft.rfft(envelope).abs().square()
        freqs = torch.fft.rfftfreq(envelope.shape[0], d=1.0 / f.frame_rate).to(envelope.device)
        band = spectrum[(freqs >= 2.0) & (freqs <= 8.0)].sum()
        wide = spectrum[(freqs >= 1.0) & (freqs <= 20.0)].sum().clamp(min=1e-12)
        chroma_p = f.chroma / f.chroma.sum(dim=0, keepdim=True).clamp(min=1e-12)
        entropy = -(chroma_p * torch.log(chroma_p.clamp(min=1e-12))).sum(dim=0) / math.log(12)
        flux = (f.chroma[:, 1:] - f.chroma[:, :-1]).abs().sum(dim=0)
        _, clarity, _ = tempo_profile(f.onset, f.frame_rate)
        values = [
            low_energy,
            rms_db.std(unbiased=False),
            (rms_db[1:] - rms_db[:-1]).abs().mean(),
            band / wide,
            f.zcr.std(unbiased=False),
            torch.log(f.centroid.clamp(min=1.0)).std(unbiased=False),
            torch.log10(f.flatness.clamp(min=1e-8)).mean(),
            (f.mfcc[:, 1:] - f.mfcc[:, :-1]).std(dim=-1, unbiased=False).mean(),
            flux.mean(),
            entropy.mean(),
            torch.tensor(clarity),
            f.contrast.mean(),
        ]
        vector = np.array([float(v) for v in values], dtype=np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class SpeechMusicDetector:
    """Standardise, weigh, squash: P(speech) for a feature vector; `threshold` decides."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.5
    version: str = "unfitted"
    #: For clips the chat marks as recorded voice notes (and `chat --voice`), where speech is far likelier:
    #: the 0.5 cut took real read speech for music (see MODEL_CARD.md).
    voice_note_threshold: float = 0.5

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpeechMusicDetector:
        names = tuple(data["features"])
        if names != FEATURE_NAMES:
            raise ValueError(f"detector file lists features {names}, this code computes {FEATURE_NAMES}")
        return cls(mean=np.asarray(data["mean"], dtype=np.float64), scale=np.asarray(data["scale"], dtype=np.float64),
                   weights=np.asarray(data["weights"], dtype=np.float64), bias=float(data["bias"]),
                   threshold=float(data.get("threshold", 0.5)), version=str(data.get("version", "unknown")),
                   voice_note_threshold=float(data.get("voice_note_threshold", data.get("threshold", 0.5))))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURE_NAMES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias, "threshold": self.threshold,
                "voice_note_threshold": self.voice_note_threshold, "version": self.version}

    def probability(self, features: np.ndarray) -> float:
        """P(speech) for one feature vector."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / np.where(self.scale > 0, self.scale, 1.0)
        logit = float(z @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))

    def is_speech(self, features: np.ndarray, voice_note: bool = False) -> bool:
        return self.probability(features) >= (self.voice_note_threshold if voice_note else self.threshold)


@functools.lru_cache(maxsize=1)
def shipped_detector() -> SpeechMusicDetector:
    """The detector fitted by `moodtape train voice` and shipped in `core/data/voice/detector.json`."""
    text = (resources.files("moodtape.core") / "data" / "voice" / "detector.json").read_text(encoding="utf-8")
    return SpeechMusicDetector.from_json(json.loads(text))
