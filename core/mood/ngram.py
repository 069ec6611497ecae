"""Moodtape's compact "char n-gram" emotion model: a linear model over hashed text features, in NumPy.

It suits Korean far better than an English-only WordPiece vocabulary that shreds Hangul into jamo, and it
needs no torch at all.

Features (the model folder's `moodtape_emotion.json` says which; a folder without the keys reads as before):

* ``"char"``: character n-grams inside each word (with word-boundary marks), whole words and word pairs;
* ``"morph"``: Kiwi morphemes (`kiwipiepy`, optional): ``form/TAG`` of each morpheme and morpheme pairs.
  Korean glues particles and endings to stems ("우울하다", "우울했어"); the analyser splits them, so
  "우울" is one feature however it is inflected.  Kiwi loads once per process, when a model that reads
  morphemes loads (2-5 s, most of it Kiwi's first analysis), and then costs ~0.3 ms per short message.

``"normalise": "informal-v1"`` (every model trained since the informal-text work) first rewrites chat
spellings so that variants of one sign meet in one feature -- see `normalise_informal`.  It changes only
the spelling, never a reading: which sign means what is learnt from the labelled data.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from moodtape.core.errors import UserError
from moodtape.core.mood.checkpoint import COMPACT_FILE, WEIGHTS_FILE, file_digest, softmax

__all__ = ["FEATURE_KINDS", "NORMALISERS", "NgramModel", "kiwi_available", "ngram_features", "normalise_informal"]

_WORD = re.compile(r"\w+", re.UNICODE)
#: Feature families a model can be trained with.
FEATURE_KINDS = ("char", "morph")
#: Text normalisations a model can name in its spec ("none": the text as `prepare_text` leaves it).
NORMALISERS = ("none", "informal-v1")

# --- informal Korean / chat normalisation ("informal-v1") --------------------------------------------------
#: Emoticons -> one sign each.  A class groups spellings of the same face and is written as the spelling the
#: Korean training data uses most (":(" and "T_T" -> "ㅠㅠ", "-_-" -> "ㅡㅡ"), so the many "ㅠㅠ" rows also
#: teach the model the rarer Western faces; faces without a jamo spelling become a class word ("^^", ":)"
#: -> "emosmile").  Longer patterns first; the Latin ones only between non-letters.
_EMOTICONS: list[tuple[str, str]] = [
    (r"\^[_.\-]?\^", "emosmile"), (r"(?<![a-z0-9])[:;=]-?[)\]d](?![a-z0-9])", "emosmile"),
    (r"(?<![a-z0-9])\(\s?:(?![a-z0-9])", "emosmile"),
    (r"(?<![a-z])t[_.]t(?![a-z])", "ㅠㅠ"), (r"[ㅠㅜ][_.\-][ㅠㅜ]", "ㅠㅠ"), (r";_;", "ㅠㅠ"),
    (r"(?<![a-z0-9])[:;=]'?-?[(\[](?![a-z0-9])", "ㅠㅠ"),
    (r"-_-+|ㅡ[_.]ㅡ", "ㅡㅡ"), (r";;+", "emosweat"), (r"(?<![a-z0-9])[o0]_[o0](?![a-z0-9])", "emoshock"),
    (r"<3", "emoheart"),
]
_EMOTICON_RE = re.compile("|".join(f"(?:{p})" for p, _ in _EMOTICONS))
_EMOTICON_CLASS = [(re.compile(p), c) for p, c in _EMOTICONS]
#: Korean chat signs written with bare jamo: a run of them is one sign whatever its length.
_JAMO_SIGNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[ㅋㅌ]{2,}"), "ㅋㅋ"),  # laughing (ㅋㅋㅋㅋ, ㅋㅌㅋ)
    (re.compile(r"ㅎ{2,}"), "ㅎㅎ"),  # soft laugh / smile
    (re.compile(r"[ㅠㅜ]{2,}|[ㅠㅜ]\.?[ㅠㅜ]"), "ㅠㅠ"),  # tears: ㅜㅜ == ㅠㅠ == ㅠ.ㅠ
    (re.compile(r"ㄷ{2,}"), "ㄷㄷ"),  # trembling (덜덜): scared or stunned
    (re.compile(r"ㅡ{2,}"), "ㅡㅡ"),  # flat stare: annoyed
]
_JAMO_RUN = re.compile(r"([\u3131-\u318e]+)")
_CHAR_RUN = re.compile(r"(.)\1{2,}", re.DOTALL)  # 3+ of one character -> 2 ("!!!!" -> "!!", "ㅋㅋㅋ" -> "ㅋㅋ")
_UNIT_RUN = re.compile(r"(\w{2,4}?)\1{2,}")  # 3+ of one short unit -> 2 ("너무너무너무" -> "너무너무")


def normalise_informal(text: str) -> str:
    """Chat spelling -> one spelling per sign (what "informal-v1" models read before their features).

    1. NFC and lower case; 2. emoticons become one sign per class (":)", "^^" -> "emosmile"; ":(", "T_T",
    "ㅠ_ㅠ" -> "ㅠㅠ"; "-_-" -> "ㅡㅡ"; ";;" -> "emosweat"; "o_o" -> "emoshock"; "<3" -> "emoheart"); 3. runs of bare jamo are cut
    off the syllables they trail ("우울하다ㅠㅠ" -> "우울하다 ㅠㅠ") and each sign takes one length
    ("ㅋㅋㅋㅋㅋ" == "ㅋㅋ", "ㅜㅜ" == "ㅠㅠ"); 4. any character repeated three or more times keeps two, a
    short unit repeated three or more times ("너무너무너무") keeps two.
    """
    text = unicodedata.normalize("NFC", text).lower()

    def emoticon(match: re.Match[str]) -> str:
        found = match.group(0)
        for pattern, name in _EMOTICON_CLASS:
            if pattern.fullmatch(found):
                return f" {name} "
        return found

    text = _EMOTICON_RE.sub(emoticon, text)
    text = _CHAR_RUN.sub(r"\1\1", text)
    text = _UNIT_RUN.sub(r"\1\1", text)
    text = _JAMO_RUN.sub(r" \1 ", text)
    for pattern, sign in _JAMO_SIGNS:
        text = pattern.sub(sign, text)
    return " ".join(text.split())


# --- Kiwi morphemes ----------------------------------------------------------------------------------------
_KIWI: Any = None
_KIWI_LOCK = threading.Lock()
#: Morpheme tags left out: punctuation and brackets carry no mood of their own (emoticons are words by now).
_SKIP_TAGS = {"SF", "SP", "SS", "SSO", "SSC", "SE", "SO"}


def kiwi_available() -> bool:
    """Whether the optional Korean analyser (`pip install kiwipiepy`) is installed."""
    try:
        import kiwipiepy  # noqa: F401
    except ImportError:
        return False
    return True


def _kiwi() -> Any:
    """The process's one Kiwi analyser, built on first use (its model load takes about a second)."""
    global _KIWI
    with _KIWI_LOCK:
        if _KIWI is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError as exc:
                raise UserError("this Korean emotion model reads Kiwi morphemes: pip install kiwipiepy "
                                "kiwipiepy_model (or `pip install moodtape[korean]`)") from exc
            # num_workers=-1: analyse in the calling thread -- a worker pool costs ~20x more per short message.
            kiwi = Kiwi(num_workers=-1)
            kiwi.tokenize("준비")  # Kiwi finishes loading on its first analysis (seconds): do it here, once
            _KIWI = kiwi
        return _KIWI


def morphemes(text: str) -> list[str]:
    """``form/TAG`` of each morpheme Kiwi finds (tags cut to their main class: VV-R -> VV)."""
    if not text.strip():
        return []
    kiwi = _kiwi()
    return [f"{token.form}/{token.tag.split('-')[0]}" for token in kiwi.tokenize(text)
            if token.tag.split("-")[0] not in _SKIP_TAGS]


# --- the feature vector ------------------------------------------------------------------------------------
def ngram_features(text: str, buckets: int, n_min: int = 1, n_max: int = 3, *,
                   features: Sequence[str] = ("char",), normalise: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """Hashed features of one text (see the module docstring for `features` and `normalise`).
    Returns (bucket ids, L2-normalised sublinear tf weights).

    Korean attaches particles and endings to stems ("슬퍼요", "슬펐어"), so n-grams inside words carry
    the meaning that whole-word features miss; crc32 keeps the hash stable across Python runs.
    """
    if normalise == "informal-v1":
        text = normalise_informal(text)
    else:
        text = unicodedata.normalize("NFC", text).lower()
    counts: dict[int, int] = {}

    def add(key: str) -> None:
        bucket = zlib.crc32(key.encode("utf-8")) % buckets
        counts[bucket] = counts.get(bucket, 0) + 1

    if "char" in features:
        words = _WORD.findall(text)
        for index, word in enumerate(words):
            add("w " + word)
            if index:
                add("b " + words[index - 1] + " " + word)
            marked = f"<{word}>"
            for n in range(n_min, n_max + 1):
                for start in range(0, max(len(marked) - n + 1, 0)):
                    gram = marked[start:start + n]
                    if gram not in ("<", ">"):
                        add("c " + gram)
    if "morph" in features:
        morphs = morphemes(text)
        for index, morph in enumerate(morphs):
            add("m " + morph)
            if index:
                add("mb " + morphs[index - 1] + " " + morph)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    weights = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    weights /= float(np.linalg.norm(weights))
    return ids, weights.astype(np.float32)


def check_feature_spec(features: Sequence[str], normalise: str) -> None:
    """Refuse names this version does not know (a model from a newer Moodtape, or a typo in a flag)."""
    unknown = [f for f in features if f not in FEATURE_KINDS]
    if unknown or not features:
        raise UserError(f"unknown n-gram features {', '.join(unknown) or '(none)'}; "
                        f"choose from {', '.join(FEATURE_KINDS)}")
    if normalise not in NORMALISERS:
        raise UserError(f"unknown text normalisation {normalise!r}; choose one of {', '.join(NORMALISERS)}")


class NgramModel:
    """Moodtape's compact char n-gram format: softmax(W . features + b), all in NumPy (no torch needed)."""

    def __init__(self, path: Path, spec: dict[str, Any]) -> None:
        from safetensors.numpy import load_file

        state = load_file(str(path / WEIGHTS_FILE))
        self.weight = state["weight"].astype(np.float32)  # (buckets, labels)
        self.bias = state["bias"].astype(np.float32)
        self.labels = list(spec["labels"])
        self.multi_label = False
        self.buckets = int(spec["buckets"])
        self.n_min, self.n_max = (int(n) for n in spec.get("char_ngrams", [1, 3]))
        # Folders written before these keys existed: char features on the text as prepared, as then.
        self.features: tuple[str, ...] = tuple(spec.get("features", ["char"]))
        self.normalise: str = str(spec.get("normalise", "none"))
        try:
            check_feature_spec(self.features, self.normalise)
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from exc
        if "morph" in self.features:
            if not kiwi_available():
                raise UserError(f"{path} reads Kiwi morphemes: pip install kiwipiepy kiwipiepy_model")
            _kiwi()  # its ~1 s start belongs to loading the model, not to the first message read
        if self.weight.shape != (self.buckets, len(self.labels)):
            raise UserError(f"{path}: weights do not fit the model described in {COMPACT_FILE}")
        self.version = f"{spec.get('name', path.name)}@{file_digest(path / WEIGHTS_FILE)}"

    def features_of(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return ngram_features(text, self.buckets, self.n_min, self.n_max, features=self.features,
                              normalise=self.normalise)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.tile(self.bias, (len(texts), 1))
        for row, text in enumerate(texts):
            ids, weights = self.features_of(text)
            if len(ids):
                out[row] += weights @ self.weight[ids]
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(texts))
