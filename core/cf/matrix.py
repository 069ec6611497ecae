"""The playlist x track interaction matrix, with 👍/👎 feedback folded in as extra rows.

Feedback scheme: every user who voted gets one pseudo-playlist, "the songs this person liked".  A 👍 puts
the track in it (like adding it to a playlist); a 👎 records a *confident zero* in the same row: the model is
told, more firmly than for a song the person simply never met, that this song does not belong with the songs
that person liked.  Votes are netted per (user, track) across contexts, so a 👍 later withdrawn by a 👎
cancels out.  A user with only 👎 gives no signal (nothing says what the dislikes do not go with).

Values in the matrix are signed weights: > 0 is a positive interaction (playlist membership, 👍), < 0 a
negative one (👎).  ALS reads the sign as the preference and the magnitude as extra confidence; item-kNN
and the autoencoder read positives only, and negatives as "known not to belong".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """Rows are playlists (then feedback users), columns tracks; ids map positions back to the store."""

    matrix: sp.csr_matrix  # float32, signed weights
    item_ids: np.ndarray  # int64 track id of each column
    row_labels: tuple[str, ...]  # "playlist:<id>" or "feedback:<user_ref>"

    @property
    def n_rows(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def positives(self) -> sp.csr_matrix:
        """Binary matrix of the positive interactions (what co-occurrence models count)."""
        pos = self.matrix.multiply(self.matrix > 0).tocsr()
        pos.data = np.ones_like(pos.data)
        pos.eliminate_zeros()
        return pos

    def negatives(self) -> sp.csr_matrix:
        """Binary matrix of the 👎 cells."""
        neg = (-self.matrix).multiply(self.matrix < 0).tocsr()
        neg.data = np.ones_like(neg.data)
        neg.eliminate_zeros()
        return neg

    def item_counts(self) -> np.ndarray:
        """In how many rows each track appears positively (its popularity)."""
        return np.asarray(self.positives().sum(axis=0)).ravel()


def build_interactions(
    pairs: Iterable[tuple[int, int]],
    feedback: Iterable[tuple[int, str, int]] = (),
    *,
    feedback_weight: float = 1.0,
) -> Interactions:
    """Build the matrix from (playlist id, track id) pairs and (track id, user_ref, ±1) votes.

    A track repeated in one playlist counts once: repetition says little about belonging, and a binary
    matrix keeps the confidence scale of implicit ALS independent of playlist editing habits.
    """
    if feedback_weight <= 0:
        raise ValueError("feedback_weight must be positive")
    rows_of: dict[str, int] = {}
    items_of: dict[int, int] = {}
    cells: dict[tuple[int, int], float] = {}
    for playlist_id, track_id in pairs:
        row = rows_of.setdefault(f"playlist:{int(playlist_id)}", len(rows_of))
        col = items_of.setdefault(int(track_id), len(items_of))
        cells[(row, col)] = 1.0
    net: dict[tuple[str, int], int] = defaultdict(int)
    for track_id, user_ref, value in feedback:
        if value not in (-1, 1):
            raise ValueError(f"feedback values are +1 or -1, got {value!r}")
        net[(user_ref, int(track_id))] += value
    likes = {user for (user, _), total in net.items() if total > 0}
    for (user, track_id), total in sorted(net.items()):
        if total == 0 or user not in likes:
            continue
        row = rows_of.setdefault(f"feedback:{user}", len(rows_of))
        col = items_of.setdefault(track_id, len(items_of))
        cells[(row, col)] = feedback_weight if total > 0 else -feedback_weight
    if cells:
        keys = np.fromiter((r for r, _ in cells), dtype=np.int64, count=len(cells))
        cols = np.fromiter((c for _, c in cells), dtype=np.int64, count=len(cells))
        values = np.fromiter(cells.values(), dtype=np.float32, count=len(cells))
    else:
        keys = cols = np.zeros(0, dtype=np.int64)
        values = np.zeros(0, dtype=np.float32)
    matrix = sp.csr_matrix((values, (keys, cols)), shape=(len(rows_of), len(items_of)), dtype=np.float32)
    matrix.sort_indices()
    item_ids = np.fromiter(items_of, dtype=np.int64, count=len(items_of))
    return Interactions(matrix=matrix, item_ids=item_ids, row_labels=tuple(rows_of))


def from_playlists(playlists: Sequence[Sequence[object]]) -> tuple[sp.csr_matrix, list[object]]:
    """Binary playlist x item matrix from lists of arbitrary item keys (evaluation files use track URIs).

    Returns the matrix and the item key of each column, in first-seen order.
    """
    index: dict[object, int] = {}
    indptr = [0]
    indices: list[int] = []
    for items in playlists:
        seen = {index.setdefault(item, len(index)) for item in items}
        indices.extend(sorted(seen))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(playlists), len(index)),
    )
    return matrix, list(index)
