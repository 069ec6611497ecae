"""The audio mood model: a song's valence/arousal and GEMS emotions from what is heard in its audio.

A linear (ridge) model over standardised audio features: with a few hundred annotated clips (Emotify)
anything bigger overfits, and a linear map is cheap enough to run on every track at ingestion.  Its `inputs`
name the feature blocks it reads, side by side: `handcrafted.raw` (the 128 descriptor statistics, the first
model's input) and musicnn's `mtt.taggram`, `mtt.penultimate`, `msd.taggram`, `msd.penultimate`
(`audio.musicnn_embedder`).  Weights are trained by `moodtape train song-mood` (training/song_mood.py) and
shipped as JSON.

Songs and messages must meet on one scale, and raw predictions do not sit on the messages' scale: Emotify's
targets are averages over nine GEMS anchors (so they hug the middle), and ridge shrinks them further (the
valence predictions of unseen clips spread about 0.04, the valence of messages about 0.45).  Matched raw, a
sad message would find "the least cheerful songs", all reported as neutral.  So the model carries a linear
`calibration` per axis, fitted at training time: it maps the spread of its own out-of-fold predictions onto
the spread of the moods people write (GoEmotions' gold labels placed by `mood.space`).  It keeps the order
of songs exactly; it only says that a song as far below the typical song as a sad message is below the
typical message should be matched with that message.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.mood.space import GEMS, canonical_distribution, describe


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
    """Feature blocks named by `inputs` -> (valence, arousal, 9 GEMS scores)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, weights: np.ndarray, bias: np.ndarray, version: str,
                 outputs: list[str], calibration: dict[str, dict[str, float]] | None = None,
                 inputs: tuple[str, ...] = ("handcrafted.raw",)) -> None:
        if weights.shape != (len(outputs), mean.shape[0]):
            raise ValueError("song mood weights do not match the outputs and inputs")
        self.mean, self.std, self.weights, self.bias = mean, np.where(std > 1e-9, std, 1.0), weights, bias
        self.version = version
        self.outputs = outputs
        self.inputs = tuple(inputs)
        self.calibration = calibration or {}
        for axis, stats in self.calibration.items():
            if axis not in ("valence", "arousal") or min(stats["from_sd"], stats["to_sd"]) <= 0:
                raise ValueError(f"bad song mood calibration for {axis!r}")

    def _calibrated(self, axis: str, value: float) -> float:
        stats = self.calibration.get(axis)
        if stats is not None:
            value = stats["to_mean"] + (value - stats["from_mean"]) * stats["to_sd"] / stats["from_sd"]
        return float(np.clip(value, -1, 1))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SongMoodModel":
        return cls(
            np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64),
            np.asarray(data["weights"], dtype=np.float64), np.asarray(data["bias"], dtype=np.float64),
            str(data["version"]), list(data["outputs"]), data.get("calibration"),
            tuple(data.get("inputs", ("handcrafted.raw",))),
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
                valence=self._calibrated("valence", values["valence"]),
                arousal=self._calibrated("arousal", values["arousal"]),
                gems={name: float(np.clip(values[name], 0, 1)) for name in GEMS if name in values},
            ))
        return out

    def predict(self, raw: np.ndarray) -> SongMood:
        return self.predict_many(raw)[0]

    def input_of(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        """This model's input vector from named feature blocks (a missing block is a clear error)."""
        missing = [name for name in self.inputs if name not in blocks]
        if missing:
            raise ValueError(f"the song mood model needs the feature blocks {', '.join(missing)}")
        return np.concatenate([np.asarray(blocks[name], dtype=np.float64).reshape(-1) for name in self.inputs])

    def predict_blocks(self, blocks: dict[str, np.ndarray]) -> SongMood:
        return self.predict(self.input_of(blocks))


SHIPPED = "song_mood.json"


@functools.lru_cache(maxsize=1)
def load_song_mood_model() -> SongMoodModel:
    text = (resources.files("moodtape.core") / "data" / SHIPPED).read_text(encoding="utf-8")
    return SongMoodModel.from_json(json.loads(text))
