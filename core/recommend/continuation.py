"""Playlist continuation: songs to extend a playlist, from its seed songs.

The seeds' collaborative vectors (unit length, in `vec_cf`) are averaged and re-normalised, and the nearest
tracks by cosine are the answer: songs that sit where the seeds' playlists sit.  Each comes with the seed it
is closest to ("often in playlists with <seed>").  Seeds with no collaborative vector are left out of the
mean; when none has one, the answer falls back to sound: the nearest tracks to the seeds' mean audio vector.

Offline, `moodtape eval continuation` measures this exact procedure as "<method>:vectors" next to each
model's own scoring (e.g. ALS fold-in), which needs more than unit vectors and is what the store cannot hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from moodtape.core.cf.search import knn_in_versions
from moodtape.core.cf.state import load_state
from moodtape.core.errors import QueryError
from moodtape.core.recommend.similar import audio_reason
from moodtape.core.results import Catalogue, RecommendedTrack, top_tags_of, track_json
from moodtape.core.vectors import unit
from moodtape.db.models import Track
from moodtape.db.store import Store

MAX_K = 500


@dataclass(frozen=True)
class ContinueResult:
    seeds: list[Track]
    tracks: list[RecommendedTrack]
    catalogue: Catalogue = "database"

    def to_json(self) -> dict[str, Any]:
        return {"seeds": [track_json(s) for s in self.seeds], "tracks": [t.to_json() for t in self.tracks]}


async def continue_playlist(store: Store, seed_track_ids: Sequence[int], k: int) -> list[RecommendedTrack]:
    """The k best tracks to add to a playlist holding `seed_track_ids` (the seeds themselves excluded)."""
    if not 1 <= k <= MAX_K:
        raise QueryError(f"ask for between 1 and {MAX_K} songs")
    seeds = list(dict.fromkeys(int(t) for t in seed_track_ids))
    if not seeds:
        raise QueryError("give me at least one song to continue from")
    tracks = await store.get_tracks(seeds)
    missing = [t for t in seeds if t not in tracks]
    if missing:
        raise QueryError(f"there is no track #{missing[0]} in the catalogue")
    state = await load_state(store)
    if state is not None:
        stored = {tid: v for tid, v in (await store.get_vectors("cf", seeds)).items()
                  if v.model_version in state.versions}
        if stored:
            vectors = {tid: np.asarray(v.vector, dtype=np.float32) for tid, v in stored.items()}
            predicted = {tid for tid, v in stored.items() if v.model_version != state.version}
            return await _by_playlists(store, state.versions, state.version, vectors, predicted, tracks, k)
    return await _by_sound(store, seeds, tracks, k)


async def _by_playlists(
    store: Store, versions: tuple[str, ...], real_version: str, seeds: dict[int, np.ndarray], predicted_seeds: set[int],
    seed_tracks: dict[int, Track], k: int,
) -> list[RecommendedTrack]:
    ids = list(seeds)
    matrix = unit(np.stack([seeds[t] for t in ids]))
    query = unit(matrix.mean(axis=0))
    if not np.any(query):  # seeds pointing in opposite directions: use the first one alone
        query = matrix[0]
    found = await knn_in_versions(store, "cf", query, k, versions, exclude=seed_tracks.keys())
    hits = [hit for hit, _ in found]
    stored_of = {hit.track_id: stored for hit, stored in found}
    tracks = await store.get_tracks(h.track_id for h in hits)
    moods = await store.get_vectors("mood", [h.track_id for h in hits])
    out = []
    for hit in hits:
        track, stored = tracks.get(hit.track_id), stored_of[hit.track_id]
        if track is None:
            continue
        closeness = matrix @ unit(np.asarray(stored.vector, dtype=np.float32))
        best = int(np.argmax(closeness))
        seed = seed_tracks[ids[best]]
        score = 1.0 - hit.distance
        if stored.model_version == real_version and ids[best] not in predicted_seeds:
            reason = f"often in playlists with \"{seed.label}\" (similarity {score:.2f})"
        else:
            reason = (f"would suit playlists with \"{seed.label}\" (predicted from its sound; "
                      f"similarity {score:.2f})")
        mood = moods.get(hit.track_id)
        out.append(RecommendedTrack.from_track(track, score, reason,
                                               mood))
    return out


async def _by_sound(store: Store, seeds: list[int], seed_tracks: dict[int, Track], k: int) -> list[RecommendedTrack]:
    stored = await store.get_vectors("audio", seeds)
    if not stored:
        names = ", ".join(f"\"{seed_tracks[t].label}\"" for t in seeds[:3])
        raise QueryError(f"{names}: no playlist history and no audio yet, so I cannot tell what goes with "
                         f"{'it' if len(seeds) == 1 else 'them'}")
    version = Counter(v.model_version for v in stored.values()).most_common(1)[0][0]
    ids = [t for t in seeds if t in stored and stored[t].model_version == version]
    matrix = unit(np.stack([np.asarray(stored[t].vector, dtype=np.float32) for t in ids]))
    query = unit(matrix.mean(axis=0))
    if not np.any(query):
        query = matrix[0]
    hits = await store.knn("audio", query, k, model_version=version, exclude=seed_tracks.keys())
    found = await store.get_vectors("audio", [h.track_id for h in hits])
    tracks = await store.get_tracks(h.track_id for h in hits)
    moods = await store.get_vectors("mood", [h.track_id for h in hits])
    out = []
    for hit in hits:
        track, vector = tracks.get(hit.track_id), found.get(hit.track_id)
        if track is None or vector is None:
            continue
        candidate = np.asarray(vector.vector, dtype=np.float32)
        best = int(np.argmax(matrix @ unit(candidate)))
        seed = seed_tracks[ids[best]]
        score = 1.0 - hit.distance
        mood = moods.get(hit.track_id)
        detail = audio_reason(matrix[best], candidate, version, score, seed, track, top_tags_of(mood))
        reason = f"like \"{seed.label}\": {detail}; no playlist history to go on"
        out.append(RecommendedTrack.from_track(track, score, reason,
                                               mood))
    return out
