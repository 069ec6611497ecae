""""Songs like this" from two kinds of evidence: how songs sound, and which playlists they share.

Audio neighbours and collaborative neighbours are pooled, each candidate gets both similarities where both
vectors exist, and the score is their weighted mean (`settings.weight_audio`, `settings.weight_cf`) over the
signals the pair has: a metadata-only track (imported playlist, no audio) is judged by its playlists alone,
a fresh file with no playlists by its sound (plus, when the store has a content-to-collaborative bridge, the
collaborative vector its sound predicts).  The reason line names the signals that brought the song in and
shows both similarities, so a listener can tell "sounds alike" from "people play these together".

With no collaborative vectors in the store the answer is exactly the audio answer of `core.similar`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from moodtape.core.cf.search import knn_in_versions
from moodtape.core.cf.state import CFState, load_bridge, load_state
from moodtape.core.errors import QueryError
from moodtape.core.recommend.similar import (
    QueryRow,
    audio_neighbours,
    metadata_relation,
    rows_for_reply,
    sound_phrase,
)
from moodtape.core.results import RecommendedTrack, top_tags_of
from moodtape.db.models import StoredVector, Track
from moodtape.db.store import Store

_NO_VECTOR = {"pending": "is waiting to be embedded", "failed": "could not be embedded",
              "metadata_only": "has no audio (metadata only)"}


async def has_own_music(store: Store) -> bool:
    """Whether queries can run on this database: it has ready tracks, or collaborative vectors."""
    return await store.count_tracks("ready") > 0 or await load_state(store) is not None


@dataclass(frozen=True)
class Query:
    """The query's vectors; `cf_predicted` when its collaborative vector comes from the bridge;
    `audio_stored` when its audio vector is a catalogue track's own (a narrower index search finds it)."""

    audio: np.ndarray | None = None
    audio_version: str | None = None
    cf: np.ndarray | None = None
    cf_predicted: bool = False
    audio_stored: bool = False


async def _cf_of(store: Store, state: CFState | None, track_id: int) -> tuple[np.ndarray | None, bool]:
    if state is None:
        return None, False
    stored = await store.get_vector("cf", track_id)
    if stored is None or stored.model_version not in state.versions:
        return None, False
    return np.asarray(stored.vector, dtype=np.float32), stored.model_version != state.version


async def _predicted_cf(store: Store, state: CFState | None, audio: np.ndarray, version: str) -> np.ndarray | None:
    if state is None:
        return None
    bridge = await load_bridge(store)
    if bridge is None or bridge.audio_version != version:
        return None
    return bridge.predict(audio)[0]


async def similar_tracks(store: Store, track: Track | QueryRow, k: int, *, weight_audio: float,
                         weight_cf: float) -> list[RecommendedTrack]:
    """Neighbours of a catalogue track by sound and playlists; a clear error when it has neither vector.

    A `QueryRow` (the track known by id alone) has its row read with the neighbours' (`QueryRow.track`)."""
    # One after the other: both are usually answered in memory (the state is cached, the vector comes from
    # the index), where gathering them would only add the scheduling of two tasks (~0.1 ms) to the reply.
    state = await load_state(store)
    audio, audio_version = await store.vector_array("audio", track.id) or (None, None)
    # Without a collaborative state (no playlists yet) there is nothing to read: no coroutines to run either.
    cf, predicted = await _cf_of(store, state, track.id) if state is not None else (None, False)
    if cf is None and audio is not None and state is not None:
        cf = await _predicted_cf(store, state, audio, audio_version)  # type: ignore[arg-type]
        predicted = cf is not None
    if audio is None and cf is None:
        if isinstance(track, QueryRow):  # no search to read the row with: the error needs it now
            track.track = await store.get_track(track.id)
            if track.track is None:
                raise QueryError(f"there is no track #{track.id} in the catalogue")
            track = track.track
        status = _NO_VECTOR.get(track.status, "has no audio vector")
        if track.status == "failed" and track.error:
            status = f"could not be embedded ({track.error})"
        raise QueryError(f"\"{track.label}\" {status} and no playlist history yet, so I cannot compare it yet")
    query = Query(audio, audio_version, cf, predicted, audio_stored=True)
    return await blend(store, state, query, k, weight_audio=weight_audio, weight_cf=weight_cf,
                       exclude={track.id}, query_track=track)


async def similar_to_audio(store: Store, vector: np.ndarray, version: str, k: int, *, weight_audio: float,
                           weight_cf: float, exclude: set[int] | None = None) -> list[RecommendedTrack]:
    """Neighbours of an audio vector that is not in the catalogue (a shared clip): sound + predicted cf."""
    state = await load_state(store)
    cf = await _predicted_cf(store, state, vector, version)
    query = Query(np.asarray(vector, dtype=np.float32), version, cf, cf is not None)
    return await blend(store, state, query, k, weight_audio=weight_audio, weight_cf=weight_cf, exclude=exclude)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom > 0 else 0.0


async def blend(
    store: Store, state: CFState | None, query: Query, k: int, *, weight_audio: float, weight_cf: float,
    exclude: set[int] | None = None, query_track: Track | QueryRow | None = None,
) -> list[RecommendedTrack]:
    exclude = set(exclude or ())
    use_audio = query.audio is not None and (weight_audio > 0 or query.cf is None or weight_cf <= 0)
    use_cf = query.cf is not None and state is not None and (weight_cf > 0 or not use_audio)
    if use_audio and not use_cf:
        assert query.audio is not None and query.audio_version is not None
        return await audio_neighbours(store, query.audio, query.audio_version, k, exclude=exclude,
                                      query_track=query_track, stored_query=query.audio_stored)
    assert state is not None and query.cf is not None
    audio_query = query.audio if use_audio else None
    audio_version = query.audio_version or ""
    pool = max(4 * k, 50)
    audio_sim: dict[int, float] = {}
    cf_sim: dict[int, float] = {}
    found_by_audio: set[int] = set()
    found_by_cf: set[int] = set()
    audio_stored: dict[int, StoredVector] = {}
    cf_stored: dict[int, StoredVector] = {}
    if audio_query is not None:
        for hit, stored in await knn_in_versions(store, "audio", audio_query, pool, {audio_version}, exclude=exclude):
            audio_sim[hit.track_id] = 1.0 - hit.distance
            found_by_audio.add(hit.track_id)
            audio_stored[hit.track_id] = stored
    for hit, stored in await knn_in_versions(store, "cf", query.cf, pool, state.versions, exclude=exclude):
        cf_sim[hit.track_id] = 1.0 - hit.distance
        found_by_cf.add(hit.track_id)
        cf_stored[hit.track_id] = stored
    candidates = sorted(found_by_audio | found_by_cf)
    if audio_query is not None:
        audio_stored.update(await store.get_vectors("audio", [t for t in candidates if t not in audio_stored]))
    cf_stored.update(await store.get_vectors("cf", [t for t in candidates if t not in cf_stored]))
    audio_vectors = {tid: np.asarray(v.vector, dtype=np.float32) for tid, v in audio_stored.items()
                     if v.model_version == audio_version}
    cf_stored = {tid: v for tid, v in cf_stored.items() if v.model_version in state.versions}
    for tid in candidates:
        if audio_query is not None and tid not in audio_sim and tid in audio_vectors:
            audio_sim[tid] = _cosine(audio_query, audio_vectors[tid])
        if tid not in cf_sim and tid in cf_stored:
            cf_sim[tid] = _cosine(query.cf, np.asarray(cf_stored[tid].vector, dtype=np.float32))
    wa, wc = (weight_audio if use_audio else 0.0), weight_cf
    if wa + wc <= 0:  # both weights zero: count the signals equally rather than answer nothing
        wa, wc = (1.0 if use_audio else 0.0), 1.0
    scored = []
    for tid in candidates:
        parts = [(wa, audio_sim[tid])] if tid in audio_sim and wa > 0 else []
        if tid in cf_sim and wc > 0:
            parts.append((wc, cf_sim[tid]))
        if parts:
            scored.append((sum(w * s for w, s in parts) / sum(w for w, _ in parts), tid))
    scored.sort(key=lambda item: (-item[0], item[1]))
    top = scored[:k]
    tracks, moods, query_row = await rows_for_reply(store, [tid for _, tid in top], query_track)
    out = []
    for score, tid in top:
        track = tracks.get(tid)
        if track is None:
            continue
        candidate_predicted = tid in cf_stored and cf_stored[tid].model_version != state.version
        mood = moods.get(tid)
        tags = top_tags_of(mood)
        reason = _reason(
            query, query_row, track, score,
            audio=audio_sim.get(tid), cf=cf_sim.get(tid),
            by_audio=tid in found_by_audio, by_cf=tid in found_by_cf,
            audio_vector=audio_vectors.get(tid), predicted=query.cf_predicted or candidate_predicted,
            tags=tags,
        )
        out.append(RecommendedTrack.from_track(track, score, reason, mood, tags))
    return out


def _reason(
    query: Query, query_track: Track | None, track: Track, score: float, *, audio: float | None, cf: float | None,
    by_audio: bool, by_cf: bool, audio_vector: np.ndarray | None, predicted: bool, tags: tuple[str, ...] = (),
) -> str:
    relation = metadata_relation(query_track, track)
    parts = [relation] if relation else []
    if by_audio and audio is not None:
        parts.append(sound_phrase(query.audio, audio_vector, query.audio_version, tags))
    if by_cf and cf is not None:
        parts.append("would suit the same playlists (predicted from its sound)" if predicted
                     else "often in the same playlists")
    if audio is None or cf is None:
        return "; ".join(parts) + f" (similarity {score:.2f})"
    return "; ".join(parts) + f" (similarity {score:.2f}: sound {audio:.2f}, playlists {cf:.2f})"
