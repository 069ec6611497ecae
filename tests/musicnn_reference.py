"""A literal, slow re-statement of musicnn's TensorFlow graph (`musicnn/models.py`), for checking the fast port.

It works on TF-named variables in TF layouts (NHWC images, (kh, kw, in, out) kernels, (in, out) dense kernels)
and follows the original op by op: batch norm after every ReLU (epsilon 1e-3), max pooling *after* the norm,
TF "same" padding computed from its rule (pad_total = k - 1, pad_before = pad_total // 2), the mid end as 2-D
convolutions over a (time, channels, 1) image, and TF's flatten of the stacked (max, mean) pools.  Nothing is
shared with `core/audio/musicnn_layers.py` or the converter's layouts.
"""

from __future__ import annotations

import numpy as np
import torch


def _bn(x: torch.Tensor, v: dict[str, np.ndarray], name: str) -> torch.Tensor:
    def t(key: str) -> torch.Tensor:
        return torch.as_tensor(v[f"{name}/{key}"], dtype=torch.float64)

    return (x - t("moving_mean")) / torch.sqrt(t("moving_variance") + 1e-3) * t("gamma") + t("beta")


def _conv_valid(x: torch.Tensor, kernel: np.ndarray, bias: np.ndarray) -> torch.Tensor:
    """NHWC 'valid' conv2d with a TF (kh, kw, in, out) kernel, by explicit windows."""
    kh, kw, _, _ = kernel.shape
    windows = x.unfold(1, kh, 1).unfold(2, kw, 1)  # (B, H', W', C, kh, kw)
    k = torch.as_tensor(kernel, dtype=torch.float64)
    return torch.einsum("bhwcij,ijco->bhwo", windows, k) + torch.as_tensor(bias, dtype=torch.float64)


def _conv_same(x: torch.Tensor, kernel: np.ndarray, bias: np.ndarray) -> torch.Tensor:
    kh, kw = kernel.shape[:2]
    ph, pw = kh - 1, kw - 1
    padded = torch.nn.functional.pad(x, (0, 0, pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return _conv_valid(padded, kernel, bias)


def _layer(x: torch.Tensor, v: dict[str, np.ndarray], conv: str, bn: str, same: bool = False) -> torch.Tensor:
    out = (_conv_same if same else _conv_valid)(x, v[f"{conv}/kernel"], v[f"{conv}/bias"])
    return _bn(torch.relu(out), v, bn)


def musicnn_reference(patches: np.ndarray, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(B, 187, 96) log-mels -> logits, penultimate, flat pooled (1506), in float64."""
    x = torch.as_tensor(patches, dtype=torch.float64).unsqueeze(3)  # (B, T, F, 1)
    x = _bn(x, v, "batch_normalization")
    pad7 = torch.nn.functional.pad(x, (0, 0, 0, 0, 3, 3))
    front = []
    for conv, bn, source, same in (
        ("conv2d", "batch_normalization_1", pad7, False),
        ("conv2d_1", "batch_normalization_2", pad7, False),
        ("conv2d_2", "batch_normalization_3", x, True),
        ("conv2d_3", "batch_normalization_4", x, True),
        ("conv2d_4", "batch_normalization_5", x, True),
    ):
        front.append(_layer(source, v, conv, bn, same).amax(dim=2))  # max over all bands: (B, T, C)
    front_t = torch.cat(front, dim=2)  # (B, T, 561)
    img = front_t.unsqueeze(3)
    c1 = _layer(torch.nn.functional.pad(img, (0, 0, 0, 0, 3, 3)), v, "conv2d_5", "batch_normalization_6")
    c1 = c1.permute(0, 1, 3, 2)  # (B, T, 64, 1)
    c2 = _layer(torch.nn.functional.pad(c1, (0, 0, 0, 0, 3, 3)), v, "conv2d_6", "batch_normalization_7")
    r2 = c2.permute(0, 1, 3, 2) + c1
    c3 = _layer(torch.nn.functional.pad(r2, (0, 0, 0, 0, 3, 3)), v, "conv2d_7", "batch_normalization_8")
    r3 = c3.permute(0, 1, 3, 2) + r2
    features = torch.cat([img, c1, r2, r3], dim=2)  # (B, T, 753, 1)
    stacked = torch.cat([features.amax(dim=1), features.mean(dim=1)], dim=2)  # (B, 753, 2)
    flat = stacked.reshape(stacked.shape[0], -1)
    hidden = _bn(flat, v, "batch_normalization_9") @ torch.as_tensor(v["dense/kernel"], dtype=torch.float64)
    penultimate = _bn(
        torch.relu(hidden + torch.as_tensor(v["dense/bias"], dtype=torch.float64)),
        v,
        "batch_normalization_10",
    )
    logits = penultimate @ torch.as_tensor(v["dense_1/kernel"], dtype=torch.float64)
    logits = logits + torch.as_tensor(v["dense_1/bias"], dtype=torch.float64)
    return {"logits": logits.numpy(), "penultimate": penultimate.numpy(), "pooled": flat.numpy()}
