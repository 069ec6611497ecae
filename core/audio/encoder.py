"""The learned content embedding: a compact CNN over log-mel windows, pooled over the whole clip.

A song is cut into ~3 s windows (the prototypes' "slices"); each window goes through a small VGG-like CNN,
and the clip's vector is the normalised mean of the windows' unit vectors, so a clip of any length gives one
128-d unit vector ready for cosine search.  The network is small on purpose: ~1.1 M parameters (about 4.5 MB
of float32 weights shipped in the package) and ~80 M multiply-adds per window, so a 30 s clip embeds in a
small fraction of a second on one CPU core.  The weights are trained by `training/audio.py`; the version
string names a digest of the weights file, so retraining changes the version and the scheduler re-embeds.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from moodtape.core.audio.decode import SAMPLE_RATE
from moodtape.core.audio.features import log_mel, to_tensor
from moodtape.core.errors import SettingsError

NAME = "learned"
DIM = 128
WEIGHTS_FILE = "encoder.safetensors"


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that shapes the input and the network; stored in the weights file's metadata."""

    n_mels: int = 64
    window: int = 128  # frames of 512 samples at 22,050 Hz: 2.97 s
    width: int = 16
    dim: int = DIM
    sample_rate: int = SAMPLE_RATE

    @classmethod
    def from_dict(cls, data: dict) -> "EncoderConfig":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**{k: int(v) for k, v in known.items()})


def encoder_input(samples: np.ndarray | torch.Tensor, config: EncoderConfig, device: str | torch.device = "cpu",
                  sr: int = SAMPLE_RATE) -> torch.Tensor:
    """Log-mel (dB) of a clip, shape (n_mels, frames): what both training and inference feed the CNN."""
    if sr != config.sample_rate:
        raise ValueError(f"the learned encoder expects {config.sample_rate} Hz audio, got {sr} Hz")
    wave = to_tensor(samples, device)
    if wave.dim() != 1:
        raise ValueError("expected mono samples (a 1-d array)")
    if wave.numel() == 0:
        raise ValueError("no samples to embed")
    return log_mel(wave, sr=sr, n_mels=config.n_mels)


def window_starts(frames: int, window: int) -> list[int]:
    """Non-overlapping window starts covering every frame; the last window ends at the last frame."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window + 1, window))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def windows(mel: torch.Tensor, window: int) -> torch.Tensor:
    """(n_mels, frames) -> (n_windows, 1, n_mels, window).

    A clip shorter than one window is repeated until it fills one (silence would look like a quiet song).
    """
    frames = mel.shape[-1]
    if frames < window:
        mel = mel.repeat(1, -(-window // frames))[:, :window]
        frames = window
    return torch.stack([mel[:, s:s + window] for s in window_starts(frames, window)]).unsqueeze(1)


def _block(c_in: int, c_out: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class AudioCNN(nn.Module):
    """Log-mel window (B, 1, n_mels, window) -> window embedding (B, dim), not normalised.

    The input is normalised per mel band by a batch norm (as in PANNs), five conv stages halve both axes,
    the frequency axis is averaged away and time is summarised by its mean and max (a loud hit matters
    even when it is short).
    """

    def __init__(self, config: EncoderConfig = EncoderConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.input_norm = nn.BatchNorm2d(config.n_mels)
        self.features = nn.Sequential(
            _block(1, w, 1), _block(w, 2 * w, 1), _block(2 * w, 4 * w, 1),
            _block(4 * w, 8 * w, 2), _block(8 * w, 16 * w, 2),
        )
        self.dropout = nn.Dropout(0.2)
        self.embed = nn.Linear(2 * 16 * w, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(x.transpose(1, 2)).transpose(1, 2)  # normalise each mel band
        h = self.features(x).mean(dim=2)  # (B, C, T')
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.embed(self.dropout(pooled))


def pool_windows(window_vectors: torch.Tensor) -> torch.Tensor:
    """Unit window vectors -> one unit clip vector (the normalised mean direction)."""
    unit = F.normalize(window_vectors, dim=-1)
    return F.normalize(unit.mean(dim=0), dim=-1)


class MissingWeights(SettingsError, FileNotFoundError):
    """No encoder weights where a person pointed (`--weights`, a broken install): shown to them as is.

    Also a `FileNotFoundError`, the type callers of `load_encoder` have always been able to catch.
    """


class ForeignWeights(SettingsError, ValueError):
    """A weights file that is not a Moodtape audio encoder (another model's safetensors): shown as is.

    Also a `ValueError`, the type callers of `load_encoder` have always been able to catch.
    """


def default_weights_path() -> Path:
    return Path(str(resources.files("moodtape.core") / "data" / "audio_encoder" / WEIGHTS_FILE))


def weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def save_encoder(model: AudioCNN, path: Path, extra: dict[str, str] | None = None) -> str:
    """Write weights + config as safetensors; returns the version the file will load as."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous().float() if v.is_floating_point() else v.detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    metadata = {"config": json.dumps(asdict(model.config)), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)
    path.chmod(0o644)  # safetensors writes owner-only files; shipped weights must be readable by everyone
    return f"{NAME}-v1-{weights_digest(path)}"


def load_encoder(path: Path, device: str = "cpu") -> tuple[AudioCNN, str]:
    """(model in eval mode on `device`, version).  A missing or foreign file is a clear error."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise MissingWeights(f"no audio encoder weights at {path}")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if "config" not in metadata:
        raise ForeignWeights(f"{path} is not a Moodtape audio encoder (no config in its metadata)")
    config = EncoderConfig.from_dict(json.loads(metadata["config"]))
    model = AudioCNN(config)
    model.load_state_dict(load_file(str(path)), strict=True)
    model.eval().to(device)
    return model, f"{NAME}-v1-{weights_digest(path)}"


@functools.lru_cache(maxsize=4)
def _cached(path: str, device: str) -> tuple[AudioCNN, str]:
    return load_encoder(Path(path), device)


class LearnedEmbedder:
    """Audio samples -> unit 128-d vector from the trained CNN; deterministic, thread-safe (inference only)."""

    def __init__(self, path: Path | None = None, device: str = "cpu") -> None:
        self.path = Path(path) if path is not None else default_weights_path()
        self.device = device
        self.model, self.version = _cached(str(self.path.resolve()), device)
        self.config = self.model.config
        self.dim = self.config.dim

    def embed_windows(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> torch.Tensor:
        """Unnormalised embedding of every window of the clip, (n_windows, dim), on the CPU."""
        with torch.inference_mode():
            mel = encoder_input(samples, self.config, self.device, sr)
            return self.model(windows(mel, self.config.window)).float().cpu()

    def embed(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        return pool_windows(self.embed_windows(samples, sr)).numpy().astype(np.float32)


def embed_with_weights(path: str, samples: np.ndarray) -> np.ndarray:
    """Picklable helper for process pools (`functools.partial(embed_with_weights, path)`)."""
    return LearnedEmbedder(Path(path)).embed(samples)
