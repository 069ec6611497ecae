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
    "RUSSELL_ANGLES", "Anchor", "LABEL_ANCHORS", "ALIASES", "GEMS", "CANONICAL", "canonical_label",
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
