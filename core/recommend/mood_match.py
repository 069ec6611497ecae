"""Songs for a mood: walk a strategy's target points through the songs' mood space."""

from __future__ import annotations

import math

from moodtape.core.mood.space import describe, relation, strategy_targets
from moodtape.core.results import RecommendedTrack
from moodtape.db.store import Store

_MAX_DISTANCE = 2.0 * math.sqrt(2.0)  # diagonal of the [-1, 1]^2 square


async def songs_for_mood(store: Store, valence: float, arousal: float, strategy: str, k: int) -> list[RecommendedTrack]:
    """One song per target point, nearest first, never the same song twice.

    For `match` every target is the person's point, so this is plain nearest-neighbour search; for the
    other strategies the targets form a path and the songs come out in playing order.
    """
    targets = strategy_targets(valence, arousal, strategy, k)
    chosen: list[RecommendedTrack] = []
    used: set[int] = set()
    for step, (tv, ta) in enumerate(targets):
        hits = await store.knn("mood", [tv, ta], 1, exclude=used)
        if not hits:
            break
        hit = hits[0]
        used.add(hit.track_id)
        track = await store.get_track(hit.track_id)
        stored = await store.get_vector("mood", hit.track_id)
        if track is None or stored is None:
            continue
        sv, sa = stored.vector
        reason = f"{describe(sv, sa)} — {relation(strategy, step, len(targets))}"
        score = max(0.0, 1.0 - hit.distance / _MAX_DISTANCE)
        chosen.append(RecommendedTrack.from_track(track, score, reason, (sv, sa)))
    return chosen
