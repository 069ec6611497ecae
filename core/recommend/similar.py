""""Songs like this": find the query's track, look up its neighbours, say why each one is there."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from moodtape.core.audio import descriptor_layout as descriptor
from moodtape.core.errors import QueryError
from moodtape.core.results import RecommendedTrack, top_tags_of
from moodtape.core.text import clean_text, split_artist_title
from moodtape.db.models import Neighbor, StoredVector, Track
from moodtape.db.store import Store

#: How each handcrafted feature group is named in a reason line.
GROUP_WORDS = {
    "timbre": "timbre", "timbre_dynamics": "texture", "harmony": "harmony", "spectral_contrast": "tone",
    "spectral_shape": "brightness", "loudness": "dynamics", "rhythm": "rhythm",
}
_ID = re.compile(r"^#?(-?\d+)$")
#: SQLite stores ids as signed 64-bit integers: a longer number cannot be a track id.
MAX_ID = 2**63 - 1
#: The longest query searched (SQLite refuses LIKE patterns past 50,000 bytes; no title is near this).
MAX_QUERY_CHARS = 1000


def query_text(query: str) -> str:
    """A song query as it is searched and shown: cleaned of surrogates and controls (`clean_text`), stripped.

    An empty query is a `QueryError` here, once, for every front end and every seed of a playlist.
    """
    text = clean_text(query).strip()
    if not text:
        raise QueryError("tell me a song: a track id, \"artist - title\", a title, a file or a link")
    return text


def track_id(text: str) -> int | None:
    """The catalogue id a query names ("42", "#42"), or None when it is not a number.

    Any number is parsed without `int()` surprises: "-5", a 23-digit or a 5,000-digit number (which `int()`
    refuses past 4,300 digits and SQLite past 64 bits) is a `QueryError` saying there is no such track.
    """
    match = _ID.match(text)
    if not match:
        return None
    digits = match.group(1)
    shown = digits if len(digits) <= 24 else digits[:20] + "\u2026"
    value = int(digits) if len(digits.lstrip("-0")) <= 19 else None
    if value is None or not 0 < value <= MAX_ID:
        raise QueryError(f"there is no track #{shown} in the catalogue")
    return value


def existing_file(text: str) -> Path | None:
    """The audio file a query names (`~` expanded), or None: the CLI's `similar FILE`, for an admin only.

    A title is not a path: a name past the file system's limit, an unknown `~user`, a NUL byte or a lone
    surrogate just means "not a file here", and the query is then searched as text.
    """
    text = text.strip()
    if not text:
        return None
    try:
        candidate = Path(text).expanduser()
        # Not only regular files: a FIFO, a device or a symlink loop is then refused with its reason by the
        # file checks (`similar_to_file`) instead of being searched as a title; folders stay titles.
        named = candidate.is_symlink() or (candidate.exists() and not candidate.is_dir())
        return candidate if named else None
    except (OSError, RuntimeError, ValueError):
        return None


async def find_track(store: Store, query: str) -> Track:
    """A track id ("42", "#42"), "artist - title", or words of a title/album; the best match wins."""
    text = query_text(query)
    wanted = track_id(text)
    if wanted is not None:
        track = await store.get_track(wanted)
        if track is None:
            raise QueryError(f"there is no track #{wanted} in the catalogue")
        return track
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"that is too long for a song query (at most {MAX_QUERY_CHARS} characters)")
    found = await store.search_tracks(text, limit=5)
    if not found:
        artist, title = split_artist_title(text)
        if artist:
            found = await store.search_tracks(title, limit=20)
            found = [t for t in found if t.artist and artist.lower() in t.artist.lower()] or found[:0]
    if not found:
        raise QueryError(f"no track in the catalogue matches \"{text[:80]}\"")
    return found[0]


@dataclass
class QueryRow:
    """The catalogue track a `similar` by id asks about, known by its id alone until its row is read: in the
    same statement as its neighbours' rows, after the search (`rows_for_reply`).

    Why: right after a search a keyed read costs ~50 us whatever its size (cold CPU caches; one row or six
    take about as long), so reading the query's row up front made one such read more per reply.  `track` is
    the row once read (None before, or when the track is gone).
    """

    id: int
    track: Track | None = None


async def rows_for_reply(store: Store, ids: Iterable[int], query_track: Track | QueryRow | None
                         ) -> tuple[dict[int, Track], dict[int, StoredVector], Track | None]:
    """The rows and moods of a reply's songs (`tags_only`: its reasons show top tags), and the query's track:
    read with them, and kept in the `QueryRow`, when only its id was known."""
    if not isinstance(query_track, QueryRow):
        tracks, moods = await store.tracks_with_moods(ids, tags_only=True)
        return tracks, moods, query_track
    tracks, moods = await store.tracks_with_moods([*ids, query_track.id], tags_only=True)
    moods.pop(query_track.id, None)
    query_track.track = tracks.pop(query_track.id, None)
    return tracks, moods, query_track.track


#: Where each feature group starts in a handcrafted vector (for `np.add.reduceat`).
_GROUP_STARTS = np.cumsum([0] + [size for _, size, _ in descriptor.GROUPS[:-1]])


def group_closeness(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Cosine similarity of two handcrafted vectors within each feature group (three sums per group)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    dots = np.add.reduceat(x * y, _GROUP_STARTS)
    denoms = np.sqrt(np.add.reduceat(x * x, _GROUP_STARTS) * np.add.reduceat(y * y, _GROUP_STARTS))
    return {name: float(d / n) if n > 0 else 0.0
            for (name, _, _), d, n in zip(descriptor.GROUPS, dots, denoms)}


def metadata_relation(query_track: Track | None, track: Track) -> str | None:
    """"same album" / "same artist" when the metadata says so (album wins)."""
    if query_track is None:
        return None
    if query_track.album and track.album and query_track.album.casefold() == track.album.casefold():
        return "same album"
    if query_track.artist and track.artist and query_track.artist.casefold() == track.artist.casefold():
        return "same artist"
    return None


def sound_phrase(query_vector: np.ndarray | None, vector: np.ndarray | None, version: str | None,
                 tags: Sequence[str] = ()) -> str:
    """How two tracks sound alike: the two closest feature groups for handcrafted vectors; for a pretrained
    tagger's vectors, what the song sounds like in words (its `tags`); else plainly."""
    if (version or "").startswith(descriptor.NAME) and query_vector is not None and vector is not None:
        closeness = group_closeness(query_vector, vector)
        best = sorted(closeness, key=closeness.__getitem__, reverse=True)[:2]
        return f"sounds alike: similar {GROUP_WORDS[best[0]]} and {GROUP_WORDS[best[1]]}"
    if tags:
        return f"sounds alike: {', '.join(tags)}"
    return "sounds alike"


def audio_reason(
    query_vector: np.ndarray | None, vector: np.ndarray | None, version: str, score: float,
    query_track: Track | None, track: Track, tags: Sequence[str] = (),
) -> str:
    parts = [p for p in (metadata_relation(query_track, track), sound_phrase(query_vector, vector, version, tags))
             if p]
    return "; ".join(parts) + f" (similarity {score:.2f})"


async def audio_neighbours(
    store: Store,
    vector: np.ndarray,
    version: str,
    k: int,
    *,
    exclude: set[int] | None = None,
    query_track: Track | QueryRow | None = None,
    stored_query: bool = False,
) -> list[RecommendedTrack]:
    """The k nearest tracks of `version` by sound, with their reasons (a `QueryRow` is read with them).

    The search runs without the version filter first (vec0 scans a filtered KNN ~4x slower, and rows of an
    older model are rare); each hit says which version matched, so when they are all of `version` they are
    exactly the filtered answer.  Otherwise the filtered search runs.  `stored_query`: `vector` is a
    catalogue track's own (see `Store.knn`).
    """
    hits: list[Neighbor] = await store.knn("audio", vector, k, exclude=exclude or set(), stored_query=stored_query)
    if any(h.model_version != version for h in hits):
        hits = await store.knn("audio", vector, k, model_version=version, exclude=exclude or set(),
                               stored_query=stored_query)
    ids = [h.track_id for h in hits]
    # Only handcrafted vectors' reasons compare the two vectors (by feature group); a tagger's reasons are
    # its tags, which come with the mood rows.  One read after the other: both are in-process on a large
    # catalogue (the index, a keyed read), where gathering them would only schedule two more tasks.
    compares = version.startswith(descriptor.NAME)
    vectors = await store.get_vectors("audio", ids) if compares else {}
    tracks, moods, query = await rows_for_reply(store, ids, query_track)
    out = []
    for hit in hits:
        track = tracks.get(hit.track_id)
        if track is None:
            continue
        score = 1.0 - hit.distance
        stored = vectors.get(hit.track_id)
        mood = moods.get(hit.track_id)
        tags = top_tags_of(mood)
        stored_vector = np.asarray(stored.vector) if stored else None
        reason = audio_reason(vector, stored_vector, version, score, query, track, tags)
        out.append(RecommendedTrack.from_track(track, score, reason, mood, tags))
    return out
