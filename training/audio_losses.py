"""The audio encoder's training losses on window embeddings, and the collapse monitor (training/audio.py)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss for N positive pairs (a[i], b[i]); the other 2N - 2 views are the negatives."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = a.shape[0]
    sims = z @ z.T / temperature
    sims.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sims, targets)


def group_contrastive(unit: torch.Tensor, groups: list[str], temperature: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020): every other view of the same group is a positive.

    Anchors without a positive in the batch add nothing; a batch with none at all gives 0.
    """
    n = unit.shape[0]
    codes = {g: k for k, g in enumerate(dict.fromkeys(groups))}
    ids = torch.tensor([codes[g] for g in groups], device=unit.device)
    eye = torch.eye(n, dtype=torch.bool, device=unit.device)
    positive = (ids.unsqueeze(0) == ids.unsqueeze(1)) & ~eye
    sims = (unit @ unit.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = sims - torch.logsumexp(sims, dim=1, keepdim=True)
    counts = positive.sum(dim=1)
    has = counts > 0
    if not bool(has.any()):
        return unit.new_zeros(())
    mean_pos = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[has] / counts[has]
    return -mean_pos.mean()


def spread(unit: torch.Tensor) -> dict[str, float]:
    """Collapse monitor on unit vectors: mean per-dimension std and mean pairwise cosine (others only)."""
    n = unit.shape[0]
    sims = unit @ unit.T
    off = (sims.sum() - sims.diagonal().sum()) / max(1, n * (n - 1))
    return {"dim_std": float(unit.std(dim=0).mean()), "mean_cos": float(off)}
