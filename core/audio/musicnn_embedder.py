"""The musicnn content embedding: what two pretrained taggers hear in a song, as 128 numbers for cosine search.

One analysis (`MusicnnAnalyser.analyse`) runs both taggers over a bounded number of 3 s patches of the
engine's decoded excerpt and keeps, per model, the clip means of the taggram (50 tag probabilities) and the
penultimate layer (200), plus the tags in canonical words (`musicnn_tags`).  Those *blocks* feed the content
vector here, the song-mood model (`mood.song_mood`, whose inputs name blocks) and the tags a person reads.

The vector (`MusicnnEmbedder`) is the blocks named by the shipped spec (`core/data/musicnn/embedding.json` +
`embedding.safetensors`, written by `moodtape train musicnn-embedding`), each z-scored with statistics of the
training corpus and scaled to unit mean norm so no block wins by its width, concatenated, projected on the
corpus's top principal axes (128: the width of the store's `vec_audio`, so neither store nor index changes)
and L2-normalised.  The spec's digest is in the version, so a new spec re-embeds every catalogue.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from moodtape.core.audio.decode import SAMPLE_RATE
from moodtape.core.audio.musicnn import MODELS, Musicnn, MusicnnError, log_mel, patches
from moodtape.core.audio.musicnn import SAMPLE_RATE as MUSICNN_RATE
from moodtape.core.audio.musicnn_tags import canonical_scores, spec_dir

#: Patches (3 s each) analysed per track, spread evenly over the excerpt: 8 x 2 models is ~1 s of one core.
MAX_PATCHES = 8
SHORT = {"MTT_musicnn": "mtt", "MSD_musicnn": "msd"}
#: Every block an analysis yields, in a fixed order (what training caches per clip).
MUSICNN_BLOCKS = ("mtt.taggram", "mtt.penultimate", "msd.taggram", "msd.penultimate")
BLOCK_DIMS = {"mtt.taggram": 50, "mtt.penultimate": 200, "msd.taggram": 50, "msd.penultimate": 200,
              "handcrafted": 128, "handcrafted.raw": 128}
SPEC_FILES = ("embedding.json", "embedding.safetensors")
NAME = "musicnn"


@dataclass(frozen=True)
class MusicnnFeatures:
    """One track as the two taggers hear it: clip-mean blocks and canonical tag probabilities."""

    blocks: dict[str, np.ndarray]
    tags: dict[str, float] = field(default_factory=dict)

    def flat(self) -> np.ndarray:
        """The blocks in MUSICNN_BLOCKS order, side by side (what training caches per clip)."""
        return np.concatenate([self.blocks[name] for name in MUSICNN_BLOCKS]).astype(np.float32)

    @classmethod
    def from_flat(cls, row: np.ndarray, tag_names: dict[str, tuple[str, ...]] | None = None) -> MusicnnFeatures:
        blocks, start = {}, 0
        for name in MUSICNN_BLOCKS:
            blocks[name] = np.asarray(row[start:start + BLOCK_DIMS[name]], dtype=np.float32)
            start += BLOCK_DIMS[name]
        tags = {}
        if tag_names is not None:
            tags = canonical_scores(
                dict(zip(tag_names[model], blocks[f"{SHORT[model]}.taggram"].tolist())) for model in MODELS)
        return cls(blocks, tags)


class MusicnnAnalyser:
    """Both musicnn models loaded once; `analyse` is thread-safe (inference only)."""

    def __init__(self, device: str = "cpu", max_patches: int = MAX_PATCHES) -> None:
        self.device = device
        self.max_patches = max_patches
        self.models = [Musicnn.load(name, device=device) for name in MODELS]

    @property
    def tag_names(self) -> dict[str, tuple[str, ...]]:
        return {model.name: model.tags for model in self.models}

    def analyse(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> MusicnnFeatures:
        """Mono samples at `sr` (the engine decodes at 22,050 Hz) -> both models' blocks and tags."""
        wave = np.asarray(samples, dtype=np.float32).reshape(-1)
        if sr != MUSICNN_RATE:
            import librosa  # resampling only; musicnn was trained at 16 kHz

            wave = librosa.resample(wave, orig_sr=sr, target_sr=MUSICNN_RATE)
        batch = patches(log_mel(wave, self.device), self.max_patches)
        blocks: dict[str, np.ndarray] = {}
        scores = []
        for model in self.models:
            out = model.run_patches(batch)
            short = SHORT[model.name]
            for layer in ("taggram", "penultimate"):
                blocks[f"{short}.{layer}"] = out[layer].float().mean(dim=0).cpu().numpy().astype(np.float32)
            scores.append(dict(zip(model.tags, blocks[f"{short}.taggram"].tolist())))
        return MusicnnFeatures(blocks, canonical_scores(scores))


@functools.lru_cache(maxsize=4)
def shared_analyser(device: str = "cpu", max_patches: int = MAX_PATCHES) -> MusicnnAnalyser:
    """One analyser per device and patch count per process (the models are ~1.6 MB each but load in ~0.2 s)."""
    return MusicnnAnalyser(device, max_patches)


# --- the shipped embedding spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingSpec:
    """How blocks become the 128-d content vector, and the tag priors measured on the same corpus."""

    blocks: tuple[str, ...]
    mean: np.ndarray  # (D,) per input dimension
    std: np.ndarray  # (D,)
    scale: np.ndarray  # (D,) 1 / the block's mean norm after z-scoring
    center: np.ndarray  # (D,) mean of the scaled inputs (PCA centre)
    components: np.ndarray  # (128, D)
    tag_priors: dict[str, float]
    meta: dict[str, Any]

    @property
    def max_patches(self) -> int:
        """How many patches per track the spec was fitted on, hence what ingestion must analyse."""
        return int(self.meta.get("max_patches", MAX_PATCHES))

    @property
    def digest(self) -> str:
        h = hashlib.sha256(",".join(self.blocks).encode())
        for array in (self.mean, self.std, self.scale, self.center, self.components):
            h.update(np.asarray(array, dtype=np.float32).round(6).tobytes())
        return h.hexdigest()[:8]

    def project(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        """Named blocks -> unit 128-d vector (see the module docstring)."""
        try:
            x = np.concatenate([np.asarray(blocks[name], dtype=np.float64).reshape(-1) for name in self.blocks])
        except KeyError as exc:
            raise MusicnnError(f"the musicnn embedding needs the block {exc.args[0]!r}") from exc
        z = np.clip((x - self.mean) / self.std, -5.0, 5.0) * self.scale
        y = self.components @ (z - self.center)
        norm = float(np.linalg.norm(y))
        return (y / norm if norm > 0 else y).astype(np.float32)

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"mean": self.mean, "std": self.std, "scale": self.scale, "center": self.center,
                  "components": self.components}
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()},
                  str(folder / SPEC_FILES[1]))
        meta = {"blocks": list(self.blocks), "tag_priors": self.tag_priors, **self.meta}
        (folder / SPEC_FILES[0]).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> EmbeddingSpec:
        from safetensors.numpy import load_file

        try:
            meta = json.loads((folder / SPEC_FILES[0]).read_text(encoding="utf-8"))
            arrays = load_file(str(folder / SPEC_FILES[1]))
            blocks = tuple(meta.pop("blocks"))
            width = sum(BLOCK_DIMS[name] for name in blocks)
            spec = cls(blocks, *(np.asarray(arrays[k], dtype=np.float64) for k in
                                 ("mean", "std", "scale", "center", "components")),
                       tag_priors={k: float(v) for k, v in meta.pop("tag_priors", {}).items()}, meta=meta)
        except (OSError, ValueError, KeyError) as exc:
            raise MusicnnError(
                f"the musicnn embedding spec in {folder} is missing or damaged ({exc}); rebuild it with "
                "`moodtape train musicnn-embedding`") from exc
        if any(a.shape != (width,) for a in (spec.mean, spec.std, spec.scale, spec.center)) \
                or spec.components.ndim != 2 or spec.components.shape[1] != width:
            raise MusicnnError(f"the musicnn embedding spec in {folder} does not match its blocks {blocks}")
        return spec


@functools.lru_cache(maxsize=4)
def _spec(folder: str) -> EmbeddingSpec:
    return EmbeddingSpec.load(Path(folder))


def shipped_spec() -> EmbeddingSpec:
    return _spec(str(spec_dir()))


def analysis_patches() -> int:
    """Patches per track for ingestion: the shipped spec's, else MAX_PATCHES (no spec: tags and mood only)."""
    try:
        return shipped_spec().max_patches
    except MusicnnError:
        return MAX_PATCHES


class MusicnnEmbedder:
    """Audio samples -> unit 128-d musicnn vector; `from_blocks` when the analysis is already done."""

    def __init__(self, device: str = "cpu", spec: EmbeddingSpec | None = None,
                 analyser: MusicnnAnalyser | None = None) -> None:
        self.spec = spec or shipped_spec()
        self.dim = int(self.spec.components.shape[0])
        self.device = device
        self._analyser = analyser
        self._descriptor: Any = None  # the handcrafted embedder, when the spec reads its block
        self.version = f"{NAME}-v1-{self.spec.digest}"

    @property
    def analyser(self) -> MusicnnAnalyser:
        if self._analyser is None:
            self._analyser = shared_analyser(self.device, self.spec.max_patches)
        return self._analyser

    @property
    def blocks(self) -> tuple[str, ...]:
        return self.spec.blocks

    def from_blocks(self, blocks: dict[str, np.ndarray]) -> np.ndarray:
        return self.spec.project(blocks)

    def embed(self, samples: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        blocks = dict(self.analyser.analyse(samples, sr).blocks)
        if any(name.startswith("handcrafted") for name in self.spec.blocks):
            if self._descriptor is None:
                from moodtape.core.audio.descriptor import HandcraftedEmbedder

                self._descriptor = HandcraftedEmbedder(device=self.device)
            hand = self._descriptor
            raw = hand.raw(samples, sr)
            blocks.update({"handcrafted.raw": raw, "handcrafted": hand.finish(raw)})
        return self.from_blocks(blocks)
