"""The musicnn network (Pons & Serra, 2019) in PyTorch, laid out for fast inference.

The original is TensorFlow 1 (`musicnn/models.py` in the `musicnn` 0.1.0 wheel); this is the same computation
on 187-frame x 96-band log-mel patches, with weights converted by `moodtape train import-musicnn`:

- front end: input batch norm, then two timbral convolutions (7 frames x 38 and x 67 bands, 204 filters, time
  padded by 3 each side) and three temporal ones (128, 64 and 32 frames x 1 band, 51 filters, TensorFlow "same"
  padding, which puts the odd extra frame at the end); each is conv -> ReLU -> batch norm -> max over bands;
- mid end: three 1-D convolutions over time (7 frames, 64 filters, conv -> ReLU -> batch norm), the second and
  third with residual connections; the front-end output and all three are concatenated (561 + 3 x 64 = 753);
- back end: max and mean over time, interleaved per channel (max0, mean0, max1, ...: 1506 values, as TF's
  flatten of the (753, 2) stack gives), batch norm, dense 200 + ReLU + batch norm (the "penultimate" layer),
  dense 50 (logits; the sigmoid of these is the taggram).

All batch norms are TF's (epsilon 1e-3).  Speed: the front end max-pools over bands *before* its batch norm
(exact: per channel the norm is monotone, decreasing where its scale is negative, where the minimum is pooled
instead), and the temporal convolutions run as 1-D convolutions over every band's time series at once.
On a CPU, one or two patches per call run fastest (the activations stay in cache); a GPU wants large batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

N_MELS = 96
N_FRAMES = 187
BN_EPS = 1e-3
TIMBRAL = {"timbral74": 38, "timbral77": 67}  # int(0.4 * 96), int(0.7 * 96) bands
TEMPORAL = {"temporal128": 128, "temporal64": 64, "temporal32": 32}  # frames
TIMBRAL_FILTERS = 204  # int(1.6 * 128)
TEMPORAL_FILTERS = 51  # int(1.6 * 32)
FRONT = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS  # 561
MID = 64
POOLED = 2 * (FRONT + 3 * MID)  # 1506
PENULTIMATE = 200
N_TAGS = 50


class BatchNorm(nn.Module):
    """Inference-only batch norm over the last-but-`dim` axis with TF's epsilon; `scale`/`shift` are cached."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self.weight * torch.rsqrt(self.running_var + BN_EPS)
        return scale, self.bias - self.running_mean * scale

    def forward(self, x: torch.Tensor, channel_dim: int = 1) -> torch.Tensor:
        scale, shift = self.affine()
        shape = [1] * x.dim()
        shape[channel_dim] = -1
        return x * scale.view(shape) + shift.view(shape)


def _pooled_bn(conv: torch.Tensor, bn: BatchNorm, dim: int = -1) -> torch.Tensor:
    """bn(relu(conv)) max-pooled over the band axis `dim`, computed as bn(relu(max or min)) -> (B, C, T).

    relu is non-decreasing and the norm is affine per channel, so for a channel with scale >= 0 the maximum of
    the normalised map is the normalised maximum, and for one with scale < 0 it is the normalised minimum.
    """
    scale, shift = bn.affine()
    negative = (scale < 0).view(1, -1, 1)
    top = conv.amax(dim=dim)
    if bool(negative.any()):
        top = torch.where(negative, conv.amin(dim=dim), top)
    return F.relu(top) * scale.view(1, -1, 1) + shift.view(1, -1, 1)


class MusicnnNet(nn.Module):
    """musicnn on log-mel patches (B, 187, 96) -> a dict of layers (see `forward`)."""

    def __init__(self, n_tags: int = N_TAGS) -> None:
        super().__init__()
        self.input_bn = BatchNorm(1)
        self.timbral = nn.ModuleDict(
            {name: nn.Conv2d(1, TIMBRAL_FILTERS, (7, width)) for name, width in TIMBRAL.items()}
        )
        self.timbral_bn = nn.ModuleDict({name: BatchNorm(TIMBRAL_FILTERS) for name in TIMBRAL})
        self.temporal = nn.ModuleDict(
            {name: nn.Conv2d(1, TEMPORAL_FILTERS, (size, 1)) for name, size in TEMPORAL.items()}
        )
        self.temporal_bn = nn.ModuleDict({name: BatchNorm(TEMPORAL_FILTERS) for name in TEMPORAL})
        self.mid = nn.ModuleList([nn.Conv1d(FRONT, MID, 7), nn.Conv1d(MID, MID, 7), nn.Conv1d(MID, MID, 7)])
        self.mid_bn = nn.ModuleList([BatchNorm(MID) for _ in range(3)])
        self.pool_bn = BatchNorm(POOLED)
        self.dense = nn.Linear(POOLED, PENULTIMATE)
        self.dense_bn = BatchNorm(PENULTIMATE)
        self.out = nn.Linear(PENULTIMATE, n_tags)
        self.eval()

    def front_end(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 96) log-mels -> (B, 561, T): f74, f77, s128, s64, s32 pooled over bands."""
        batch, frames, bands = x.shape
        scale, shift = self.input_bn.affine()
        x = x * scale + shift
        image = F.pad(x, (0, 0, 3, 3)).unsqueeze(1)  # (B, 1, T + 6, 96)
        parts = [_pooled_bn(self.timbral[name](image), self.timbral_bn[name]) for name in TIMBRAL]
        series = x.transpose(1, 2).reshape(batch * bands, 1, frames)  # every band's time series
        for name, k in TEMPORAL.items():  # TF "same": (k - 1) // 2 frames before, k // 2 after
            conv = self.temporal[name]
            out = F.conv1d(F.pad(series, ((k - 1) // 2, k // 2)), conv.weight[:, :, :, 0], conv.bias)
            parts.append(
                _pooled_bn(out.view(batch, bands, TEMPORAL_FILTERS, frames), self.temporal_bn[name], dim=1)
            )
        return torch.cat(parts, dim=1)

    def mid_end(self, front: torch.Tensor) -> torch.Tensor:
        """(B, 561, T) -> (B, 753, T): the front end and the three mid-end layers, densely connected."""
        layers = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn)):
            y = bn(F.relu(conv(F.pad(h, (3, 3)))))
            h = y if i == 0 else y + h
            layers.append(h)
        return torch.cat(layers, dim=1)

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per patch: `logits` (50), `taggram` (sigmoid, 50), `penultimate` (200), `pooled` (1506, before the
        back end's batch norm: the musicnn "max_pool"/"mean_pool" features interleaved), `max_pool` and
        `mean_pool` (753 each)."""
        features = self.mid_end(self.front_end(patches))
        max_pool = features.amax(dim=2)
        mean_pool = features.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        logits = self.out(penultimate)
        return {
            "logits": logits,
            "taggram": torch.sigmoid(logits),
            "penultimate": penultimate,
            "pooled": pooled,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }
