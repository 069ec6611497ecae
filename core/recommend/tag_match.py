"""How well a song's musicnn tags answer the sound words of a message, and the words a reason line says.

A track keeps its ~12 highest-lift tags in its mood details (`details["tags"]`: canonical word ->
probability).  For a requested word the evidence is how far the track's probability rises above the tag's
prior, as a share of the room above it: (p - prior) / (1 - prior), clipped to [0, 1].  A tag the track did not
keep is no evidence either way (it was not among the ones that stand out).  The score is the weighted sum of
the evidence for asked-for words minus that for asked-away words, each divided by max(1, total weight), so
one word counts fully, several share the score, and a lone mood word (weight `MOOD_WEIGHT`) only nudges.

A song is *ruled out* by an asked-away word it plainly has: the word is among its three top tags (what its
reason line would say) or its probability is at least `RULE_OUT_P`.  Mood words never rule a song out:
the mood reading already chose where to look.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moodtape.core.audio.musicnn_tags import KINDS, MIN_SHOWN, top_tags
from moodtape.core.mood.tag_words import TagQuery

__all__ = ["DEFAULT_PRIOR", "MOOD_WEIGHT", "RULE_OUT_P", "asked_phrase", "has_asked_sound", "matched_words",
           "ruled_out", "tag_phrase", "tag_score", "track_tags"]

#: A tag's prior when none is known (no reference corpus shipped): musicnn's typical mean probability.
DEFAULT_PRIOR = 0.2
#: Weight of a mood word (sad, chill) against a sound word (piano, jazz): the emotion model reads mood words
#: already, so they should steer the sound only a little.
MOOD_WEIGHT = 0.35
#: An asked-away tag at least this likely rules a song out, even when other tags stand out more.
RULE_OUT_P = 0.5
#: Evidence from which a requested word is said in the reason line ("has the piano you asked for").
SAY_MATCHED = 0.15

_VOICES = ("vocals", "female vocals", "male vocals")
_ALL_KINDS = ("genre", "instrument", "voice", "mood", "tempo", "era")


def track_tags(details: Mapping[str, Any] | None) -> dict[str, float]:
    """The tag probabilities kept in a mood row's details ({} for a track analysed before musicnn)."""
    raw = (details or {}).get("tags") if isinstance(details, Mapping) else None
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, float] = {}
    for tag, value in raw.items():
        if (isinstance(tag, str) and isinstance(value, (int, float)) and not isinstance(value, bool)
                and 0.0 <= float(value) <= 1.0):
            out[tag] = float(value)
    return out


def _prior(tag: str, priors: Mapping[str, float] | None) -> float:
    value = (priors or {}).get(tag, DEFAULT_PRIOR)
    return min(max(float(value), 0.0), 0.99)


def _probability(tags: Mapping[str, float], tag: str) -> float:
    """A tag's probability; asking vocals away asks away every voice ("female vocals" is vocals too)."""
    if tag == "vocals":
        return max(tags.get(v, 0.0) for v in _VOICES)
    return tags.get(tag, 0.0)


def _evidence(tags: Mapping[str, float], tag: str, priors: Mapping[str, float] | None) -> float:
    prior = _prior(tag, priors)
    return min(max((_probability(tags, tag) - prior) / (1.0 - prior), 0.0), 1.0)


def _weight(tag: str) -> float:
    return MOOD_WEIGHT if KINDS.get(tag) == "mood" else 1.0


def _weighted(tags: Mapping[str, float], words: tuple[str, ...], priors: Mapping[str, float] | None) -> float:
    if not words:
        return 0.0
    total = sum(_weight(w) for w in words)
    return sum(_weight(w) * _evidence(tags, w, priors) for w in words) / max(1.0, total)


def tag_score(tags: Mapping[str, float], query: TagQuery, priors: Mapping[str, float] | None = None) -> float:
    """In [-1, 1]: evidence for the asked-for words minus evidence for the asked-away ones (0: no tag data)."""
    if not tags or not query:
        return 0.0
    return _weighted(tags, query.include, priors) - _weighted(tags, query.exclude, priors)


def _full_priors(tags: Mapping[str, float], priors: Mapping[str, float] | None) -> dict[str, float]:
    """`priors` for every tag of `tags`, the default where unknown (`top_tags` shows no tag without a prior)."""
    return {tag: _prior(tag, priors) for tag in tags}


def ruled_out(tags: Mapping[str, float], query: TagQuery, priors: Mapping[str, float] | None = None) -> bool:
    """Whether the song plainly has a sound the message asked away ("no vocals" and a sung song)."""
    words = [w for w in query.exclude if KINDS.get(w) != "mood"]
    if not tags or not words:
        return False
    top = set(top_tags(tags, _full_priors(tags, priors), k=3, kinds=_ALL_KINDS))
    for word in words:
        family = _VOICES if word == "vocals" else (word,)
        if top.intersection(family) or _probability(tags, word) >= RULE_OUT_P:
            return True
    return False


def matched_words(tags: Mapping[str, float], query: TagQuery, priors: Mapping[str, float] | None = None
                  ) -> list[str]:
    """The asked-for words this song clearly has (likely enough to show, and well above their prior)."""
    return [w for w in query.include
            if tags.get(w, 0.0) >= MIN_SHOWN and _evidence(tags, w, priors) >= SAY_MATCHED]


def has_asked_sound(tags: Mapping[str, float], query: TagQuery, priors: Mapping[str, float] | None = None
                    ) -> bool:
    """Whether the song has every asked-for *sound* (genre, instrument, voice, tempo, era) clearly: what
    "sad but with piano" filters on.  Mood words (sad, chill) are not required: the reading placed the search."""
    sounds = [w for w in query.include if KINDS.get(w) != "mood"]
    if not tags or not sounds:
        return False
    found = set(matched_words(tags, TagQuery(include=(*sounds, *_VOICES), exclude=()), priors))
    return all(bool(found.intersection(_VOICES if w == "vocals" else (w,))) for w in sounds)


def tag_phrase(tags: Mapping[str, float], priors: Mapping[str, float] | None = None, k: int = 3) -> str:
    """What a song sounds like in a few words ("mellow, piano, female vocals"); "" with nothing to say."""
    if not tags:
        return ""
    return ", ".join(top_tags(tags, _full_priors(tags, priors), k=k))


def asked_phrase(words: list[str]) -> str:
    """The end of a reason line for requested words a song has: "has the piano and strings you asked for";
    adjectives ("chill", "80s", "instrumental") read "chill, as you asked"."""
    nouns = [w for w in words if KINDS.get(w) in ("genre", "instrument") or w in _VOICES]
    others = [w for w in words if w not in nouns]
    if nouns:
        listed = nouns[0] if len(nouns) == 1 else f"{', '.join(nouns[:-1])} and {nouns[-1]}"
        return f"has the {listed} you asked for"
    return f"{', '.join(others)}, as you asked" if others else ""
