"""A playlist from a name alone: the cold-start task of the Million Playlist Dataset challenge.

People name playlists the way they would ask for one ("rainy day chill", "gym 💪", "드라이브"), and the imported
playlists already pair thousands of such names with the songs people put under them.  So a title is answered
by the playlists whose *names* are like it:

1. **Names.** Every distinct name (case, accents, width, spacing and punctuation folded) becomes two
   TF-IDF vectors: whole words, and character 2-4-grams of each word padded with spaces.  The words reward
   an exact "chill"; the character grams let "chillout", "chilll" and "chill vibes" meet "chill", and they
   work unchanged on Hangul and emoji, which have no word list to stem with.  A title's similarity to a
   name is a blend of the two cosines (`WORD_WEIGHT`).
2. **Tracks.** Each distinct name holds the average of its playlists' track memberships (optionally weighted
   by position, `1 / (1 + position / POSITION_SCALE)`; measured, it does not help, so it is off).  The title's
   score for a track is the sum over the `TOP_NAMES` most similar names of similarity^`SIM_POWER` x a
   reliability factor growing with how many playlists share the name, times that average.  A small
   popularity prior (`POPULARITY_WEIGHT`) breaks ties and fills the list when only a few names match; with
   no name matching at all, popularity alone answers (the challenge's baseline).
3. **Mood.** The caller may pass the emotion model's reading of the title's words: for tracks with a mood
   vector, closeness to that reading is blended in (weight `MOOD_WEIGHT` x the reading's confidence), and
   songs matching the mood join the candidates.  Neutral readings and tracks without a mood change nothing.

Everything is deterministic (ties go to the smaller track key).  The index is built once per state of the
playlists table and cached (`TitleIndexCache`): a query is a sparse product over the distinct names
(milliseconds at tens of thousands of playlists), not a pass over the database.

`moodtape eval title` measures steps 1-2 against popularity on held-out MPD playlists given only their names.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from moodtape.core.errors import QueryError
from moodtape.core.mood.reader import MoodReading
from moodtape.core.mood.space import describe
from moodtape.core.results import Catalogue, RecommendedTrack
from moodtape.db.store import Store

__all__ = [
    "MAX_K", "MAX_TITLE_CHARS", "TitleIndex", "TitleIndexCache", "TitleMatch", "TitleResult", "mood_only",
    "mood_steers", "normalise_title", "recommend_for_title", "title_features",
]

MAX_K = 500
#: Longer titles are cut: a playlist name is a few words, and a pasted essay must not cost a big vector.
MAX_TITLE_CHARS = 200

#: Share of the word cosine in the name similarity (the rest is the character-gram cosine).
WORD_WEIGHT = 0.4
#: Character n-gram lengths taken inside each space-padded word.
NGRAMS = (2, 3, 4)
# The values below were chosen on one seeded split of the MPD subset (seed 1) and are reported on another
# (seed 0, `moodtape eval title`); the neighbourhood of each is flat (R-precision within +-0.003).
#: How many of the most similar distinct names vote.
TOP_NAMES = 50
#: Similarity is raised to this power before voting: near matches should count more than loose ones.
SIM_POWER = 2.0
#: Names below this similarity do not vote (noise from a shared bigram).
MIN_SIMILARITY = 0.3
#: Position weight 1 / (1 + position / POSITION_SCALE); 0 turns it off, the default: weighting the first
#: songs of a playlist up measured worse (R-precision 0.0525 at 50, 0.057 at 200, 0.0587 without).
POSITION_SCALE = 0.0
#: Weight of the popularity prior (scores are normalised to a maximum of 1 first).
POPULARITY_WEIGHT = 0.1
#: Weight of mood closeness, times the reading's confidence.
MOOD_WEIGHT = 0.3
#: Readings below this confidence, or labelled neutral, do not steer.
MIN_MOOD_CONFIDENCE = 0.4

_MAX_MOOD_DISTANCE = 2.0 * math.sqrt(2.0)
_WORD = re.compile(r"\w+", re.UNICODE)

Basis = Literal["playlists", "popularity", "mood"]


# ---------------------------------------------------------------------------------------------- text
def normalise_title(text: str) -> str:
    """The form names are compared in: NFKC, case-folded, accents dropped (Hangul kept whole), one space."""
    text = unicodedata.normalize("NFKC", str(text))[:MAX_TITLE_CHARS].casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(unicodedata.normalize("NFC", kept).split())


def _tokens(normalised: str) -> list[str]:
    """Words (letters, digits, Hangul) and symbols (emoji) as tokens of their own; punctuation dropped."""
    out: list[str] = []
    for part in normalised.split():
        position = 0
        for match in _WORD.finditer(part):
            out.extend(c for c in part[position:match.start()] if unicodedata.category(c).startswith("S"))
            out.append(match.group())
            position = match.end()
        out.extend(c for c in part[position:] if unicodedata.category(c).startswith("S"))
    return [t.replace("_", "") or t for t in out]


def _group_key(name: str) -> str:
    """Names that differ only in case, accents, width, spacing or punctuation are one name."""
    normalised = normalise_title(name)
    return " ".join(_tokens(normalised)) or normalised


def title_features(text: str) -> tuple[list[str], list[str]]:
    """(word features, character n-gram features) of a title: what the TF-IDF vectors count."""
    tokens = _tokens(normalise_title(text))
    grams: list[str] = []
    for token in tokens:
        padded = f" {token} "
        for n in NGRAMS:
            grams.extend(padded[i:i + n] for i in range(max(1, len(padded) - n + 1)))
    return tokens, grams


# ---------------------------------------------------------------------------------------------- index
class _Tfidf:
    """A TF-IDF space fitted on the distinct names: sublinear tf, smoothed idf, unit rows."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        vocabulary: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for r, features in enumerate(documents):
            counts: dict[int, int] = {}
            for feature in features:
                column = vocabulary.setdefault(feature, len(vocabulary))
                counts[column] = counts.get(column, 0) + 1
            for column, count in counts.items():
                rows.append(r)
                cols.append(column)
                vals.append(1.0 + math.log(count))
        self.vocabulary = vocabulary
        counts_matrix = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                                      shape=(len(documents), max(1, len(vocabulary))))
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=counts_matrix.shape[1])
        self.idf = (np.log((1.0 + len(documents)) / (1.0 + df)) + 1.0).astype(np.float32)
        self.max_idf = float(np.log(1.0 + len(documents)) + 1.0)  # a feature no name has
        self.matrix = _unit_rows(counts_matrix @ sp.diags(self.idf))

    def vector(self, features: Sequence[str]) -> sp.csr_matrix:
        """The unit vector of a title.  Features no name has still count in its length (at the highest idf),
        so "drive at night" is less like "drive" than "drive" itself is."""
        counts: dict[int, int] = {}
        unknown: dict[str, int] = {}
        for feature in features:
            column = self.vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
            else:
                unknown[feature] = unknown.get(feature, 0) + 1
        columns = sorted(counts)
        values = np.asarray([(1.0 + math.log(counts[c])) * self.idf[c] for c in columns], dtype=np.float32)
        unseen = np.asarray([(1.0 + math.log(n)) * self.max_idf for n in unknown.values()], dtype=np.float32)
        norm = math.sqrt(float(values @ values) + float(unseen @ unseen))
        if norm > 0:
            values /= norm
        return sp.csr_matrix((values, (np.zeros(len(columns), dtype=np.int64), columns)),
                             shape=(1, self.matrix.shape[1]))

    def similarities(self, features: Sequence[str]) -> np.ndarray:
        return np.asarray((self.matrix @ self.vector(features).T).todense()).ravel()


def _columns(keys: list[Hashable]) -> tuple[list[Hashable], np.ndarray]:
    """(distinct keys in first-seen order, each entry's column): with numpy for numbers and strings, else a dict."""
    values = np.asarray(keys) if keys else np.zeros(0, dtype=np.int64)
    if values.ndim == 1 and values.dtype.kind in "iuU":
        distinct, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return distinct[order].tolist(), rank[inverse.ravel()]
    index: dict[Hashable, int] = {}
    columns = np.fromiter((index.setdefault(key, len(index)) for key in keys), dtype=np.int64, count=len(keys))
    return list(index), columns


def _unit_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


@dataclass(frozen=True)
class TitleMatch:
    """One distinct playlist name the title was matched to."""

    name: str  # as first written in the playlists (not normalised)
    similarity: float
    playlists: int  # how many playlists carry this name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "similarity": round(self.similarity, 4), "playlists": self.playlists}


class TitleIndex:
    """Distinct playlist names -> their tracks, ready to score a title (built once, queried many times).

    `track_keys` are whatever identifies a track to the caller: catalogue ids in the bots, URIs in the
    evaluation.  Build it with `TitleIndex.build(names, playlists)`; an index of no playlists is `empty`.
    """

    def __init__(self, names: Sequence[str], playlists: Sequence[Sequence[Hashable]], *,
                 word_weight: float = WORD_WEIGHT, position_scale: float = POSITION_SCALE) -> None:
        if len(names) != len(playlists):
            raise ValueError("one name per playlist")
        began = time.perf_counter()
        self.word_weight = float(word_weight)
        group_of: dict[str, int] = {}
        shown: list[str] = []
        members: list[int] = []
        keys = [_group_key(name) for name in names]
        for name, key in zip(names, keys):
            if key not in group_of:
                group_of[key] = len(shown)
                shown.append(str(name).strip() or key)
                members.append(0)
            members[group_of[key]] += 1
        self.names = shown
        self.playlists_per_name = np.asarray(members, dtype=np.int64)
        # Memberships, vectorised (a Python loop per entry took most of the build at 40k playlists):
        # columns in first-seen order of the track keys, one entry per (playlist, track) at its first place.
        lengths = np.fromiter((len(tracks) for tracks in playlists), dtype=np.int64, count=len(playlists))
        self.track_keys, columns = _columns(list(chain.from_iterable(playlists)))
        n_names, n_tracks = len(shown), len(self.track_keys)
        playlist_of = np.repeat(np.arange(len(playlists), dtype=np.int64), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
        position = np.arange(len(columns), dtype=np.int64) - np.repeat(starts, lengths)
        # a song twice in one playlist counts once, at its first place
        _, first = np.unique(playlist_of * max(1, n_tracks) + columns, return_index=True)
        first.sort()
        cols = columns[first]
        rows = np.asarray([group_of[key] for key in keys], dtype=np.int64)[playlist_of[first]] if len(first) \
            else np.zeros(0, dtype=np.int64)
        vals = (1.0 / (1.0 + position[first] / position_scale) if position_scale > 0
                else np.ones(len(first))).astype(np.float32)
        summed = sp.csr_matrix((vals, (rows, cols)), shape=(max(1, n_names), max(1, n_tracks)))
        summed.sum_duplicates()
        counts = np.maximum(self.playlists_per_name, 1).astype(np.float32) if n_names else np.ones(1, np.float32)
        #: distinct name x track: the mean positional membership over the name's playlists
        self.name_tracks = sp.csr_matrix(sp.diags(1.0 / counts) @ summed)
        #: how many playlists hold each track: the baseline, the prior, and the reason of a popular pick
        self.popularity = np.bincount(cols, minlength=n_tracks).astype(np.float64)
        self.popularity_order = np.lexsort((np.arange(n_tracks), -self.popularity)) if n_tracks else np.zeros(0, int)
        features = [title_features(name) for name in shown]
        self.words = _Tfidf([f[0] for f in features])
        self.grams = _Tfidf([f[1] for f in features])
        self.playlist_count = len(names)
        self.build_seconds = time.perf_counter() - began

    @classmethod
    def build(cls, names: Sequence[str], playlists: Sequence[Sequence[Hashable]], **options: Any) -> TitleIndex:
        return cls(names, playlists, **options)

    @property
    def empty(self) -> bool:
        return not self.track_keys

    # ------------------------------------------------------------------ scoring
    def name_similarities(self, title: str) -> np.ndarray:
        """Cosine-blend similarity of `title` to every distinct name (one value per `names` entry)."""
        words, grams = title_features(title)
        if not self.names or not (words or grams):
            return np.zeros(len(self.names), dtype=np.float32)
        similarity = np.zeros(len(self.names), dtype=np.float32)
        if self.word_weight > 0:
            similarity += self.word_weight * self.words.similarities(words)[:len(self.names)]
        if self.word_weight < 1:
            similarity += (1.0 - self.word_weight) * self.grams.similarities(grams)[:len(self.names)]
        return similarity

    def matches(self, title: str, top: int = TOP_NAMES) -> list[TitleMatch]:
        """The distinct names that vote for `title`, most similar first (ties: the more common name)."""
        similarity = self.name_similarities(title)
        return [TitleMatch(self.names[i], float(similarity[i]), int(self.playlists_per_name[i]))
                for i in self._voters(similarity, top)]

    def _voters(self, similarity: np.ndarray, top: int) -> np.ndarray:
        candidates = np.flatnonzero(similarity >= MIN_SIMILARITY)
        if not len(candidates):
            return candidates
        order = np.lexsort((candidates, -self.playlists_per_name[candidates], -similarity[candidates]))
        return candidates[order[:top]]

    def ranked(self, title: str, n: int, *, top: int = TOP_NAMES, popularity_weight: float = POPULARITY_WEIGHT
               ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(track columns, scores) of the `n` best tracks for `title`, best first, and the voting names.

        A score is the names' vote normalised to a maximum of 1, plus the popularity prior.  Only the tracks
        of the voting names are scored (a sparse product); every other track's score is its prior alone, so
        the best of them are the most popular ones, read off the precomputed popularity order.  The cost is
        that of the voters' songs, not of the catalogue.  Ties go to the track seen first.
        """
        if n <= 0 or self.empty:
            return np.zeros(0, dtype=np.int64), np.zeros(0), []
        similarity = self.name_similarities(title)
        voters = self._voters(similarity, top)
        most = float(self.popularity.max())
        prior = popularity_weight / most if popularity_weight > 0 and most > 0 else 0.0
        columns = np.zeros(0, dtype=np.int64)
        scores = np.zeros(0)
        if len(voters):
            weights = similarity[voters].astype(np.float64) ** SIM_POWER * np.log1p(self.playlists_per_name[voters])
            votes = sp.csr_matrix(sp.csr_matrix(weights[None, :]) @ self.name_tracks[voters])
            votes.sum_duplicates()
            columns = votes.indices.astype(np.int64)
            scores = votes.data.astype(np.float64)
            if len(scores) and scores.max() > 0:
                scores = scores / scores.max()
            scores = scores + prior * self.popularity[columns]
        popular = self.popularity_order[:n + len(columns)]
        popular = popular[~np.isin(popular, columns)][:n]
        columns = np.concatenate([columns, popular])
        scores = np.concatenate([scores, prior * self.popularity[popular]])
        order = np.lexsort((columns, -scores))[:n]
        return columns[order], scores[order], [int(v) for v in voters]

    def rank(self, title: str, n: int, **options: Any) -> list[Hashable]:
        """The `n` best track keys for `title` (the evaluation's entry point)."""
        columns, _, _ = self.ranked(title, n, **options)
        return [self.track_keys[int(c)] for c in columns]

    def popular(self, n: int) -> list[Hashable]:
        """The `n` tracks in most playlists: the baseline, and the answer when no name matches."""
        return [self.track_keys[i] for i in self.popularity_order[:n]]

    def best_voters(self, columns: Sequence[int], voters: Sequence[int], similarity: np.ndarray
                    ) -> list[int | None]:
        """Per track column, the voting name that contributed most to it (None: none did), for reason lines."""
        if not len(voters) or not len(columns):
            return [None] * len(columns)
        votes = self.name_tracks[list(voters)][:, list(columns)].toarray()
        votes *= (similarity[list(voters)].astype(np.float64) ** SIM_POWER)[:, None]
        best = votes.argmax(axis=0)
        return [int(voters[b]) if votes[b, i] > 0 else None for i, b in enumerate(best)]


# ---------------------------------------------------------------------------------------------- cache
class TitleIndexCache:
    """The title index of one store, rebuilt when its playlists change (the stamp: count and largest id).

    Playlists are only ever added (an import skips the ones it has) or deleted, so (count, max id) changes
    whenever the set of playlists does; checking it is one indexed query per title request.
    """

    def __init__(self) -> None:
        self._stamp: tuple[int, int] | None = None
        self._index: TitleIndex | None = None
        self._lock = asyncio.Lock()

    async def get(self, store: Store) -> TitleIndex:
        async with self._lock:
            stamp = tuple(await store.playlist_stamp())
            if self._index is None or stamp != self._stamp:
                names = await store.playlist_names()
                pairs = await store.playlist_pairs()
                self._index = await asyncio.to_thread(_index_from_rows, names, pairs)
                self._stamp = stamp  # type: ignore[assignment]
            return self._index


def _index_from_rows(names: Sequence[tuple[int, str]], pairs: Sequence[tuple[int, int]]) -> TitleIndex:
    """The index of the store's rows: `names` by playlist id, `pairs` (playlist id, track id) by playlist and
    position, so each playlist's tracks are one slice."""
    memberships = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ids = np.asarray([playlist_id for playlist_id, _ in names], dtype=np.int64)
    starts = np.searchsorted(memberships[:, 0], ids, side="left")
    ends = np.searchsorted(memberships[:, 0], ids, side="right")
    tracks = [memberships[start:end, 1].tolist() for start, end in zip(starts, ends)]
    return TitleIndex.build([name for _, name in names], tracks)


# ---------------------------------------------------------------------------------------------- answer
@dataclass(frozen=True)
class TitleResult:
    """The answer to a title: the songs, what they rest on, and what was read in the words."""

    title: str
    basis: Basis  # "playlists": names matched; "popularity": none did; "mood": no playlists at all
    tracks: list[RecommendedTrack]
    matches: list[TitleMatch] = field(default_factory=list)
    mood: MoodReading | None = None
    mood_used: bool = False
    catalogue: Catalogue = "database"
    playlists: int = 0

    @property
    def note(self) -> str:
        """One sentence on what the songs rest on, for every front end."""
        if self.basis == "mood":
            return ("no playlists are imported yet (`moodtape import` adds some), so these songs follow the mood "
                    "of the words alone")
        if self.basis == "popularity":
            return (f"no playlist name among {self.playlists} is like \"{self.title}\", so these are the songs in "
                    "the most playlists" + (", nudged by the mood of the words" if self.mood_used else ""))
        shown = ", ".join(f"\"{m.name}\"" for m in self.matches[:3])
        return (f"from playlists named like it ({shown})"
                + (", nudged by the mood of the words" if self.mood_used else ""))

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "basis": self.basis, "note": self.note,
            "matches": [m.to_json() for m in self.matches],
            "mood": None if self.mood is None else self.mood.to_json(), "mood_used": self.mood_used,
            "tracks": [t.to_json() for t in self.tracks],
        }


def mood_steers(reading: MoodReading | None) -> bool:
    """Whether a reading of the title's words is confident and not neutral enough to move the songs."""
    return (reading is not None and reading.label != "neutral" and reading.confidence >= MIN_MOOD_CONFIDENCE)


async def recommend_for_title(store: Store, index: TitleIndex, title: str, k: int,
                              reading: MoodReading | None = None,
                              mood_matched: Sequence[RecommendedTrack] = ()) -> TitleResult:
    """The k songs for a playlist called `title`, from `index` (the store's playlists) and `reading`.

    `mood_matched` are songs the caller found for the reading (the mood chat's `match`); they join the
    candidates when the reading steers.  The index must not be empty (no playlists: see `mood_only`).
    """
    if not 1 <= k <= MAX_K:
        raise QueryError(f"ask for between 1 and {MAX_K} songs")
    steer = mood_steers(reading)
    pool = max(4 * k, 200) if steer else k
    columns, scores, voters = index.ranked(title, pool)
    similarity = index.name_similarities(title) if voters else np.zeros(0)
    keyed = {int(index.track_keys[int(c)]): int(c) for c in columns}  # type: ignore[arg-type]
    base = {int(index.track_keys[int(c)]): float(v) for c, v in zip(columns, scores)}  # type: ignore[arg-type]
    for extra in mood_matched if steer else ():
        base.setdefault(extra.id, 0.0)
    moods = await store.get_vectors("mood", list(base))
    final = dict(base)
    mood_used = False
    if steer and moods:
        assert reading is not None
        weight = MOOD_WEIGHT * reading.confidence
        closeness = {tid: 1.0 - math.dist(stored.vector[:2], (reading.valence, reading.arousal)) / _MAX_MOOD_DISTANCE
                     for tid, stored in moods.items()}
        typical = float(np.mean(list(closeness.values())))
        final = {tid: (1 - weight) * s + weight * closeness.get(tid, typical) for tid, s in base.items()}
        mood_used = True
    chosen = sorted(final, key=lambda tid: (-final[tid], tid))[:k]
    tracks = await store.get_tracks(chosen)
    in_index = [tid for tid in chosen if tid in keyed]
    named = dict(zip(in_index, index.best_voters([keyed[t] for t in in_index], voters, similarity)))
    out: list[RecommendedTrack] = []
    for tid in chosen:
        track = tracks.get(tid)
        if track is None:  # deleted since the index was built
            continue
        stored = moods.get(tid)
        mood = (stored.vector[0], stored.vector[1]) if stored is not None else None
        column = keyed.get(tid)
        voter = named.get(tid)
        if voter is not None:
            reason = f"in playlists named \"{index.names[voter]}\" (name match {float(similarity[voter]):.2f})"
        elif column is not None:
            reason = f"in {int(index.popularity[column])} of the {index.playlist_count} playlists"
        else:
            reason = "its mood fits the words"
        if mood_used and mood is not None:
            reason += f"; sounds {describe(mood[0], mood[1])}"
        out.append(RecommendedTrack.from_track(track, final[tid], reason, stored))
    basis: Basis = "playlists" if voters else "popularity"
    return TitleResult(title=title, basis=basis, tracks=out, matches=index.matches(title)[:5] if voters else [],
                       mood=reading, mood_used=mood_used, playlists=index.playlist_count)


def mood_only(title: str, reading: MoodReading, tracks: Sequence[RecommendedTrack],
              catalogue: Catalogue) -> TitleResult:
    """The answer of a catalogue without playlists: the mood chat's songs for the title's words, said so."""
    return TitleResult(title=title, basis="mood", tracks=list(tracks), mood=reading, mood_used=bool(tracks),
                       catalogue=catalogue)
