"""The mood space: every emotion label set -> valence/arousal and a small canonical mood set; strategies.

Texts and songs meet here.  A person's message becomes a point (valence, arousal) in [-1, 1]^2 and a song's
audio mood model predicts a point in the same square, so "songs that fit" is nearest-neighbour search and
"lift me up" is a path of targets from the person's point toward positive valence.

Where the coordinates come from
-------------------------------
Russell, J. A. (1980). A circumplex model of affect. Journal of Personality and Social Psychology, 39(6),
1161-1178.  Its multidimensional scaling of 28 affect words places each word at an angle on a circle whose
horizontal axis is pleasure (valence) and vertical axis is arousal.  `RUSSELL_ANGLES` below are those angles
in degrees (counter-clockwise from "pleasure").  A label that names one of Russell's words takes its angle;
a label that does not (e.g. "disgust", "curiosity") takes the angle of the nearest listed word by meaning, and
that choice is written next to it.  The radius (intensity) is ours: 0.8 for a full-blown basic emotion,
smaller for mild or ambiguous states, 0 for neutral.

For the nine GEMS music emotions (Zentner, Grandjean & Scherer 2008, "Emotions evoked by the sound of music",
Emotion 8(4); used by the Emotify data set, Aljanaki et al. 2016) we follow the same rule; GEMS groups them in
three super-factors (sublimity, vitality, unease) which the placements respect: sublimity (amazement,
solemnity, tenderness, nostalgia, calmness) stays at low-to-mid arousal and non-negative valence except
solemnity and nostalgia, vitality (power, joyful activation) high arousal, unease (tension, sadness) negative
valence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RUSSELL_ANGLES", "Anchor", "LABEL_ANCHORS", "gems_to_va", "ALIASES", "KOTE_MOOD", "GEMS", "CANONICAL", "canonical_label",
    "label_point", "va_from_probs", "canonical_distribution", "describe", "STRATEGIES", "STRATEGY_HELP",
    "strategy_targets", "relation",
]

#: Russell (1980) circumplex angles, degrees counter-clockwise from the pleasure axis.
RUSSELL_ANGLES: dict[str, float] = {
    "happy": 7.8, "delighted": 24.9, "excited": 48.6, "astonished": 69.8, "aroused": 73.8, "tense": 92.8,
    "alarmed": 96.5, "angry": 99.0, "afraid": 116.9, "annoyed": 123.0, "distressed": 138.0,
    "frustrated": 141.4, "miserable": 188.7, "sad": 207.5, "gloomy": 209.0, "depressed": 210.0,
    "bored": 241.9, "droopy": 256.7, "tired": 267.7, "sleepy": 271.9, "calm": 316.2, "relaxed": 318.0,
    "satisfied": 319.2, "at ease": 321.0, "content": 323.0, "serene": 328.6, "glad": 346.0, "pleased": 353.2,
}


@dataclass(frozen=True)
class Anchor:
    """Where a label sits: an angle taken from a Russell word (or between two) and an intensity."""

    angle: float
    radius: float
    basis: str  # which Russell word(s) the angle comes from

    @property
    def point(self) -> tuple[float, float]:
        rad = math.radians(self.angle)
        return self.radius * math.cos(rad), self.radius * math.sin(rad)


def _at(word: str, radius: float = 0.8) -> Anchor:
    return Anchor(RUSSELL_ANGLES[word], radius, word)


def _between(first: str, second: str, radius: float = 0.8) -> Anchor:
    return Anchor((RUSSELL_ANGLES[first] + RUSSELL_ANGLES[second]) / 2.0, radius, f"{first}/{second}")


NEUTRAL = Anchor(0.0, 0.0, "origin")

#: Every emotion label we know, from all label sets we train or load (GoEmotions 28 + neutral, Ekman 6 +
#: neutral, dair-ai 6, Korean single-turn 7, the Korean prototype's 6, GEMS 9).
LABEL_ANCHORS: dict[str, Anchor] = {
    # Ekman basic emotions (+ neutral); GoEmotions-Ekman, dair-ai and Korean single-turn use these.
    "anger": _at("angry"),
    "disgust": _between("annoyed", "distressed"),  # not in Russell's list; strong displeasure, aroused
    "fear": _at("afraid"),
    "joy": _between("happy", "delighted"),
    "sadness": _at("sad"),
    "surprise": _at("astonished", 0.7),
    "neutral": NEUTRAL,
    "love": _at("happy", 0.75),  # dair-ai; warm and positive, moderately aroused
    # GoEmotions fine-grained labels.
    "admiration": _at("glad", 0.6),
    "amusement": _at("delighted", 0.7),
    "annoyance": _at("annoyed", 0.6),
    "approval": _at("satisfied", 0.5),
    "caring": _at("content", 0.6),
    "confusion": _at("frustrated", 0.4),
    "curiosity": _at("excited", 0.4),
    "desire": _at("aroused", 0.6),
    "disappointment": _at("miserable", 0.6),
    "disapproval": _at("annoyed", 0.5),
    "embarrassment": _at("distressed", 0.5),
    "excitement": _at("excited"),
    "gratitude": _at("glad", 0.7),
    "grief": _at("depressed", 0.9),
    "nervousness": _between("tense", "alarmed", 0.7),
    "optimism": _at("pleased", 0.6),
    "pride": _at("delighted", 0.6),
    "realization": _at("astonished", 0.3),
    "relief": _at("relaxed", 0.7),
    "remorse": _at("sad", 0.6),
    # The Korean prototype's six labels (emotional-dialogue corpus): anxiety and hurt.
    "anxiety": _between("tense", "afraid", 0.7),
    "hurt": _between("distressed", "miserable", 0.7),
    # GEMS (music-induced emotions).
    "amazement": _at("astonished", 0.6),
    "solemnity": _at("droopy", 0.35),  # serious, low arousal, near-neutral valence
    "tenderness": _at("content", 0.6),
    "nostalgia": Anchor(235.0, 0.4, "gloomy/bored"),  # wistful: slightly negative, low arousal
    "calmness": _at("calm"),
    "power": _at("aroused", 0.8),
    "joyful_activation": _between("delighted", "excited", 0.85),
    "tension": _at("tense", 0.8),
}

#: Names used by data sets and checkpoints -> our label names.
ALIASES: dict[str, str] = {
    "happiness": "joy", "happy": "joy", "joyful": "joy", "sad": "sadness", "angry": "anger", "fearful": "fear",
    "scared": "fear", "surprised": "surprise", "disgusted": "disgust", "calm": "calmness", "tender": "tenderness",
    "joyful activation": "joyful_activation", "joyful-activation": "joyful_activation", "anxious": "anxiety",
    "embarrassed": "embarrassment", "hurt feelings": "hurt",
    # Korean single-turn labels and the prototype's six (Korean names as published).
    "행복": "joy", "기쁨": "joy", "놀람": "surprise", "분노": "anger", "공포": "fear", "혐오": "disgust",
    "슬픔": "sadness", "중립": "neutral", "불안": "anxiety", "상처": "hurt", "당황": "embarrassment",
}

#: KOTE (Jeon et al. 2022, 44 emotions of Korean online comments) -> the seven mood labels of the Korean and
#: English models.  Grouped by what a reader of the comment would call the feeling, following GoEmotions'
#: own Ekman mapping (Demszky et al. 2020) wherever KOTE has a GoEmotions counterpart:
#: * joy -- every pleasant label: the happy ones (행복, 기쁨, 즐거움/신남), the warm ones (흐뭇함, 아껴주는
#:   = caring, 환영/호의 = goodwill), admiration and gratitude (감동/감탄, 존경, 고마움), pride (뿌듯함), hope
#:   (기대감 = optimism), and the calm-pleasant ones (편안/쾌적, 안심/신뢰 = relief).  GoEmotions puts all of
#:   these (admiration, caring, gratitude, optimism, pride, relief, ...) under joy.
#: * anger -- complaint and irritation (불평/불만, 화남/분노, 짜증, 귀찮음 = annoyance), being fed up
#:   (지긋지긋), distrust (의심/불신 = disapproval) and 어이없음 ("unbelievable!"), which in comments is
#:   indignation rather than wonder.  GoEmotions: annoyance and disapproval -> anger.
#: * disgust -- revulsion and hatred (역겨움/징그러움, 증오/혐오), contempt (한심함 = pathetic, 우쭐댐/무시함 =
#:   condescension) and 재미없음 ("boring, not funny"): a turning away from the thing, not sorrow.
#: * sadness -- 슬픔, 서러움, 절망 (= grief), 안타까움/실망 (= disappointment), 힘듦/지침 (worn out),
#:   패배/자기혐오, 죄책감 (= remorse), 부끄러움 (= embarrassment) and 불쌍함/연민 (pity: sorrow for another).
#:   GoEmotions: disappointment, embarrassment, grief, remorse -> sadness.
#: * fear -- 공포/무서움, 불안/걱정 (= nervousness) and 부담/안_내킴 (dread of a burden).
#: * surprise -- 놀람, 경악 (shock), 당황/난처 (caught off guard), 신기함/관심 (= curiosity), 깨달음
#:   (= realization).  GoEmotions: confusion, curiosity, realization -> surprise.
#: * neutral -- 없음 ("no emotion") and 비장함 (grim resolve: strong but of no clear valence or basic emotion).
#: A multi-label KOTE row keeps the majority of its labels' moods (see training/emotion_data.py).
KOTE_MOOD: dict[str, str] = {
    "행복": "joy", "기쁨": "joy", "즐거움/신남": "joy", "흐뭇함(귀여움/예쁨)": "joy", "아껴주는": "joy",
    "환영/호의": "joy", "감동/감탄": "joy", "존경": "joy", "고마움": "joy", "뿌듯함": "joy", "기대감": "joy",
    "편안/쾌적": "joy", "안심/신뢰": "joy",
    "불평/불만": "anger", "화남/분노": "anger", "짜증": "anger", "귀찮음": "anger", "지긋지긋": "anger",
    "의심/불신": "anger", "어이없음": "anger",
    "역겨움/징그러움": "disgust", "증오/혐오": "disgust", "한심함": "disgust", "우쭐댐/무시함": "disgust",
    "재미없음": "disgust",
    "슬픔": "sadness", "서러움": "sadness", "절망": "sadness", "안타까움/실망": "sadness", "힘듦/지침": "sadness",
    "패배/자기혐오": "sadness", "죄책감": "sadness", "부끄러움": "sadness", "불쌍함/연민": "sadness",
    "공포/무서움": "fear", "불안/걱정": "fear", "부담/안_내킴": "fear",
    "놀람": "surprise", "경악": "surprise", "당황/난처": "surprise", "신기함/관심": "surprise", "깨달음": "surprise",
    "없음": "neutral", "비장함": "neutral",
}
# KOTE names take their mood's place in the space (a few, e.g. 슬픔 and 놀람, were already aliases).
ALIASES.update({name: mood for name, mood in KOTE_MOOD.items() if name not in ALIASES})

GEMS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power", "joyful_activation",
        "tension", "sadness")

#: The canonical moods and their prototype points (Russell words as above).
CANONICAL: dict[str, tuple[float, float]] = {
    "happy": _between("happy", "delighted").point,
    "energetic": _at("excited", 0.85).point,
    "tense": _between("tense", "afraid", 0.8).point,
    "sad": _at("sad", 0.8).point,
    "calm": _at("calm", 0.8).point,
    "tender": _at("content", 0.5).point,
    "neutral": (0.0, 0.0),
}


def canonical_label(name: str) -> str | None:
    """Our name for a data set's or checkpoint's label, or None if it is not an emotion we can place."""
    key = name.strip().lower().replace("_", " ")
    key = ALIASES.get(key, ALIASES.get(name.strip(), key))
    key = key.replace(" ", "_")
    return key if key in LABEL_ANCHORS else None


def label_point(name: str) -> tuple[float, float] | None:
    label = canonical_label(name)
    return LABEL_ANCHORS[label].point if label else None


def va_from_probs(probs: Mapping[str, float]) -> tuple[float, float]:
    """Probability-weighted mean of the labels' points (labels we cannot place are left out)."""
    v = a = total = 0.0
    for name, p in probs.items():
        point = label_point(name)
        if point is None or p <= 0:
            continue
        v += p * point[0]
        a += p * point[1]
        total += p
    if total <= 0:
        return 0.0, 0.0
    return float(np.clip(v / total, -1, 1)), float(np.clip(a / total, -1, 1))


def gems_to_va(gems: np.ndarray) -> np.ndarray:
    """(n, 9) GEMS shares -> (n, 2) valence/arousal, the share-weighted mean of the GEMS anchors.

    How listeners' GEMS annotations (Emotify) become a point in this space, for training and measuring.
    """
    anchors = np.asarray([LABEL_ANCHORS[name].point for name in GEMS])
    weights = np.asarray(gems, dtype=np.float64)
    weights = weights / np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
    return weights @ anchors


def canonical_distribution(valence: float, arousal: float, temperature: float = 0.25) -> dict[str, float]:
    """Soft assignment of a point to the canonical moods (closer prototype, higher share)."""
    names = list(CANONICAL)
    d2 = np.asarray([(valence - CANONICAL[n][0]) ** 2 + (arousal - CANONICAL[n][1]) ** 2 for n in names])
    weights = np.exp(-(d2 - d2.min()) / temperature)
    weights /= weights.sum()
    return {name: float(w) for name, w in zip(names, weights)}


def describe(valence: float, arousal: float) -> str:
    """A few words for a point, e.g. "calm, slightly sad"."""
    if arousal < -0.45:
        energy = "very calm"
    elif arousal < -0.15:
        energy = "calm"
    elif arousal <= 0.15:
        energy = "steady"
    elif arousal <= 0.45:
        energy = "lively"
    else:
        energy = "intense"
    if valence < -0.45:
        tone = "sad" if arousal < 0.15 else "dark"
    elif valence < -0.15:
        tone = "slightly sad" if arousal < 0.15 else "uneasy"
    elif valence <= 0.15:
        tone = "neutral"
    elif valence <= 0.45:
        tone = "warm"
    else:
        tone = "bright"
    return f"{energy}, {tone}"


STRATEGIES: tuple[str, ...] = ("match", "lift", "calm", "energize")
STRATEGY_HELP: dict[str, str] = {
    "match": "songs that feel like you do",
    "lift": "start where you are and move step by step toward brighter songs",
    "calm": "start where you are and wind down toward calmer songs",
    "energize": "start where you are and build up toward more energetic songs",
}


def strategy_targets(valence: float, arousal: float, strategy: str, k: int) -> list[tuple[float, float]]:
    """The k target points a strategy visits, in playing order.

    `match` stays at the person's point.  The others start there and move along a straight line to a goal,
    so the first song meets the person where they are and the last one is where the strategy wants them:
    a trajectory, not a jump (an abrupt switch to happy music tends to be rejected by sad listeners).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if k <= 0:
        return []
    start = np.array([valence, arousal], dtype=float)
    if strategy == "match":
        return [(float(start[0]), float(start[1]))] * k
    if strategy == "lift":
        goal = np.array([0.7, max(0.1, min(0.5, arousal + 0.2))])
    elif strategy == "calm":
        goal = np.array([max(valence, 0.3), -0.7])
    else:  # energize
        goal = np.array([max(valence, 0.4), 0.75])
    if k == 1:
        return [(float(goal[0]), float(goal[1]))]
    steps = np.linspace(0.0, 1.0, k)
    return [tuple(float(x) for x in start + t * (goal - start)) for t in steps]  # type: ignore[misc]


def relation(strategy: str, step: int, total: int) -> str:
    """The second half of a reason line: how a song relates to the person's mood."""
    if strategy == "match":
        return "close to how you feel"
    if total <= 1:
        return {"lift": "a brighter place to go", "calm": "somewhere calmer", "energize": "more energy"}[strategy]
    word = {"lift": "brighter", "calm": "calmer", "energize": "more energy"}[strategy]
    if step == 0:
        return "meets you where you are"
    return f"step {step + 1} of {total}, {word}"
