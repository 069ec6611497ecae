"""musicnn's 100 tags (50 per model) as one vocabulary of words a person would use about a song.

The two taggers overlap ("rock" in both) and each spells one idea several ways (MagnaTagATune has "female",
"woman", "female vocal" and "female voice"; "no vocal", "no vocals" and "no voice").  A track's tags are
stored once per *canonical* word, with the highest probability any of its spellings got, so a reason line
never says "no vocals, no vocal" and a chat word ("piano", "피아노") has exactly one tag to look up.

Raw probabilities are not comparable across tags: "guitar" is likely for half of all music, "sitar" almost
never.  What makes a tag worth saying about one song is how much likelier it is than for a typical song, its
*lift* over the tag's prior (the mean probability over a reference corpus, shipped with the embedding
statistics); `top_tags` ranks by lift among tags that are likely enough in absolute terms.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import numpy as np

#: raw musicnn tag (either model) -> canonical word.  Tags not listed keep their own (lower-cased) name.
CANONICAL: dict[str, str] = {
    "female": "female vocals", "woman": "female vocals", "female vocal": "female vocals",
    "female voice": "female vocals", "female vocalists": "female vocals", "female vocalist": "female vocals",
    "male": "male vocals", "man": "male vocals", "male vocal": "male vocals", "male voice": "male vocals",
    "male vocalists": "male vocals",
    "vocal": "vocals", "voice": "vocals", "singing": "vocals",
    "no vocals": "instrumental", "no vocal": "instrumental", "no voice": "instrumental",
    "classic": "classical", "choral": "choir", "beats": "beat",
    "chillout": "chill", "electronica": "electronic", "electro": "electronic",
    "alternative rock": "alternative", "indie rock": "indie", "indie pop": "indie",
    "heavy metal": "metal", "hip-hop": "hip-hop", "rnb": "r&b", "00s": "2000s",
}

#: canonical word -> what kind of word it is.  Eras are kept (a person may ask for "80s") but never shown
#: as what a song sounds like; the rest are what reason lines may say.
KINDS: dict[str, str] = {
    **{w: "genre" for w in (
        "rock", "pop", "alternative", "indie", "electronic", "dance", "jazz", "metal", "classic rock", "soul",
        "folk", "punk", "blues", "hard rock", "ambient", "experimental", "hip-hop", "country", "funk",
        "progressive rock", "r&b", "house", "techno", "classical", "opera", "new age", "indian", "easy listening",
        "oldies")},
    **{w: "instrument" for w in (
        "guitar", "strings", "drums", "piano", "violin", "synth", "harpsichord", "flute", "sitar", "harp", "cello",
        "beat", "acoustic", "choir", "solo")},
    **{w: "voice" for w in ("vocals", "female vocals", "male vocals", "instrumental")},
    **{w: "mood" for w in ("beautiful", "mellow", "chill", "party", "sexy", "catchy", "sad", "happy", "weird",
                            "soft", "quiet", "loud")},
    **{w: "tempo" for w in ("slow", "fast")},
    **{w: "era" for w in ("2000s", "90s", "80s", "70s", "60s")},
}

#: Shown tags need at least this probability: a tag ten times likelier than usual at 0.02 is still unlikely.
MIN_SHOWN = 0.15


def canonical(tag: str) -> str:
    """The canonical word of a raw musicnn tag (either model's spelling)."""
    return CANONICAL.get(tag.lower(), tag.lower())


def canonical_scores(scores: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Raw tag -> probability maps (one per model) -> canonical word -> highest probability of its spellings."""
    out: dict[str, float] = {}
    for model_scores in scores:
        for tag, value in model_scores.items():
            word = canonical(tag)
            out[word] = max(out.get(word, 0.0), float(value))
    return out


def lifts(scores: Mapping[str, float], priors: Mapping[str, float]) -> dict[str, float]:
    """Each tag's probability over its prior (1.0 = as likely as for a typical song; unknown prior = 1)."""
    return {tag: value / max(float(priors.get(tag, value) or 1e-6), 1e-6) for tag, value in scores.items()}


def top_tags(scores: Mapping[str, float], priors: Mapping[str, float], k: int = 3,
             kinds: Iterable[str] = ("genre", "instrument", "voice", "mood", "tempo")) -> list[str]:
    """The k words that say most about this song: highest lift among tags of `kinds` likely enough to show.

    "vocals" is dropped when a more specific voice word ("female vocals") is also chosen.
    """
    allowed = set(kinds)
    lift = lifts(scores, priors)
    ranked = sorted(
        (tag for tag, value in scores.items()
         if value >= MIN_SHOWN and KINDS.get(tag) in allowed and lift[tag] > 1.0),
        key=lambda tag: (-lift[tag], tag),
    )
    chosen: list[str] = []
    for tag in ranked:
        if tag == "vocals" and any(t in chosen for t in ("female vocals", "male vocals")):
            continue
        if tag in ("female vocals", "male vocals") and "vocals" in chosen:
            chosen.remove("vocals")
        if tag == "instrumental" and any(KINDS.get(t) == "voice" for t in chosen):
            continue
        chosen.append(tag)
        if len(chosen) == k:
            break
    return chosen


def stored_tags(scores: Mapping[str, float], priors: Mapping[str, float], keep: int = 12) -> dict[str, float]:
    """What a track keeps in its mood details: its `keep` highest-lift tags with their probabilities (4 digits).

    Bounded so that a million tracks do not carry 80 numbers each; the tags a person may ask for ("piano")
    are the ones that stand out, so the highest-lift ones are the useful ones to keep.
    """
    lift = lifts(scores, priors)
    chosen = sorted(scores, key=lambda tag: (-lift[tag], tag))[:keep]
    return {tag: round(float(scores[tag]), 4) for tag in chosen}


def tag_priors(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean probability of every canonical tag over a corpus (canonical scores, one map per track)."""
    rows = list(rows)
    if not rows:
        return {}
    names = sorted({tag for row in rows for tag in row})
    return {tag: round(float(np.mean([row.get(tag, 0.0) for row in rows])), 6) for tag in names}


def spec_dir() -> Path:
    """The folder of musicnn's weights and embedding spec (`MOODTAPE_MUSICNN_DIR` overrides the package's, e.g.
    for freshly converted weights or a refitted spec).  Here, in a module without torch, so the chat path can
    read the tag priors beside them."""
    override = os.environ.get("MOODTAPE_MUSICNN_DIR")
    return Path(override) if override else Path(str(resources.files("moodtape.core") / "data" / "musicnn"))


@functools.lru_cache(maxsize=4)
def _priors(folder: str) -> dict[str, float]:
    try:
        meta = json.loads((Path(folder) / "embedding.json").read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in meta.get("tag_priors", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def load_tag_priors() -> dict[str, float]:
    """Each canonical tag's mean probability over the embedding spec's corpus; {} when no spec ships.

    Read from the spec's JSON alone, so the chat path gets them without importing torch or the models.
    """
    return _priors(str(spec_dir()))
