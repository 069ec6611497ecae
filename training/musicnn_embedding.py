"""`moodtape train musicnn-embedding`: choose the musicnn content vector on dev music, measure it on held-out music.

Corpus: Emotify clips (label: genre; group: artist) and the Debian game soundtracks (label and group: the
game), split by group with the audio encoder's `split.json`, so the test music is the music every earlier
encoder was measured on, and no artist or game is on both sides.

For each candidate (musicnn blocks alone and mixed, with and without the handcrafted descriptor) the spec is
fitted on the dev (training) clips only — per-dimension z-scores, block weights, PCA to the store's 128
dimensions — and measured by precision@5 of cosine neighbours on dev: the mean of Emotify-genre and
Debian-game precision decides.  The winner and the handcrafted baseline are then measured once on the test
clips.  The analysis is the engine's own (`MusicnnAnalyser` on the engine's 120 s excerpt at 22,050 Hz), cached
per file, so what is measured is what ingestion computes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from moodtape.core.audio.musicnn_embedder import (
    BLOCK_DIMS,
    MAX_PATCHES,
    MUSICNN_BLOCKS,
    EmbeddingSpec,
    MusicnnFeatures,
)
from moodtape.core.audio.musicnn_tags import tag_priors
from moodtape.core.errors import UserError

#: The store's vec_audio width: candidates are projected to it.
OUT_DIM = 128
#: Candidates (blocks); each is also tried with the handcrafted descriptor added.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "mtt.penultimate": ("mtt.penultimate",),
    "msd.penultimate": ("msd.penultimate",),
    "penultimate (both)": ("mtt.penultimate", "msd.penultimate"),
    "taggram (both)": ("mtt.taggram", "msd.taggram"),
    "penultimate+taggram (both)": MUSICNN_BLOCKS,
}


def analyse_for_cache(samples: np.ndarray, max_patches: int = MAX_PATCHES) -> np.ndarray:
    """Picklable: the engine's musicnn analysis of decoded samples, flattened (MUSICNN_BLOCKS order)."""
    from moodtape.core.audio.musicnn_embedder import shared_analyser

    return shared_analyser("cpu", max_patches).analyse(samples).flat()


def musicnn_rows(paths: list[Path], max_patches: int, cache_dir: Path | None, workers: int | None
                 ) -> tuple[np.ndarray, list[int]]:
    """`analyse_for_cache` of every file that decodes, cached per file and patch count."""
    from moodtape.training.eval_audio import cached_vectors

    return cached_vectors(paths, functools.partial(analyse_for_cache, max_patches=max_patches),
                          tag=f"musicnn-engine-v1-p{max_patches}", cache_dir=cache_dir, workers=workers,
                          desc="musicnn")


@dataclass
class Clip:
    path: Path
    source: str  # "emotify" | "debian"
    label: str  # genre | game
    group: str
    row: dict[str, str]


def corpus(emotify: Path | None, debian: Path | None) -> list[Clip]:
    from moodtape.training.audio_corpus import debian_tracks, emotify_tracks

    tracks = (emotify_tracks(emotify) if emotify else []) + (debian_tracks(debian) if debian else [])
    if not tracks:
        raise UserError("give --emotify DIR and/or --debian DIR (fetch-debian-music.sh's OUTDIR)")
    return [Clip(t.path, t.source, next(iter(t.labels.values())), t.group, t.row) for t in tracks]


def fit_spec(blocks: dict[str, np.ndarray], names: Sequence[str], train: np.ndarray, priors: dict[str, float],
             meta: dict[str, Any]) -> EmbeddingSpec:
    """Standardise each block on `train` rows, weight blocks equally, PCA to OUT_DIM: the shipped recipe."""
    x = np.concatenate([blocks[n][train] for n in names], axis=1).astype(np.float64)
    if x.shape[1] < OUT_DIM:
        raise UserError(f"{'+'.join(names)} has {x.shape[1]} dimensions, fewer than the store's {OUT_DIM}")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = np.clip((x - mean) / std, -5.0, 5.0)
    scale = np.empty(x.shape[1])
    start = 0
    for n in names:
        width = BLOCK_DIMS[n]
        scale[start:start + width] = 1.0 / max(float(np.linalg.norm(z[:, start:start + width], axis=1).mean()), 1e-9)
        start += width
    z = z * scale
    center = z.mean(axis=0)
    _, _, vt = np.linalg.svd(z - center, full_matrices=False)
    components = np.zeros((OUT_DIM, x.shape[1]))
    components[:min(OUT_DIM, len(vt))] = vt[:OUT_DIM]  # fewer clips than 128: the last axes stay empty
    components *= np.where(components.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # a deterministic sign
    return EmbeddingSpec(tuple(names), mean, std, scale, center, components, priors, meta)


def project_all(spec: EmbeddingSpec, blocks: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.stack([spec.project({n: blocks[n][i] for n in spec.blocks}) for i in rows])


def _p_at(vectors: np.ndarray, clips: list[Clip], rows: np.ndarray, k: int = 5) -> dict[str, float | None]:
    from moodtape.training.retrieval_metrics import precision_at_k

    out: dict[str, float | None] = {}
    for source, key in (("emotify", "emotify_genre_p5"), ("debian", "debian_game_p5")):
        mine = [j for j, i in enumerate(rows) if clips[i].source == source]
        out[key] = (round(precision_at_k(vectors[mine], [clips[rows[j]].label for j in mine], (k,))[f"p@{k}"], 4)
                    if len(mine) > k else None)
    return out


def _mean_score(scores: dict[str, float | None]) -> float:
    values = [v for v in scores.values() if v is not None]
    return float(np.mean(values)) if values else 0.0


def run(emotify: Path | None, debian: Path | None, split_file: Path, *, out: Path | None,
        cache_dir: Path | None, workers: int | None = 1, max_patches: int = MAX_PATCHES,
        log: TextIO | None = None) -> dict[str, Any]:
    from moodtape.core.audio.descriptor import finish, raw_from_samples, shipped_standardizer
    from moodtape.core.audio.musicnn import MODELS, Musicnn
    from moodtape.training.audio_corpus import CorpusTrack, groups_from_split
    from moodtape.training.eval_audio import cached_vectors

    try:
        split = json.loads(split_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the split {split_file}: {exc}") from exc
    clips = corpus(emotify, debian)
    paths = [c.path for c in clips]
    if max_patches < 1:
        raise UserError("--max-patches must be at least 1")
    flat, m_index = musicnn_rows(paths, max_patches, cache_dir, workers)
    raw, h_index = cached_vectors(paths, raw_from_samples, tag="hand-raw", cache_dir=cache_dir, workers=workers,
                                  desc="handcrafted")
    common = sorted(set(m_index) & set(h_index))
    if len(common) < 20:
        raise UserError(f"only {len(common)} clips could be analysed; need at least 20")
    at_m, at_h = {i: j for j, i in enumerate(m_index)}, {i: j for j, i in enumerate(h_index)}
    clips = [clips[i] for i in common]
    flat = flat[[at_m[i] for i in common]]
    raw = raw[[at_h[i] for i in common]]
    tag_names = {name: Musicnn.load(name).tags for name in MODELS}
    features = [MusicnnFeatures.from_flat(row, tag_names) for row in flat]
    blocks = {n: np.stack([f.blocks[n] for f in features]) for n in MUSICNN_BLOCKS}
    standardizer = shipped_standardizer()
    blocks["handcrafted"] = np.stack([finish(r, standardizer) for r in raw])

    held = groups_from_split([CorpusTrack(c.path, c.source, c.group, row=c.row) for c in clips], split)
    test = np.asarray([i for i, c in enumerate(clips) if c.group in held])
    dev = np.asarray([i for i, c in enumerate(clips) if c.group not in held])
    priors = tag_priors(features[i].tags for i in dev)

    dev_scores: dict[str, dict[str, float | None]] = {"handcrafted": _p_at(blocks["handcrafted"][dev], clips, dev)}
    specs: dict[str, EmbeddingSpec] = {}
    for name, names in CANDIDATES.items():
        for label, chosen in ((name, names), (f"{name}+handcrafted", (*names, "handcrafted"))):
            if sum(BLOCK_DIMS[n] for n in chosen) < OUT_DIM:
                continue
            spec = fit_spec(blocks, chosen, dev, priors, {})
            specs[label] = spec
            dev_scores[label] = _p_at(project_all(spec, blocks, dev), clips, dev)
            if log:
                print(f"dev {label}: {dev_scores[label]}", file=log, flush=True)
    best = max(specs, key=lambda label: _mean_score(dev_scores[label]))
    test_scores = {"handcrafted": _p_at(blocks["handcrafted"][test], clips, test),
                   best: _p_at(project_all(specs[best], blocks, test), clips, test)}
    report: dict[str, Any] = {
        "chosen": best, "blocks": list(specs[best].blocks),
        "n": {"dev": len(dev), "test": len(test),
              "dev_emotify": sum(clips[i].source == "emotify" for i in dev),
              "test_emotify": sum(clips[i].source == "emotify" for i in test),
              "dev_debian": sum(clips[i].source == "debian" for i in dev),
              "test_debian": sum(clips[i].source == "debian" for i in test)},
        "dev": dev_scores, "test": test_scores, "split": split_file.name, "max_patches": max_patches,
    }
    if out is not None:
        meta = {
            "name": "musicnn-embedding", "chosen_as": best, "out_dim": OUT_DIM, "max_patches": max_patches,
            "trained_on": "dev split of Emotify (genre) and Debian game music (game); the spec holds only "
                          "statistics (means, deviations, principal axes, tag priors), no audio or labels",
            "report": report,
        }
        spec = fit_spec(blocks, specs[best].blocks, dev, priors, meta)
        spec.save(out)
        (out / "EMBEDDING_CARD.md").write_text(card(report, spec.digest), encoding="utf-8")
        report["written"] = str(out)
    return report


def card(report: dict[str, Any], digest: str) -> str:
    """The model card of the spec: what it was fitted on, under which terms, and what it measured."""
    dev, test, n = report["dev"][report["chosen"]], report["test"], report["n"]
    rows = "\n".join(
        f"| {name} | {scores['emotify_genre_p5']} | {scores['debian_game_p5']} |" for name, scores in test.items())
    return f"""# musicnn content embedding (`embedding.json` + `embedding.safetensors`, version `musicnn-v1-{digest}`)

How Moodtape turns what the two musicnn taggers hear in a track into the 128-d vector it searches by sound:
the blocks `{' + '.join(report['blocks'])}` (clip means over at most 8 patches of the engine's 120 s excerpt),
each z-scored, weighted to equal mean norm, projected on 128 principal axes, L2-normalised
(`core/audio/musicnn_embedder.py`).  The file holds statistics only: per-dimension means and deviations,
block weights, principal axes and each tag's mean probability; no audio, no labels, no per-track rows.

## Fitted on (the dev groups of `core/data/audio_encoder/split.json`)

- Emotify (Aljanaki, Wiering & Veltkamp 2016; Magnatune excerpts, listener GEMS annotations), {n['dev_emotify']}
  clips of the artists not held out. **Terms: research and non-commercial use only**; the data is not in this
  repository and is not redistributed.
- Debian game soundtracks fetched by `fetch-debian-music.sh` (free licences per file, recorded in its manifest),
  {n['dev_debian']} tracks of the games not held out.

So this spec carries Emotify's research-only terms, like the song-mood model trained on it.

## Measured (`moodtape train musicnn-embedding --emotify DIR --debian DIR --json`)

Chosen on dev by the mean of Emotify-genre and Debian-game precision@5 ({report['chosen']}: dev
{dev['emotify_genre_p5']} / {dev['debian_game_p5']}), then measured once on the held-out groups
({n['test_emotify']} Emotify clips of unseen artists, {n['test_debian']} tracks of 3 unseen games):

| vector | Emotify genre p@5 | Debian game p@5 |
| --- | ---: | ---: |
{rows}
"""
