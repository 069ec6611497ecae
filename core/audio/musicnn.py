"""musicnn, the pretrained music tagger of the Music Technology Group (UPF), running on our own PyTorch port.

Two models ship in `core/data/musicnn/` (converted from the ISC-licensed `musicnn` 0.1.0 wheel by
`moodtape train import-musicnn`; see MODEL_CARD.md there): `MTT_musicnn` (50 MagnaTagATune tags: instruments,
tempo, voice) and `MSD_musicnn` (50 Million Song Dataset tags: genres, eras, moods).  A clip is analysed the
way musicnn's own `extractor` does it: 16 kHz mono, a 96-band log-mel (512-point FFT, hop 256) compressed as
`log10(10000 x + 1)` after rounding to float16 (as the models were trained; the log is taken in float32, where
NumPy >= 2 would overflow in float16), cut into non-overlapping 3 s patches of 187 frames (a clip shorter than
one patch is repeated to fill it, as in training).  Each patch gives tag probabilities (the taggram), the
200-d penultimate layer and the 1506-d pooled features; a clip's value of each is the mean over its patches,
and its tags are ranked by mean probability, as `musicnn.tagger.top_tags` ranks them.

`max_patches` bounds the work on long clips by analysing that many patches spread evenly over the clip.  The
same code runs on CPU and CUDA (features in torch, no torchaudio).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import torch
from safetensors.torch import load_file

from moodtape.core.audio.decode import decode
from moodtape.core.audio.musicnn_layers import N_FRAMES, N_MELS, MusicnnNet
from moodtape.core.audio.musicnn_tags import spec_dir as weights_dir  # one folder for weights and spec
from moodtape.core.errors import UserError

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
MODELS = ("MTT_musicnn", "MSD_musicnn")
LAYERS = {"taggram": 50, "penultimate": 200, "pooled": 1506}
#: Patches per forward pass: on a CPU one at a time is fastest (its ~15 MB of activations stay in cache; 10 at a
#: time is ~1.5x slower), a GPU wants them all at once (bounded, ~15 MB each).
PATCH_BATCH = {"cpu": 1, "cuda": 256}
_FLOAT16_MAX = 65504.0


class MusicnnError(UserError):
    """musicnn cannot run: unknown model or layer, or missing / damaged weights."""


# --- input features -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _mel_basis(device: str) -> torch.Tensor:
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)  # slaney scale and norm
    return torch.from_numpy(basis).to(device)


@functools.lru_cache(maxsize=4)
def _window(device: str) -> torch.Tensor:
    return torch.hann_window(N_FFT, periodic=True, device=device)


def log_mel(wave: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """musicnn's input representation of 16 kHz mono samples: (frames, 96), float32.

    librosa's mel power spectrogram as musicnn's extractor computed it (hann window, centred frames with
    reflection padding), rounded to float16, then `log10(10000 x + 1)` in float32.
    """
    samples = wave if isinstance(wave, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(wave))
    samples = samples.to(device=device, dtype=torch.float32).reshape(-1)
    if samples.numel() <= N_FFT // 2:  # reflection padding needs more samples than it pads
        samples = torch.nn.functional.pad(samples, (0, N_FFT // 2 + 1 - samples.numel()))
    spec = torch.stft(
        samples,
        n_fft=N_FFT,
        hop_length=HOP,
        window=_window(str(samples.device)),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    mel = _mel_basis(str(samples.device)) @ power
    mel = mel.clamp(max=_FLOAT16_MAX).to(torch.float16).to(torch.float32)
    return torch.log10(10000.0 * mel + 1.0).T.contiguous()


def patch_starts(frames: int, max_patches: int | None = None) -> list[int]:
    """First frames of the non-overlapping 187-frame patches analysed in a clip of `frames` frames.

    All of them (as musicnn's extractor), or `max_patches` of them spread evenly over the clip.
    """
    starts = list(range(0, max(frames - N_FRAMES + 1, 1), N_FRAMES))
    if max_patches is not None and len(starts) > max_patches:
        if max_patches < 1:
            raise MusicnnError("max_patches must be at least 1")
        picks = np.linspace(0, len(starts) - 1, max_patches).round().astype(int)
        starts = [starts[i] for i in picks]
    return starts


def patches(mel: torch.Tensor, max_patches: int | None = None) -> torch.Tensor:
    """(frames, 96) -> (patches, 187, 96); a clip shorter than a patch is repeated to fill one."""
    if mel.shape[0] < N_FRAMES:
        mel = mel.repeat(-(-N_FRAMES // max(mel.shape[0], 1)), 1)[:N_FRAMES]
    return torch.stack([mel[s : s + N_FRAMES] for s in patch_starts(mel.shape[0], max_patches)])


# --- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MusicnnResult:
    """One clip seen by one model: per-patch layers (rows = patches) and the tag names."""

    model: str
    tags: tuple[str, ...]
    taggram: np.ndarray  # (patches, 50): tag probabilities per 3 s patch
    penultimate: np.ndarray  # (patches, 200)
    pooled: np.ndarray  # (patches, 1506)

    def tag_scores(self) -> dict[str, float]:
        """Each tag's mean probability over the clip, most likely first."""
        mean = self.taggram.mean(axis=0)
        order = np.argsort(-mean, kind="stable")
        return {self.tags[i]: float(mean[i]) for i in order}

    def top_tags(self, k: int = 10) -> list[str]:
        return list(self.tag_scores())[:k]

    def embedding(self, layer: str = "penultimate") -> np.ndarray:
        """The clip's vector of `layer` (`taggram` 50, `penultimate` 200, `pooled` 1506): its mean over patches."""
        if layer not in LAYERS:
            raise MusicnnError(f"unknown musicnn layer {layer!r} (choose from {', '.join(LAYERS)})")
        return getattr(self, layer).mean(axis=0).astype(np.float32)


# --- the models ---------------------------------------------------------------------------------------------


def _manifest(folder: Path) -> dict:
    path = folder / "musicnn.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MusicnnError(
            f"musicnn weights are missing or damaged in {folder} ({path.name}: {exc}); "
            "convert them with `moodtape train import-musicnn musicnn-0.1.0-py3-none-any.whl`"
        ) from exc


class Musicnn:
    """A loaded musicnn model: `analyse(samples)`, `analyse_file(path)`."""

    def __init__(self, name: str, net: MusicnnNet, tags: tuple[str, ...], device: str = "cpu") -> None:
        self.name = name
        self.net = net.to(device).eval()
        self.tags = tags
        self.device = device

    @classmethod
    def load(
        cls, name: str = "MTT_musicnn", device: str = "cpu", folder: str | Path | None = None
    ) -> Musicnn:
        if name not in MODELS:
            raise MusicnnError(f"unknown musicnn model {name!r} (choose from {', '.join(MODELS)})")
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise MusicnnError("musicnn was asked to run on CUDA, but torch sees no CUDA device")
        return _load(name, device, str(folder or weights_dir()))

    @torch.inference_mode()
    def run_patches(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on (patches, 187, 96) log-mels, PATCH_BATCH patches at a time; layers on this device."""
        size = PATCH_BATCH.get(torch.device(self.device).type, 1)
        parts = [self.net(chunk.to(self.device)) for chunk in batch.split(size)]
        return {key: torch.cat([p[key] for p in parts]) for key in ("taggram", "penultimate", "pooled")}

    def analyse(
        self,
        samples: np.ndarray | torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        max_patches: int | None = None,
    ) -> MusicnnResult:
        """Tags and features of mono `samples` (resampled to 16 kHz when `sample_rate` differs)."""
        if sample_rate != SAMPLE_RATE:
            array = samples.cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
            samples = librosa.resample(array.astype(np.float32), orig_sr=sample_rate, target_sr=SAMPLE_RATE)
        out = self.run_patches(patches(log_mel(samples, self.device), max_patches))
        return MusicnnResult(
            model=self.name,
            tags=self.tags,
            taggram=out["taggram"].float().cpu().numpy(),
            penultimate=out["penultimate"].float().cpu().numpy(),
            pooled=out["pooled"].float().cpu().numpy(),
        )

    def analyse_file(
        self, path: str | os.PathLike[str], window_s: float | None = None, max_patches: int | None = None
    ) -> MusicnnResult:
        """Decode `path` at 16 kHz (with `window_s`, only that many seconds from the middle) and analyse it."""
        decoded = decode(path, sample_rate=SAMPLE_RATE, window_s=window_s)
        return self.analyse(decoded.samples, max_patches=max_patches)


@functools.lru_cache(maxsize=8)
def _load(name: str, device: str, folder_text: str) -> Musicnn:
    folder = Path(folder_text)
    manifest = _manifest(folder)
    entry = manifest.get("models", {}).get(name)
    if not isinstance(entry, dict):
        raise MusicnnError(f"{folder / 'musicnn.json'} lists no model {name!r}")
    tags = tuple(entry.get("tags", ()))
    path = folder / str(entry.get("file", ""))
    try:
        state = load_file(path)
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError
        raise MusicnnError(f"cannot read musicnn weights {path}: {exc}") from exc
    net = MusicnnNet(n_tags=len(tags))
    expected = net.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise MusicnnError(f"{path} does not hold musicnn weights of the expected layout")
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return Musicnn(name, net, tags, device)
