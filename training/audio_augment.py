"""Augmentations for self-supervised audio training, applied to log-mel (dB) crops of a batch at once.

The prototypes ran an effects chain on waveforms (gain, EQ/filter, reverb, compression, pitch and time
shifts), mixed two clips, and masked the spectrogram.  Re-rendering waveforms every step costs more than the
CNN on a CPU, so each effect is done here on the mel power spectrogram that the effect would produce:

- gain: a dB offset;
- EQ / filter: a smooth random curve over mel bands, plus optional low-pass / high-pass roll-offs;
- reverb: each band's power convolved in time with an exponential decay (shorter at high frequencies);
- compression: frames louder than a threshold are turned down by a ratio, with a smoothed gain;
- pitch shift: the frequency axis resampled by 2^(semitones/12) at the mel bands' centre frequencies;
- time stretch: a crop of 1/rate windows resampled to one window (done when cropping, `crop_batch`);
- mixing: another clip of the batch added in the power domain, a few dB quieter;
- masking: SpecAugment-style time and frequency stripes set to the clip's mean level.

Every effect draws its parameters per example from a torch Generator, so a seeded run is repeatable.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import librosa
import numpy as np
import torch
from torch.nn import functional as F

from moodtape.core.audio.decode import SAMPLE_RATE


@dataclass(frozen=True)
class AugmentConfig:
    p_gain: float = 0.8
    gain_db: float = 6.0
    p_eq: float = 0.8
    eq_db: float = 5.0
    p_filter: float = 0.3
    p_reverb: float = 0.4
    p_compress: float = 0.4
    p_pitch: float = 0.5
    pitch_semitones: float = 2.0
    p_stretch: float = 0.5
    stretch: float = 0.15
    p_mix: float = 0.3
    mix_db: tuple[float, float] = (-14.0, -5.0)
    time_masks: int = 2
    time_mask_frames: int = 16
    freq_masks: int = 2
    freq_mask_bands: int = 8


#: "light" keeps more of what tells one production from another (level, tone, room); "production" keeps
#: level, tone, bandwidth and dynamics untouched (no gain, EQ, filter or compression): heavy effects may
#: teach the encoder to ignore exactly what makes an album sound like itself (a tracker soundtrack's
#: band-limited samples, a mastering level).
AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "full": AugmentConfig(),
    "light": AugmentConfig(p_gain=0.5, gain_db=3.0, p_eq=0.4, eq_db=2.5, p_filter=0.1, p_reverb=0.2,
                           p_compress=0.2, p_pitch=0.3, pitch_semitones=1.0, p_stretch=0.3, stretch=0.08, p_mix=0.2),
    "production": AugmentConfig(p_gain=0.0, p_eq=0.0, p_filter=0.0, p_reverb=0.2, p_compress=0.0, p_pitch=0.3,
                                pitch_semitones=1.0, p_stretch=0.3, stretch=0.08, p_mix=0.2),
}


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _chosen(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def crop_batch(mels: list[np.ndarray], window: int, gen: torch.Generator, config: AugmentConfig,
               stretch: bool = True) -> torch.Tensor:
    """One random crop per track, (B, n_mels, window); with `stretch`, some crops are time-stretched.

    A crop of `window * rate` frames resampled to `window` frames plays the music `rate` times faster.
    Tracks shorter than the crop are repeated.
    """
    out = []
    for mel in mels:
        rate = 1.0
        if stretch and float(torch.rand(1, generator=gen)) < config.p_stretch:
            rate = math.exp(float(_uniform(1, math.log(1 - config.stretch), math.log(1 + config.stretch), gen)))
        length = max(8, int(round(window * rate)))
        frames = mel.shape[1]
        if frames < length:
            mel = np.tile(mel, (1, -(-length // frames)))
            frames = mel.shape[1]
        start = int(torch.randint(0, frames - length + 1, (1,), generator=gen))
        crop = torch.from_numpy(np.ascontiguousarray(mel[:, start:start + length])).float()
        if length != window:
            crop = F.interpolate(crop.unsqueeze(0), size=window, mode="linear", align_corners=False).squeeze(0)
        out.append(crop)
    return torch.stack(out)


@functools.lru_cache(maxsize=4)
def _mel_hz(n_mels: int, sr: int) -> np.ndarray:
    return librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]


def pitch_shift(x: torch.Tensor, semitones: torch.Tensor, sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Shift each example's spectrum by its number of semitones (interpolating between mel bands)."""
    b, n_mels, t = x.shape
    hz = torch.from_numpy(_mel_hz(n_mels, sr)).float()
    source_hz = hz.unsqueeze(0) / torch.pow(2.0, semitones.unsqueeze(1) / 12.0)  # (B, n_mels)
    index = torch.from_numpy(np.interp(source_hz.numpy().ravel(), hz.numpy(), np.arange(n_mels))).float()
    index = index.reshape(b, n_mels)
    y = index / max(1, n_mels - 1) * 2 - 1  # grid_sample coordinates in [-1, 1]
    grid_y = y.unsqueeze(2).expand(b, n_mels, t)
    grid_x = torch.linspace(-1, 1, t).view(1, 1, t).expand(b, n_mels, t)
    grid = torch.stack([grid_x, grid_y], dim=-1)
    return F.grid_sample(x.unsqueeze(1), grid, mode="bilinear", padding_mode="border",
                         align_corners=True).squeeze(1)


def equalise(x: torch.Tensor, gen: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    b, n_mels, _ = x.shape
    bands = torch.linspace(0, 1, n_mels)
    curve = torch.zeros(b, n_mels)
    for k in range(1, 4):
        amp = _uniform(b, -config.eq_db, config.eq_db, gen) / k
        phase = _uniform(b, 0, 2 * math.pi, gen)
        curve += amp.unsqueeze(1) * torch.cos(math.pi * k * bands.unsqueeze(0) + phase.unsqueeze(1))
    filt = _chosen(b, config.p_filter, gen)
    if bool(filt.any()):
        cutoff = _uniform(b, 0.45, 0.95, gen).unsqueeze(1)
        low_cut = _uniform(b, 0.0, 0.12, gen).unsqueeze(1)
        slope = _uniform(b, 60.0, 200.0, gen).unsqueeze(1)  # dB per unit of the band axis
        lowpass = -slope * torch.relu(bands.unsqueeze(0) - cutoff)
        highpass = -slope * torch.relu(low_cut - bands.unsqueeze(0))
        use_low = _chosen(b, 0.5, gen).unsqueeze(1)
        roll = torch.where(use_low, lowpass, highpass).clamp(min=-40.0)
        curve = curve + roll * filt.unsqueeze(1)
    return x + curve.unsqueeze(2)


def reverb(x: torch.Tensor, gen: torch.Generator, taps: int = 48) -> torch.Tensor:
    """Add a decaying tail to each band: power * (delta + wet * exp(-k / tau_band))."""
    b, n_mels, t = x.shape
    rt60_frames = _uniform(b, 10.0, 80.0, gen)  # 0.25 s .. 1.9 s at 43 frames per second
    wet = torch.pow(10.0, _uniform(b, -12.0, -3.0, gen) / 10.0)
    band_scale = torch.linspace(1.0, 0.5, n_mels)  # high frequencies die faster
    tau = (rt60_frames.unsqueeze(1) * band_scale.unsqueeze(0)) / 6.9  # (B, n_mels); 60 dB = e^-6.9
    k = torch.arange(taps, dtype=torch.float32)
    kernel = wet.view(b, 1, 1) * torch.exp(-k.view(1, 1, taps) / tau.unsqueeze(2))
    kernel[:, :, 0] = 1.0
    kernel = kernel / kernel.sum(dim=2, keepdim=True) * (1.0 + wet.view(b, 1, 1))
    power = torch.pow(10.0, x / 10.0).reshape(1, b * n_mels, t)
    padded = F.pad(power, (taps - 1, 0))
    wet_power = F.conv1d(padded, kernel.reshape(b * n_mels, 1, taps).flip(-1), groups=b * n_mels)
    return 10.0 * torch.log10(wet_power.reshape(b, n_mels, t).clamp(min=1e-10))


def compress(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Turn frames above a threshold down by a ratio (loudness from the mean mel power of the frame)."""
    b = x.shape[0]
    level = 10.0 * torch.log10(torch.pow(10.0, x / 10.0).mean(dim=1).clamp(min=1e-10))  # (B, T)
    threshold = torch.quantile(level, _uniform(1, 0.3, 0.7, gen).item(), dim=1, keepdim=True)
    ratio = _uniform(b, 2.0, 8.0, gen).unsqueeze(1)
    gain = -torch.relu(level - threshold) * (1.0 - 1.0 / ratio)
    gain = F.avg_pool1d(gain.unsqueeze(1), 5, stride=1, padding=2, count_include_pad=False).squeeze(1)
    return x + gain.unsqueeze(1)


def mix(x: torch.Tensor, gen: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    """Add another example of the batch, quieter, in the power domain (the view stays its own clip's)."""
    b = x.shape[0]
    if b < 2:
        return x
    partner = (torch.arange(b) + torch.randint(1, b, (b,), generator=gen)) % b
    level = _uniform(b, *config.mix_db, gen).view(b, 1, 1)
    to_nepers = math.log(10) / 10
    return torch.logaddexp(x * to_nepers, (x[partner] + level) * to_nepers) / to_nepers


def mask(x: torch.Tensor, gen: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    b, n_mels, t = x.shape
    out = x.clone()
    fill = x.mean(dim=(1, 2))
    for i in range(b):
        for _ in range(config.time_masks):
            width = int(torch.randint(0, config.time_mask_frames + 1, (1,), generator=gen))
            start = int(torch.randint(0, max(1, t - width), (1,), generator=gen))
            out[i, :, start:start + width] = fill[i]
        for _ in range(config.freq_masks):
            width = int(torch.randint(0, config.freq_mask_bands + 1, (1,), generator=gen))
            start = int(torch.randint(0, max(1, n_mels - width), (1,), generator=gen))
            out[i, start:start + width, :] = fill[i]
    return out


def _where(chosen: torch.Tensor, changed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return torch.where(chosen.view(-1, 1, 1), changed, original)


def augment(x: torch.Tensor, gen: torch.Generator, config: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """The whole chain on a batch of log-mel crops (B, n_mels, T) in dB; each effect applies with its p."""
    b = x.shape[0]
    chosen = _chosen(b, config.p_mix, gen)
    if bool(chosen.any()):
        x = _where(chosen, mix(x, gen, config), x)
    chosen = _chosen(b, config.p_pitch, gen)
    if bool(chosen.any()):
        semis = _uniform(b, -config.pitch_semitones, config.pitch_semitones, gen) * chosen
        x = pitch_shift(x, semis)
    chosen = _chosen(b, config.p_eq, gen)
    if bool(chosen.any()):
        x = _where(chosen, equalise(x, gen, config), x)
    chosen = _chosen(b, config.p_reverb, gen)
    if bool(chosen.any()):
        x = _where(chosen, reverb(x, gen), x)
    chosen = _chosen(b, config.p_compress, gen)
    if bool(chosen.any()):
        x = _where(chosen, compress(x, gen), x)
    chosen = _chosen(b, config.p_gain, gen)
    x = x + (_uniform(b, -config.gain_db, config.gain_db, gen) * chosen).view(b, 1, 1)
    return mask(x, gen, config)
