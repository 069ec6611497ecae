"""The audio mood model: a song's valence/arousal and GEMS emotions from its audio descriptor.

A linear (ridge) model over the standardised handcrafted descriptor: with a few hundred annotated clips
(Emotify) anything bigger overfits, and a linear map is cheap enough to run on every track at ingestion.
Weights are trained by `moodtape train song-mood` (training/song_mood.py) and shipped as JSON.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from core.moods import GEMS, canonical_distribution, describe


@dataclass(frozen=True)
class SongMood:
    valence: float
    arousal: float
    gems: dict[str, float]

    def details(self) -> dict[str, Any]:
        moods = canonical_distribution(self.valence, self.arousal)
        top = sorted(self.gems.items(), key=lambda item: -item[1])[:3]
        return {
            "gems": {name: round(score, 4) for name, score in self.gems.items()},
            "top_gems": [name for name, _ in top],
            "mood": max(moods, key=moods.get),
            "description": describe(self.valence, self.arousal),
        }


class SongMoodModel:
    """raw descriptor (128) -> (valence, arousal, 9 GEMS scores)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, weights: np.ndarray, bias: np.ndarray, version: str,
                 outputs: list[str]) -> None:
        if weights.shape != (len(outputs), mean.shape[0]):
            raise ValueError("song mood weights do not match the outputs and inputs")
        self.mean, self.std, self.weights, self.bias = mean, np.where(std > 1e-9, std, 1.0), weights, bias
        self.version = version
        self.outputs = outputs

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SongMoodModel":
        return cls(
            np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64),
            np.asarray(data["weights"], dtype=np.float64), np.asarray(data["bias"], dtype=np.float64),
            str(data["version"]), list(data["outputs"]),
        )

    @classmethod
    def load(cls, path: Path) -> "SongMoodModel":
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def predict_many(self, raw: np.ndarray) -> list[SongMood]:
        x = np.clip((np.atleast_2d(raw) - self.mean) / self.std, -5.0, 5.0)
        y = x @ self.weights.T + self.bias
        out = []
        for row in y:
            values = dict(zip(self.outputs, row.tolist()))
            out.append(SongMood(
                valence=float(np.clip(values["valence"], -1, 1)),
                arousal=float(np.clip(values["arousal"], -1, 1)),
                gems={name: float(np.clip(values[name], 0, 1)) for name in GEMS if name in values},
            ))
        return out

    def predict(self, raw: np.ndarray) -> SongMood:
        return self.predict_many(raw)[0]


SHIPPED = "song_mood.json"


@functools.lru_cache(maxsize=1)
def load_song_mood_model() -> SongMoodModel:
    text = (resources.files("core") / "data" / SHIPPED).read_text(encoding="utf-8")
    return SongMoodModel.from_json(json.loads(text))
