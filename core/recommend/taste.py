"""A person's taste, learnt from their 👍/👎: their later answers avoid what sounds like the songs they disliked
(and those songs' artists) and lean toward what sounds like the songs they liked.

Why a re-ranking and not a new search: every kind of answer (songs for a mood, songs like a song, a playlist's
continuation) already ranks by relevance to what was asked.  Taste must bend that order, never replace it, so
the answer is asked for `pool_size(k)` candidates (k plus a few), each candidate's relevance rank is moved by
how much it resembles the person's votes, and the best k are kept.  Nothing outside the pool can come in, which
is the bound on relevance: the worst song an answer can hold is the pool's last, a few ranks below the k-th.

A profile is one read of the person's latest votes (`Store.feedback_of`) plus the voted tracks' audio vectors
and artists by primary key; the candidates' audio vectors are read by primary key too.  Each vote weighs
0.5 ** (age / half-life) (`MOODTAPE_TASTE_HALF_LIFE_DAYS`, default 30): a 👎 from last month counts half, one
from a year ago next to nothing, and `/forget` (`Store.forget_feedback`) removes them all.  A person without
votes (or a query without a person) gets exactly the answer they got before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
from moodtape.core.results import RecommendedTrack
from moodtape.core.vectors import unit
from moodtape.db.store import Store

__all__ = [
    "ARTIST_PUSH",
    "DISLIKE_PUSH",
    "LIKE_PULL",
    "SOUND_FLOOR",
    "SOUND_SCALES",
    "sound_scale",
    "TasteProfile",
    "Vote",
    "decay_weight",
    "load_profile",
    "personalised",
    "pool_size",
    "rerank",
]

#: How far (in units of the pool's relevance range, 0..1) a candidate that sounds exactly like a fresh 👎 moves
#: down: more than the whole range, so it ends below every song that resembles nothing disliked.
DISLIKE_PUSH = 1.5
#: Extra push for a candidate by the artist of a fresh 👎 (whatever it sounds like).
ARTIST_PUSH = 0.6
#: How far a candidate that sounds exactly like a fresh 👍 moves up: a quarter of the range, so a liked sound
#: reorders near neighbours but never lifts the pool's tail over its head.
LIKE_PULL = 0.25
#: The artist of a fresh 👍 moves a candidate up by this much.
ARTIST_PULL = 0.1
#: Cosines of audio vectors up to this say nothing (unrelated songs scatter around 0, up to ~0.15 for 3 in 4
#: pairs of the demo catalogue's different games); closeness rises linearly from here to 1 at cosine 1.
SOUND_FLOOR = 0.15
#: The same two numbers per content embedding (model version prefix -> (floor, ceiling)): cosines mean different
#: things in different vector spaces.  musicnn vectors sit closer (3 in 4 pairs of different games up to 0.22 in
#: the demo catalogue, a song's nearest neighbour at a median 0.73), so closeness rises from 0.22 and is full at
#: 0.75: a song as close to a 👎 as a typical nearest neighbour is pushed as far as the same song.
SOUND_SCALES: dict[str, tuple[float, float]] = {"musicnn-": (0.22, 0.75)}


def sound_scale(version: str) -> tuple[float, float]:
    """(floor, ceiling) of the cosines that say "sounds alike" for vectors of `version` (module constants)."""
    return next((scale for prefix, scale in SOUND_SCALES.items() if version.startswith(prefix)), (SOUND_FLOOR, 1.0))
#: Votes whose decayed weight fell under this no longer count (about 4.3 half-lives).
MIN_WEIGHT = 0.05
#: At most this many of a person's latest votes make the profile: one small read per answer.
MAX_VOTES = 200
#: Candidates (pool) fetched beyond k: max(k, this).  10 (15 candidates for 5 songs) rather than 5: in the
#: simulation (`moodtape eval taste`) a pool of 10 left a disliked genre that fills a corner of the mood plane
#: (Emotify's classical music in the calm corner) at 10% of the answers after 20 rounds, 15 at 2%, with the
#: mood distance still at the best any answer without that genre can reach.
EXTRA_MIN = 10


@dataclass(frozen=True)
class Vote:
    """One 👍 (+1) or 👎 (-1) on a track, weighted by its age."""

    track_id: int
    value: int
    weight: float


@dataclass
class TasteProfile:
    """What a person's votes say: weighted votes, the voted tracks' unit audio vectors and artists.

    Empty (falsy) when the person has no vote that still counts.
    """

    user_ref: str
    votes: list[Vote] = field(default_factory=list)
    #: track id -> (unit audio vector, model version) of voted tracks that have one
    audio: dict[int, tuple[np.ndarray, str]] = field(default_factory=dict)
    #: casefolded artist -> strongest weight of a 👎 (dislikes) or 👍 (likes) on one of their songs
    disliked_artists: dict[str, float] = field(default_factory=dict)
    liked_artists: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.votes)

    @property
    def disliked(self) -> list[Vote]:
        return [v for v in self.votes if v.value < 0]

    @property
    def liked(self) -> list[Vote]:
        return [v for v in self.votes if v.value > 0]


def decay_weight(created_at: str, now: datetime, half_life_days: float) -> float:
    """0.5 ** (age in days / half-life); a vote from the future (clock skew) counts fully, an unreadable
    timestamp as a fresh vote (better to honour a 👎 than to drop it)."""
    try:
        when = datetime.fromisoformat(created_at)  # "YYYY-MM-DDTHH:MM:SSZ"; 10x faster than strptime
    except ValueError:
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    age_days = max(0.0, (now - when).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / half_life_days))


def _artist_key(artist: str | None) -> str | None:
    key = (artist or "").strip().casefold()
    return key or None


async def load_profile(store: Store, user_ref: str, *, half_life_days: float, now: datetime | None = None
                       ) -> TasteProfile:
    """The profile of `user_ref` from the votes in `store` (one read of their votes, two reads by primary key).

    A track voted on twice (two answers) counts once, with its latest vote: a person who changed their mind
    is taken at their word.
    """
    now = now or datetime.now(UTC)
    profile = TasteProfile(user_ref)
    seen: set[int] = set()
    for track_id, value, created_at in await store.feedback_of(user_ref, MAX_VOTES):  # newest first
        if track_id in seen:
            continue
        seen.add(track_id)
        weight = decay_weight(created_at, now, half_life_days)
        if weight >= MIN_WEIGHT:
            profile.votes.append(Vote(track_id, value, weight))
    if not profile.votes:
        return profile
    ids = [v.track_id for v in profile.votes]
    vectors, tracks = await asyncio.gather(store.get_vectors("audio", ids), store.get_tracks(ids))  # one queue trip
    with_sound = [v.track_id for v in profile.votes if v.track_id in vectors]
    if with_sound:  # one normalisation for all rows
        rows = unit(np.asarray([vectors[t].vector for t in with_sound], dtype=np.float32))
        profile.audio = {t: (row, vectors[t].model_version) for t, row in zip(with_sound, rows)}
    for vote in profile.votes:
        track = tracks.get(vote.track_id)
        key = _artist_key(track.artist) if track is not None else None
        if key is not None:
            artists = profile.disliked_artists if vote.value < 0 else profile.liked_artists
            artists[key] = max(artists.get(key, 0.0), vote.weight)
    return profile


def pool_size(k: int, limit: int | None = None) -> int:
    """How many candidates to fetch for an answer of k songs: k plus max(k, 10), at most `limit` (but never
    fewer than k, so a k the fetch refuses is refused as it would be without taste)."""
    pool = k + max(k, EXTRA_MIN)
    return max(k, min(pool, limit)) if limit is not None else pool


def _resemblance(votes: Sequence[Vote], profile: TasteProfile, vectors: np.ndarray, version: str) -> np.ndarray:
    """Per candidate (rows of unit `vectors`, all of model `version`), the strongest weighted closeness (0 = unrelated, 1 = at the ceiling)
    of its sound to the sound of the songs in `votes`.

    Audio vectors are centred (two unrelated songs sit near cosine 0, same-album songs around 0.2-0.6), so
    closeness is the cosine above the version's floor, rescaled to 0..1 at its ceiling (`sound_scale`); vectors of another model version are not
    comparable.  One matrix product for all candidates and votes.
    """
    voted = [(profile.audio[v.track_id][0], v.weight) for v in votes
             if v.track_id in profile.audio and profile.audio[v.track_id][1] == version]
    if not voted or not len(vectors):
        return np.zeros(len(vectors), dtype=np.float32)
    matrix = np.stack([vector for vector, _ in voted])
    weights = np.asarray([weight for _, weight in voted], dtype=np.float32)
    floor, ceiling = sound_scale(version)
    closeness = np.clip((vectors @ matrix.T - floor) / (ceiling - floor), 0.0, None)  # past 1: pushed further
    return (closeness * weights).max(axis=1)


async def rerank(store: Store, profile: TasteProfile, candidates: Sequence[RecommendedTrack], k: int, *,
                 keep_order: bool = False) -> list[RecommendedTrack]:
    """The best `k` of `candidates` (ranked by `score`, best first) once the person's taste has moved them.

    Each candidate's relevance is its rank among the candidates, scaled to 1 (the best) .. 0 (the last); a
    song disliked itself or sounding like a disliked one moves down by up to `DISLIKE_PUSH`, its artist's
    👎 adds `ARTIST_PUSH`, and a liked sound or artist moves it up by at most `LIKE_PULL` + `ARTIST_PULL`.
    `keep_order`: the candidates are a path (lift, calm, energize) whose order is the playing order, so the
    chosen songs keep it.  A song that sounds like liked ones says so in its reason.
    """
    items = list(candidates)
    if not profile or not items:
        return items[:k]
    stored = await store.get_vectors("audio", [t.id for t in items])
    by_version: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.id in stored:
            by_version.setdefault(stored[item.id].model_version, []).append(index)
    sounds_disliked = np.zeros(len(items), dtype=np.float32)
    sounds_liked = np.zeros(len(items), dtype=np.float32)
    for version, indexes in by_version.items():
        matrix = unit(np.asarray([stored[items[i].id].vector for i in indexes], dtype=np.float32))
        sounds_disliked[indexes] = _resemblance(profile.disliked, profile, matrix, version)
        sounds_liked[indexes] = _resemblance(profile.liked, profile, matrix, version)
    disliked_ids = {v.track_id: v.weight for v in profile.disliked}
    liked_ids = {v.track_id: v.weight for v in profile.liked}
    by_score = sorted(range(len(items)), key=lambda i: (-items[i].score, i))
    span = max(1, len(items) - 1)
    relevance = {index: 1.0 - rank / span for rank, index in enumerate(by_score)}
    scored: list[tuple[float, int, float]] = []
    for index, item in enumerate(items):
        push = DISLIKE_PUSH * max(disliked_ids.get(item.id, 0.0), float(sounds_disliked[index]))
        pull = LIKE_PULL * max(liked_ids.get(item.id, 0.0), float(sounds_liked[index]))
        artist = _artist_key(item.artist)
        if artist is not None:
            push += ARTIST_PUSH * profile.disliked_artists.get(artist, 0.0)
            pull += ARTIST_PULL * profile.liked_artists.get(artist, 0.0)
        scored.append((relevance[index] - push + pull, index, pull))
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen = scored[:k]
    if keep_order:
        chosen.sort(key=lambda s: s[1])
    out = []
    for _, index, pull in chosen:
        item = items[index]
        if pull >= LIKE_PULL * 0.4:  # clearly like a 👍: cosine >= 0.49 to a fresh one, or its artist
            item = replace(item, reason=f"{item.reason}; like songs you liked")
        out.append(item)
    return out


async def personalised(
    store: Store, user_ref: str | None, k: int, fetch: Callable[[int], Awaitable[list[RecommendedTrack]]], *,
    half_life_days: float, keep_order: bool = False, limit: int | None = None, now: datetime | None = None,
) -> list[RecommendedTrack]:
    """`fetch(k)` as is for no person or a person without votes; else `fetch(pool_size(k))` re-ranked.

    `store` must be the store `fetch` answers from: votes on demo tracks live in the demo store, so a
    person's profile is read where the candidates are.  `limit`: the most `fetch` may be asked for.
    """
    if user_ref is None:
        return await fetch(k)
    profile = await load_profile(store, user_ref, half_life_days=half_life_days, now=now)
    if not profile:
        return await fetch(k)
    return await rerank(store, profile, await fetch(pool_size(k, limit)), k, keep_order=keep_order)
