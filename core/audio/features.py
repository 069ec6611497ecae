"""Spectral features computed in torch, so the same code runs on CPU and on a GPU host.

torchaudio has no CPU wheel matching our torch, so the transforms are written here with `torch.stft` and
filter banks taken from librosa (computed once per configuration, then cached as tensors).  Conventions
follow librosa's (hann window, centred frames, power spectrogram, dB log-mel, orthonormal DCT MFCCs) so
numbers stay comparable with the literature the baselines come from.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import librosa
import numpy as np
import torch

from moodtape.core.audio.decode import SAMPLE_RATE

N_FFT = 2048
HOP = 512
CONTRAST_BANDS = 6
CONTRAST_FMIN = 200.0


@functools.lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, device: str) -> torch.Tensor:
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sr / 2)
    return torch.from_numpy(basis).to(device)


@functools.lru_cache(maxsize=8)
def _chroma_basis(sr: int, n_fft: int, device: str) -> torch.Tensor:
    return torch.from_numpy(librosa.filters.chroma(sr=sr, n_fft=n_fft)).to(device)


@functools.lru_cache(maxsize=8)
def _dct_matrix(n_mels: int, n_mfcc: int, device: str) -> torch.Tensor:
    """Orthonormal DCT-II, as scipy/librosa use for MFCCs."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] *= 1.0 / math.sqrt(2.0)
    return basis.to(torch.float32).to(device)


@functools.lru_cache(maxsize=8)
def _window(n_fft: int, device: str) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, device=device)


@functools.lru_cache(maxsize=8)
def _contrast_bands(sr: int, n_fft: int) -> list[tuple[int, int]]:
    """Bin ranges of librosa's octave bands for spectral contrast (band 0: below fmin, last: up to Nyquist)."""
    freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    edges = np.zeros(CONTRAST_BANDS + 2)
    edges[1:] = CONTRAST_FMIN * (2.0 ** np.arange(0, CONTRAST_BANDS + 1))
    bands = []
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        idx = np.flatnonzero((freqs >= low) & (freqs <= high))
        start, stop = int(idx[0]), int(idx[-1]) + 1
        if k > 0:
            start -= 1
        if k == CONTRAST_BANDS:
            stop = len(freqs)
        bands.append((start, stop))
    return bands


def to_tensor(samples: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    tensor = samples if isinstance(samples, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(samples))
    return tensor.to(device=device, dtype=torch.float32)


def power_spectrogram(wave: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """|STFT|^2, shape (..., 1 + n_fft/2, frames)."""
    spec = torch.stft(
        wave, n_fft=n_fft, hop_length=hop, window=_window(n_fft, str(wave.device)),
        center=True, pad_mode="constant", return_complex=True,
    )
    return spec.real.square() + spec.imag.square()


def power_to_db(power: torch.Tensor, top_db: float | None = 80.0) -> torch.Tensor:
    """10 log10(power) with librosa's floor; `top_db` clips relative to the loudest value (per item)."""
    db = 10.0 * torch.log10(torch.clamp(power, min=1e-10))
    if top_db is not None:
        peak = db.amax(dim=tuple(range(-2, 0)), keepdim=True) if db.dim() >= 2 else db.max()
        db = torch.maximum(db, peak - top_db)
    return db


def log_mel(
    wave: torch.Tensor, sr: int = SAMPLE_RATE, n_mels: int = 128, n_fft: int = N_FFT, hop: int = HOP
) -> torch.Tensor:
    """Log-mel spectrogram in dB, shape (..., n_mels, frames): the input of the learned encoder too."""
    power = power_spectrogram(wave, n_fft, hop)
    mel = _mel_basis(sr, n_fft, n_mels, str(wave.device)) @ power
    return power_to_db(mel)


@dataclass
class FrameFeatures:
    """Frame-level features of one clip, each (dims, frames) or (frames,)."""

    mfcc: torch.Tensor
    chroma: torch.Tensor
    contrast: torch.Tensor
    centroid: torch.Tensor
    bandwidth: torch.Tensor
    rolloff: torch.Tensor
    flatness: torch.Tensor
    zcr: torch.Tensor
    rms_db: torch.Tensor
    onset: torch.Tensor
    frame_rate: float


def frame_features(wave: torch.Tensor, sr: int = SAMPLE_RATE, n_mfcc: int = 20, n_mels: int = 128) -> FrameFeatures:
    """Everything the handcrafted descriptor summarises, from one STFT."""
    device = str(wave.device)
    power = power_spectrogram(wave)  # (bins, frames)
    magnitude = power.sqrt()
    freqs = torch.linspace(0, sr / 2, power.shape[0], device=wave.device).unsqueeze(1)

    mel_db = power_to_db(_mel_basis(sr, N_FFT, n_mels, device) @ power)
    mfcc = _dct_matrix(n_mels, n_mfcc, device) @ mel_db

    chroma = _chroma_basis(sr, N_FFT, device) @ power
    chroma = chroma / chroma.amax(dim=0, keepdim=True).clamp(min=1e-10)

    contrast = []
    for start, stop in _contrast_bands(sr, N_FFT):
        band = torch.sort(magnitude[start:stop], dim=0).values
        n = max(1, int(round(0.02 * band.shape[0])))
        valley = band[:n].mean(dim=0)
        peak = band[-n:].mean(dim=0)
        contrast.append(10.0 * torch.log10(peak.clamp(min=1e-10)) - 10.0 * torch.log10(valley.clamp(min=1e-10)))
    contrast_t = torch.stack(contrast)

    total = magnitude.sum(dim=0).clamp(min=1e-10)
    centroid = (freqs * magnitude).sum(dim=0) / total
    bandwidth = torch.sqrt(((freqs - centroid) ** 2 * magnitude).sum(dim=0) / total)
    cumulative = torch.cumsum(power, dim=0)
    rolloff_index = torch.searchsorted(
        cumulative.T.contiguous(), (0.85 * cumulative[-1]).unsqueeze(1).contiguous()
    ).squeeze(1).clamp(max=power.shape[0] - 1)
    rolloff = freqs.squeeze(1)[rolloff_index]
    flatness = torch.exp(torch.log(power.clamp(min=1e-10)).mean(dim=0)) / power.mean(dim=0).clamp(min=1e-10)

    frames = _frame(wave, N_FFT, HOP)
    signs = torch.signbit(frames)
    zcr = (signs[:, 1:] != signs[:, :-1]).float().mean(dim=1)
    rms = frames.square().mean(dim=1).sqrt()
    rms_db = 20.0 * torch.log10(rms.clamp(min=1e-5))

    onset = torch.relu(mel_db[:, 1:] - mel_db[:, :-1]).mean(dim=0)
    onset = torch.cat([onset.new_zeros(1), onset])

    n_frames = min(power.shape[1], frames.shape[0])
    return FrameFeatures(
        mfcc=mfcc[:, :n_frames], chroma=chroma[:, :n_frames], contrast=contrast_t[:, :n_frames],
        centroid=centroid[:n_frames], bandwidth=bandwidth[:n_frames], rolloff=rolloff[:n_frames],
        flatness=flatness[:n_frames], zcr=zcr[:n_frames], rms_db=rms_db[:n_frames], onset=onset[:n_frames],
        frame_rate=sr / HOP,
    )


def _frame(wave: torch.Tensor, size: int, hop: int) -> torch.Tensor:
    """Centred frames (like the STFT's), shape (frames, size)."""
    padded = torch.nn.functional.pad(wave.unsqueeze(0), (size // 2, size // 2)).squeeze(0)
    return padded.unfold(0, size, hop)


def tempo_profile(onset: torch.Tensor, frame_rate: float, n_bins: int = 8) -> tuple[float, float, torch.Tensor]:
    """Tempo (BPM), pulse clarity and a coarse autocorrelation profile of the onset envelope.

    The profile pools the normalised autocorrelation into log-spaced lag bins between 30 and 300 BPM: it says
    how periodic the music is at each time scale without depending on the exact tempo estimate.
    """
    env = onset - onset.mean()
    n = env.shape[0]
    if n < 8 or float(env.square().sum()) <= 1e-12:
        return 0.0, 0.0, onset.new_zeros(n_bins)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = torch.fft.rfft(env, n=size)
    acf = torch.fft.irfft(spectrum.real.square() + spectrum.imag.square(), n=size)[:n]
    acf = acf / acf[0].clamp(min=1e-12)
    min_lag = max(1, int(frame_rate * 60.0 / 300.0))
    max_lag = min(n - 1, int(frame_rate * 60.0 / 30.0))
    if max_lag <= min_lag:
        return 0.0, 0.0, onset.new_zeros(n_bins)
    lags = torch.arange(min_lag, max_lag + 1, device=onset.device, dtype=torch.float32)
    bpm = 60.0 * frame_rate / lags
    prior = torch.exp(-0.5 * (torch.log2(bpm / 120.0) / 1.0) ** 2)  # log-normal prior around 120 BPM
    window = acf[min_lag:max_lag + 1]
    best = int(torch.argmax(window * prior))
    tempo = float(bpm[best])
    clarity = float(window.max().clamp(min=0.0))
    edges = torch.logspace(math.log10(min_lag), math.log10(max_lag + 1), n_bins + 1, device=onset.device)
    profile = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (lags >= low) & (lags < high)
        profile.append(window[mask].mean() if bool(mask.any()) else window.new_zeros(()))
    return tempo, clarity, torch.stack(profile)
