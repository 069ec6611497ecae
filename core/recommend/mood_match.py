"""Songs for a mood: walk a strategy's target points through the songs' mood space.

A reply is a fixed set of store calls, all queued at once: one nearest-neighbour search per distinct target
point (`match` has one point, the paths have `k`), then the tracks and mood vectors of the songs chosen
(one `get_tracks`, one `get_vectors`).  Each search asks for as many neighbours as songs may already be
taken before its step, so the "nearest song not chosen yet" of every step is among them and the greedy walk
is done in memory.
"""

from __future__ import annotations

import asyncio
import math

from moodtape.core.mood.space import describe, relation, strategy_targets
from moodtape.core.results import RecommendedTrack
from moodtape.db.models import Neighbor
from moodtape.db.store import Store

_MAX_DISTANCE = 2.0 * math.sqrt(2.0)  # diagonal of the [-1, 1]^2 square


async def songs_for_mood(store: Store, valence: float, arousal: float, strategy: str, k: int) -> list[RecommendedTrack]:
    """One song per target point, nearest first, never the same song twice.

    For `match` every target is the person's point, so this is plain nearest-neighbour search; for the
    other strategies the targets form a path and the songs come out in playing order.
    """
    targets = strategy_targets(valence, arousal, strategy, k)
    depth: dict[tuple[float, float], int] = {}
    for step, target in enumerate(targets):  # step i may find i songs taken: it needs i + 1 neighbours
        depth[target] = step + 1
    found = await asyncio.gather(*(store.knn("mood", list(target), wanted) for target, wanted in depth.items()))
    neighbours: dict[tuple[float, float], list[Neighbor]] = dict(zip(depth, found))

    picks: list[tuple[int, Neighbor]] = []
    used: set[int] = set()
    for step, target in enumerate(targets):
        hit = next((h for h in neighbours[target] if h.track_id not in used), None)
        if hit is None:  # every song with a mood is already in the answer
            break
        used.add(hit.track_id)
        picks.append((step, hit))

    ids = [hit.track_id for _, hit in picks]
    tracks, moods = await asyncio.gather(store.get_tracks(ids), store.get_vectors("mood", ids))
    chosen: list[RecommendedTrack] = []
    for step, hit in picks:
        track, stored = tracks.get(hit.track_id), moods.get(hit.track_id)
        if track is None or stored is None:
            continue
        sv, sa = stored.vector
        reason = f"{describe(sv, sa)} — {relation(strategy, step, len(targets))}"
        score = max(0.0, 1.0 - hit.distance / _MAX_DISTANCE)
        chosen.append(RecommendedTrack.from_track(track, score, reason, (sv, sa)))
    return chosen
