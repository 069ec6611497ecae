"""The handcrafted content embedding: timbre, harmony, loudness and rhythm statistics in 128 numbers.

It needs no training, so it works from the first track on, and it is the baseline any learned encoder must
beat.  Raw statistics live on wildly different scales (Hz, dB, ratios), so each dimension is standardised with
statistics measured on a reference corpus (shipped as JSON, rebuilt by `training/descriptor_stats.py`), and each
feature group is scaled so that it weighs the same in a cosine comparison however many dimensions it has.
Harmony is summarised key-invariantly (interval content, not pitch classes): two pieces of one album are
rarely in the same key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

from moodtape.core.audio.decode import SAMPLE_RATE
from moodtape.core.audio.descriptor_layout import DIM, GROUPS, NAME
from moodtape.core.audio.features import FrameFeatures, frame_features, tempo_profile, to_tensor



def _mean_std(values: torch.Tensor) -> list[torch.Tensor]:
    return [values.mean(dim=-1), values.std(dim=-1, unbiased=False)]


def raw_descriptor(features: FrameFeatures) -> np.ndarray:
    """The 128 unscaled statistics of one clip (order follows GROUPS)."""
    f = features
    parts: list[torch.Tensor] = []

    # timbre: MFCC mean and spread; timbre dynamics: how fast the timbre changes
    parts += _mean_std(f.mfcc)
    parts.append((f.mfcc[:, 1:] - f.mfcc[:, :-1]).std(dim=-1, unbiased=False))

    # harmony, key-invariant: interval profile (circular autocorrelation of the mean chroma), the sorted
    # pitch-class distribution (tonal concentration), chroma entropy and harmonic change
    chroma_mean = f.chroma.mean(dim=-1)
    centred = chroma_mean - chroma_mean.mean()
    norm = centred.square().sum().clamp(min=1e-12)
    intervals = torch.stack([(centred * torch.roll(centred, lag)).sum() / norm for lag in range(1, 7)])
    sorted_chroma = torch.sort(chroma_mean / chroma_mean.sum().clamp(min=1e-12), descending=True).values
    p = f.chroma / f.chroma.sum(dim=0, keepdim=True).clamp(min=1e-12)
    entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(dim=0) / math.log(12)
    flux = (f.chroma[:, 1:] - f.chroma[:, :-1]).abs().sum(dim=0)
    key_clarity = sorted_chroma[0] - sorted_chroma[1:].mean()
    parts += [intervals, sorted_chroma, *_mean_std(entropy), f.chroma.std(dim=-1, unbiased=False).mean().reshape(1),
              *_mean_std(flux), key_clarity.reshape(1)]

    # spectral contrast per octave band
    parts += _mean_std(f.contrast)

    # spectral shape (log frequency scales)
    for series in (
        torch.log(f.centroid.clamp(min=1.0)), torch.log(f.bandwidth.clamp(min=1.0)),
        torch.log(f.rolloff.clamp(min=1.0)), torch.log10(f.flatness.clamp(min=1e-8)), f.zcr,
    ):
        parts += [t.reshape(1) for t in _mean_std(series)]

    # loudness and dynamics
    rms = f.rms_db
    q = torch.quantile(rms, torch.tensor([0.05, 0.10, 0.90, 0.95], device=rms.device))
    linear = torch.pow(10.0, rms / 20.0)
    low_energy = (linear < linear.mean()).float().mean()
    parts += [rms.mean().reshape(1), rms.std(unbiased=False).reshape(1), q[1].reshape(1), q[2].reshape(1),
              (q[3] - q[0]).reshape(1), low_energy.reshape(1),
              (rms[1:] - rms[:-1]).abs().mean().reshape(1)]

    # rhythm: tempo, pulse clarity, onset density and the periodicity profile
    tempo, clarity, profile = tempo_profile(f.onset, f.frame_rate)
    onset = f.onset
    peaks = (onset[1:-1] > onset[:-2]) & (onset[1:-1] >= onset[2:]) & (onset[1:-1] > onset.mean() + onset.std())
    rate = peaks.float().sum() * f.frame_rate / max(1, onset.shape[0])
    parts += [
        torch.tensor([math.log2(max(tempo, 30.0) / 120.0), clarity], device=onset.device),
        onset.mean().reshape(1), onset.std(unbiased=False).reshape(1), rate.reshape(1), profile,
    ]

    vector = torch.cat([part.reshape(-1).float() for part in parts]).cpu().numpy().astype(np.float64)
    if vector.shape[0] != DIM:  # pragma: no cover - guards edits to the group layout
        raise AssertionError(f"descriptor has {vector.shape[0]} dims, expected {DIM}")
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    std: np.ndarray
    corpus: str

    @classmethod
    def from_json(cls, data: dict) -> "Standardizer":
        mean = np.asarray(data["mean"], dtype=np.float64)
        std = np.asarray(data["std"], dtype=np.float64)
        if mean.shape != (DIM,) or std.shape != (DIM,):
            raise ValueError("descriptor statistics must have 128 means and 128 stds")
        return cls(mean, np.where(std > 1e-9, std, 1.0), str(data.get("corpus", "")))

    def digest(self) -> str:
        payload = np.concatenate([self.mean, self.std]).round(6).tobytes()
        return hashlib.sha256(payload).hexdigest()[:8]


@functools.lru_cache(maxsize=1)
def shipped_standardizer() -> Standardizer:
    data = json.loads((resources.files("moodtape.core") / "data" / "descriptor_stats.json").read_text(encoding="utf-8"))
    return Standardizer.from_json(data)


def _group_scale() -> np.ndarray:
    scale = []
    for _, size, weight in GROUPS:
        scale += [weight / math.sqrt(size)] * size
    return np.asarray(scale)


def finish(raw: np.ndarray, standardizer: Standardizer) -> np.ndarray:
    """Standardise, clip outliers, weight groups equally, L2-normalise: ready for cosine search."""
    z = np.clip((raw - standardizer.mean) / standardizer.std, -5.0, 5.0) * _group_scale()
    norm = np.linalg.norm(z)
    return (z / norm if norm > 0 else z).astype(np.float32)


class HandcraftedEmbedder:
    """Audio samples -> unit 128-d descriptor. Deterministic; the version names the statistics it uses."""

    dim = DIM

    def __init__(self, standardizer: Standardizer | None = None, device: str = "cpu") -> None:
        self.standardizer = standardizer or shipped_standardizer()
        self.device = device
        self.version = f"{NAME}-v1-{self.standardizer.digest()}"

    def raw(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        with torch.inference_mode():
            return raw_descriptor(frame_features(to_tensor(samples, self.device), sr))

    def embed(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        return self.finish(self.raw(samples, sr))

    def finish(self, raw: np.ndarray) -> np.ndarray:
        """The content vector of raw statistics (`raw`) with this embedder's standardisation."""
        return finish(raw, self.standardizer)


def raw_from_samples(samples: np.ndarray) -> np.ndarray:
    """Picklable helper for process pools: raw statistics of mono samples at the standard rate."""
    with torch.inference_mode():
        return raw_descriptor(frame_features(to_tensor(samples)))
