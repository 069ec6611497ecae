"""Moods: reading a message's emotion, placing it and songs in one valence/arousal space, and strategies.

`MoodReader` (mood.reader) turns text into a `MoodReading` with an emotion checkpoint (mood.models opens
any of the supported kinds); the mood space (mood.space) places every label set and song on one square and
turns a strategy ("lift", "calm", ...) into a path of targets; `SongMoodModel` (mood.song_mood) predicts a
song's point from what musicnn and the audio descriptor hear in it.  Importing the package is cheap: torch and transformers load only
when a model does.
"""

from moodtape.core.mood.reader import (
    BUNDLED_ENGLISH,
    BUNDLED_KOREAN,
    EmotionClassifier,
    MoodReader,
    MoodReading,
    detect_language,
    prepare_text,
)
from moodtape.core.mood.song_mood import SongMood, SongMoodModel, load_song_mood_model
from moodtape.core.mood.space import (
    GEMS,
    LABEL_ANCHORS,
    STRATEGIES,
    STRATEGY_HELP,
    canonical_distribution,
    canonical_label,
    describe,
    label_point,
    relation,
    strategy_targets,
    va_from_probs,
)

__all__ = [
    "MoodReader",
    "MoodReading",
    "EmotionClassifier",
    "prepare_text",
    "detect_language",
    "BUNDLED_ENGLISH",
    "BUNDLED_KOREAN",
    "STRATEGIES",
    "STRATEGY_HELP",
    "GEMS",
    "LABEL_ANCHORS",
    "describe",
    "relation",
    "strategy_targets",
    "canonical_label",
    "canonical_distribution",
    "label_point",
    "va_from_probs",
    "SongMood",
    "SongMoodModel",
    "load_song_mood_model",
]
