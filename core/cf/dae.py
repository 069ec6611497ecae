"""The prototype's denoising autoencoder over song x playlist co-occurrence, in torch.

A playlist is a multi-hot vector over the songs.  Training drops most of its songs at random (heavy input
dropout) and asks the network to reconstruct the whole playlist, so it learns which songs go together rather
than the identity.  As in the prototype: SELU activations, and a squared-error loss in two parts: plain
reconstruction error over every song (the absent ones should come out near 0) plus a weighted error on the
observed entries only (the songs the playlist holds, target 1; a 👎 is an observed entry with target 0).
Without the masked term the few ones per row would drown in 147k zeros.

The input side is sparse (an EmbeddingBag sums the rows of the kept songs), so a batch costs what its songs
cost; the output side is dense because the plain term needs every song's score.  The 64-d code layer feeds
a linear decoder, and a song's decoder weights are its collaborative vector: songs whose scores rise and fall
with the same playlist codes belong in the same playlists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

Progress = Callable[[int, int], None]


class PlaylistDAE(nn.Module):
    def __init__(self, n_items: int, dims: int = 64, hidden: int | None = None) -> None:
        super().__init__()
        width = hidden or dims
        self.embed = nn.EmbeddingBag(n_items, width, mode="sum")
        self.embed_bias = nn.Parameter(torch.zeros(width))
        self.code = nn.Linear(width, dims) if hidden else None
        self.decoder = nn.Linear(dims, n_items)
        nn.init.normal_(self.embed.weight, std=1.0 / np.sqrt(width))
        nn.init.normal_(self.decoder.weight, std=1.0 / np.sqrt(dims))
        nn.init.zeros_(self.decoder.bias)

    def encode(self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        h = torch.selu(self.embed(indices, offsets, per_sample_weights=weights) + self.embed_bias)
        if self.code is not None:
            h = torch.selu(self.code(h))
        return h

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(indices, offsets, weights))


@dataclass
class DAEModel:
    net: PlaylistDAE
    dims: int
    hidden: int | None
    dropout: float
    masked_weight: float
    epochs: int
    device: str
    losses: list[float]
    sampled: int | None = None

    @property
    def version(self) -> str:
        hidden = f"-h{self.hidden}" if self.hidden else ""
        sampled = f"-s{self.sampled}" if self.sampled else ""
        return f"dae-d{self.dims}{hidden}-p{self.dropout:g}-w{self.masked_weight:g}-e{self.epochs}{sampled}"

    def item_vectors(self) -> np.ndarray:
        return self.net.decoder.weight.detach().cpu().numpy().astype(np.float32)

    @torch.no_grad()
    def score(self, items: np.ndarray) -> np.ndarray:
        """Reconstructed scores of every song for a playlist holding `items`."""
        self.net.eval()
        items = np.unique(np.asarray(items, dtype=np.int64))
        n_items = self.net.decoder.out_features
        if len(items) == 0:
            return self.net.decoder.bias.detach().cpu().numpy().astype(np.float32).copy()
        idx = torch.as_tensor(items, device=self.device)
        offsets = torch.zeros(1, dtype=torch.long, device=self.device)
        weights = torch.full((len(items),), 1.0 / np.sqrt(len(items)), device=self.device)
        out = self.net(idx, offsets, weights)[0]
        assert out.shape[0] == n_items
        return out.cpu().numpy().astype(np.float32)


def _inputs(
    pos: sp.csr_matrix, rows: np.ndarray, dropout: float, rng: np.random.Generator, device: str, train: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EmbeddingBag inputs: each row's kept songs (dropout while training), weighted 1/sqrt(kept)."""
    indices, offsets, weights = [], [], []
    count = 0
    for row in rows:
        items = pos.indices[pos.indptr[row]:pos.indptr[row + 1]]
        if train and len(items) > 1:
            keep = rng.random(len(items)) >= dropout
            if not keep.any():
                keep[rng.integers(len(items))] = True
            items = items[keep]
        offsets.append(count)
        indices.append(items)
        weights.append(np.full(len(items), 1.0 / np.sqrt(max(len(items), 1)), dtype=np.float32))
        count += len(items)
    return (
        torch.as_tensor(np.concatenate(indices), dtype=torch.long, device=device),
        torch.as_tensor(np.asarray(offsets), dtype=torch.long, device=device),
        torch.as_tensor(np.concatenate(weights), device=device),
    )


def _targets(
    pos: sp.csr_matrix, neg: sp.csr_matrix, rows: np.ndarray, sampled: int | None, rng: np.random.Generator,
    device: str,
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Output columns scored for this batch, their weight in the plain term, targets and observed mask.

    Without sampling every song is scored (columns None, weight 1).  With `sampled`, the batch's observed
    songs are always scored and a uniform sample of the others stands in for the rest, each weighted by the
    inverse of its chance of being drawn, so the plain term stays an unbiased estimate of the full sum.
    """
    n_items = pos.shape[1]
    pos_rows, neg_rows = pos[rows], neg[rows]
    observed = np.unique(np.concatenate([pos_rows.indices, neg_rows.indices]))
    if sampled is None or sampled >= n_items - len(observed):
        target = torch.as_tensor(pos_rows.toarray(), device=device)
        mask = target if neg.nnz == 0 else target + torch.as_tensor(neg_rows.toarray(), device=device)
        return None, torch.ones(n_items, device=device), target, mask
    drawn = np.setdiff1d(np.unique(rng.integers(0, n_items, sampled)), observed, assume_unique=True)
    chance = 1.0 - (1.0 - 1.0 / n_items) ** sampled
    columns = np.concatenate([observed, drawn])
    col_weight = np.concatenate([np.ones(len(observed)), np.full(len(drawn), 1.0 / chance)]).astype(np.float32)
    target = np.zeros((len(rows), len(columns)), dtype=np.float32)
    mask = np.zeros_like(target)
    for matrix, values in ((pos_rows, (target, mask)), (neg_rows, (mask,))):
        row_of = np.repeat(np.arange(len(rows)), np.diff(matrix.indptr))
        at = np.searchsorted(observed, matrix.indices)
        for array in values:
            array[row_of, at] = 1.0
    return (torch.as_tensor(columns, dtype=torch.long, device=device), torch.as_tensor(col_weight, device=device),
            torch.as_tensor(target, device=device), torch.as_tensor(mask, device=device))


def fit_dae(
    matrix: sp.csr_matrix,
    *,
    dims: int = 64,
    hidden: int | None = None,
    dropout: float = 0.5,
    masked_weight: float = 20.0,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.0,
    sampled: int | None = None,
    min_steps: int = 0,
    seed: int = 0,
    device: str = "cpu",
    threads: int | None = None,
    progress: Progress | None = None,
) -> DAEModel:
    """Train on a signed rows x items matrix (> 0 member / 👍, < 0 👎); rows with no positives are skipped.

    `sampled` (e.g. 16384) scores only the batch's observed songs plus that many random others per step
    instead of every song: the plain term is then estimated, not summed, which is what makes 147k-song
    vocabularies affordable on a CPU.  `min_steps` adds epochs until that many optimiser steps were taken:
    an epoch of 60 playlists is one step, so a small catalogue would otherwise stop before it learnt
    anything.  `threads` caps torch's CPU threads for this fit: on a busy machine,
    threads spinning on each other's barriers cost more than they give (a tiny model trains 40x slower with
    2 threads on 2 loaded cores).
    """
    if threads is not None and threads > 0:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fit_dae(matrix, dims=dims, hidden=hidden, dropout=dropout, masked_weight=masked_weight,
                           epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                           sampled=sampled, min_steps=min_steps, seed=seed, device=device, progress=progress)
        finally:
            torch.set_num_threads(previous)
    if not 0.0 <= dropout < 1.0:
        raise ValueError("dropout must be in [0, 1)")
    if dims < 1 or epochs < 1 or batch_size < 1 or masked_weight < 0 or (sampled is not None and sampled < 1):
        raise ValueError("dims, epochs, batch_size and sampled must be positive, masked_weight non-negative")
    signed = sp.csr_matrix(matrix, dtype=np.float32)
    pos = (signed > 0).astype(np.float32).tocsr()
    neg = (signed < 0).astype(np.float32).tocsr()
    pos.sort_indices()
    neg.sort_indices()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = PlaylistDAE(signed.shape[1], dims, hidden).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    rows_with_songs = np.flatnonzero(np.diff(pos.indptr) > 0)
    steps_per_epoch = max(1, -(-len(rows_with_songs) // batch_size))
    epochs = max(epochs, -(-min_steps // steps_per_epoch))
    losses: list[float] = []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(rows_with_songs)
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            idx, offsets, weights = _inputs(pos, rows, dropout, rng, device, True)
            columns, col_weight, target, mask = _targets(pos, neg, rows, sampled, rng, device)
            code = net.encode(idx, offsets, weights)
            if columns is None:
                out = net.decoder(code)
            else:
                out = nn.functional.linear(code, net.decoder.weight[columns], net.decoder.bias[columns])
            error = (out - target) ** 2
            plain = (error * col_weight).sum(dim=1)
            masked = (error * mask).sum(dim=1)
            batch_loss = (plain + masked_weight * masked).mean()
            optimiser.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimiser.step()
            total += float(batch_loss.detach()) * len(rows)
        losses.append(total / max(len(order), 1))
        if progress is not None:
            progress(epoch + 1, epochs)
    net.eval()
    return DAEModel(net, dims, hidden, dropout, masked_weight, epochs, device, losses, sampled)
