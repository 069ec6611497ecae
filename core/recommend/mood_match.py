"""Songs for a mood: walk a strategy's target points through the songs' mood space.

A reply is a fixed set of store calls, all queued at once: one nearest-neighbour search per distinct target
point (`match` has one point, the paths have `k`), then the tracks and mood vectors of the songs chosen
(one `get_tracks`, one `get_vectors`).  Each search asks for as many neighbours as songs may already be
taken before its step, so the "nearest song not chosen yet" of every step is among them and the greedy walk
is done in memory.

With sound words from the message ("chill with piano", "no vocals": a `TagQuery`), each search asks for
`TAG_POOL` times as many neighbours, the moods (and musicnn tags) of all of them are read in one call, and
each step takes the candidate with the lowest mood distance less `TAG_PULL` times its tag score; songs that
plainly have an asked-away sound come last.  Asked-for *sounds* ("with piano", "jazz") filter: a step takes a
song that clearly has them when one lies within `TAG_REACH` of the step's nearest song, so "sad but with piano"
gets the saddest piano songs rather than sad songs without piano, but never a song from across the plane.  A pool without any tag data (a catalogue analysed before
musicnn) is walked by distance alone, as without words.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from moodtape.core.audio.musicnn_tags import load_tag_priors
from moodtape.core.mood.space import describe, relation, strategy_targets
from moodtape.core.mood.tag_words import TagQuery
from moodtape.core.recommend.tag_match import (
    asked_phrase,
    has_asked_sound,
    matched_words,
    ruled_out,
    tag_phrase,
    tag_score,
    track_tags,
)
from moodtape.core.results import RecommendedTrack, top_tags_of
from moodtape.db.models import Neighbor, StoredVector
from moodtape.db.store import Store

_MAX_DISTANCE = 2.0 * math.sqrt(2.0)  # diagonal of the [-1, 1]^2 square
#: How much mood distance a song that fully has the asked-for sound is allowed to be further away: about
#: one band of `describe` (0.3 wide), so "with piano" picks the piano song among the close ones but does not
#: answer a sad message with a bright piano song.
TAG_PULL = 0.3
#: With sound words each step looks at this many times the neighbours it needs without them.
TAG_POOL = 8
#: ... and at least this many, so a requested sound has songs to be found among in a small catalogue.
TAG_POOL_MIN = 64
#: How much farther (mood distance) than a step's nearest song a song with the asked-for sound may be.
TAG_REACH = 0.6
_POOL_MAX = 2000


async def songs_for_mood(store: Store, valence: float, arousal: float, strategy: str, k: int, *,
                         tags: TagQuery | None = None, priors: Mapping[str, float] | None = None
                         ) -> list[RecommendedTrack]:
    """One song per target point, nearest first, never the same song twice.

    For `match` every target is the person's point, so this is plain nearest-neighbour search; for the
    other strategies the targets form a path and the songs come out in playing order.  `tags`: sound
    words of the message, which re-rank each step's neighbours (module docstring); `priors`: each tag's
    mean probability over a reference corpus (None: the shipped ones, `load_tag_priors()`, read without
    torch), `DEFAULT_PRIOR` for a tag without one.
    """
    priors = load_tag_priors() if priors is None else priors
    targets = strategy_targets(valence, arousal, strategy, k)
    depth: dict[tuple[float, float], int] = {}
    for step, target in enumerate(targets):  # step i may find i songs taken: it needs i + 1 neighbours
        depth[target] = (max(step + 1, min(_POOL_MAX, max(TAG_POOL_MIN, (step + 1) * TAG_POOL))) if tags
                         else step + 1)
    found = await asyncio.gather(*(store.knn("mood", list(target), wanted) for target, wanted in depth.items()))
    neighbours: dict[tuple[float, float], list[Neighbor]] = dict(zip(depth, found))

    moods: dict[int, StoredVector] | None = None
    # track -> (ruled out, has the asked-for sounds, tag score), when any track of the pool has tags
    sound: dict[int, tuple[bool, bool, float]] = {}
    if tags:
        moods = await store.get_vectors("mood", {hit.track_id for hits in found for hit in hits})
        kept = {tid: track_tags(sv.details) for tid, sv in moods.items()}
        if any(kept.values()):
            sound = {tid: (ruled_out(own, tags, priors), has_asked_sound(own, tags, priors),
                           tag_score(own, tags, priors)) for tid, own in kept.items()}

    def pulled(hit: Neighbor) -> float:
        """A hit's mood distance less the pull of its sound (a path step's own distance)."""
        return hit.distance - TAG_PULL * sound.get(hit.track_id, (False, False, 0.0))[2]

    def choose(free: list[Neighbor]) -> Neighbor:
        """Not ruled out first; then, within reach of the nearest, one with the asked-for sounds; then pulled."""
        reach = free[0].distance + TAG_REACH

        def key(hit: Neighbor) -> tuple[bool, bool, float]:
            out, has, _ = sound.get(hit.track_id, (False, False, 0.0))
            return out, not (has and hit.distance <= reach), pulled(hit)

        return min(free, key=key)

    picks: list[tuple[int, Neighbor]] = []
    used: set[int] = set()
    for step, target in enumerate(targets):
        free = [h for h in neighbours[target] if h.track_id not in used]
        if not free:  # every song with a mood is already in the answer
            break
        hit = choose(free) if sound else free[0]
        used.add(hit.track_id)
        picks.append((step, hit))

    ids = [hit.track_id for _, hit in picks]
    if moods is None:
        tracks, moods = await store.tracks_with_moods(ids)
    else:
        tracks = await store.get_tracks(ids)
    chosen: list[RecommendedTrack] = []
    for step, hit in picks:
        track, stored = tracks.get(hit.track_id), moods.get(hit.track_id)
        if track is None or stored is None:
            continue
        reason = _reason(stored, strategy, step, len(targets), tags, priors)
        distance = pulled(hit)
        score = min(1.0, max(0.0, 1.0 - distance / _MAX_DISTANCE))
        chosen.append(RecommendedTrack.from_track(track, score, reason, stored))
    return chosen


def _reason(stored: StoredVector, strategy: str, step: int, total: int, tags: TagQuery | None,
            priors: Mapping[str, float] | None) -> str:
    """"mellow, piano — calm, sad — close to how you feel; has the piano you asked for"; without musicnn
    tags the mood part alone, as before tags were kept.  The words chosen at ingestion (`top_tags`, with
    the corpus priors) are said when kept, else they are chosen here from the kept probabilities."""
    sv, sa = stored.vector
    line = f"{describe(sv, sa)} — {relation(strategy, step, total)}"
    own = track_tags(stored.details)
    sound = ", ".join(top_tags_of(stored)[:3]) or tag_phrase(own, priors)  # words kept at ingestion come first
    if sound:
        line = f"{sound} — {line}"
    asked = asked_phrase(matched_words(own, tags, priors)) if tags and own else ""
    return f"{line}; {asked}" if asked else line
