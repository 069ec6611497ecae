"""The RecSys Challenge 2018 playlist-continuation metrics, track level.

Definitions follow the challenge rules (Chen, Lamere, Schedl & Zamani, "RecSys Challenge 2018: Automatic
Music Playlist Continuation", RecSys 2018; https://recsys-challenge.spotify.com/rules) and the organisers'
reference code (RecsysChallengeTools `metrics.py`).  G is the set of held-out tracks of a playlist, R the
ranked list of (up to 500) recommended tracks, seeds excluded:

- R-precision = |G ∩ R[1..|G|]| / |G|: how many of the hidden tracks appear in as many top slots as there are
  hidden tracks.  (We score tracks only; no partial credit for artist matches.)
- NDCG = DCG / IDCG with DCG = sum_i rel_i / log2(i + 1) over R (rel_1 undiscounted) and IDCG the DCG of a
  perfect list, i.e. sum_{i=1}^{min(|G|, |R| cap)} 1 / log2(i + 1).
- Recommended-songs clicks = floor((position of the first relevant track - 1) / 10): Spotify's "Recommended
  Songs" shows 10 tracks per page; 51 (= 500 / 10 + 1) when no relevant track is in R.  Lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def _unique(items: Sequence[object]) -> list[object]:
    return list(dict.fromkeys(items))


def r_precision(truth: Collection[object], recommended: Sequence[object]) -> float:
    relevant = set(truth)
    if not relevant:
        raise ValueError("R-precision needs at least one held-out track")
    top = set(_unique(recommended)[:len(relevant)])
    return len(top & relevant) / len(relevant)


def ndcg(truth: Collection[object], recommended: Sequence[object], cap: int = 500) -> float:
    relevant = set(truth)
    if not relevant:
        raise ValueError("NDCG needs at least one held-out track")
    ranked = _unique(recommended)[:cap]
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked) if item in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), cap)))
    return dcg / idcg


def clicks(truth: Collection[object], recommended: Sequence[object], cap: int = 500, page: int = 10) -> int:
    relevant = set(truth)
    for position, item in enumerate(_unique(recommended)[:cap]):
        if item in relevant:
            return position // page
    return cap // page + 1
