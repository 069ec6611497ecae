"""The musicnn content vector: one analysis, a shipped spec that projects it to 128 unit-length numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from moodtape.core.audio.decode import decode
from moodtape.core.audio.musicnn import MusicnnError
from moodtape.core.audio.musicnn_embedder import (
    BLOCK_DIMS,
    MUSICNN_BLOCKS,
    EmbeddingSpec,
    MusicnnEmbedder,
    MusicnnFeatures,
    shared_analyser,
)
from moodtape.training.musicnn_embedding import fit_spec

TECHNO = Path(__file__).parents[2] / "fixtures" / "musicnn" / "techno.flac"
PAD = Path(__file__).parents[2] / "fixtures" / "audio" / "pad_a.flac"
WEIGHTS = Path(__file__).parents[3] / "core" / "data" / "musicnn"


def _spec(rows: int = 40, seed: int = 0, names: tuple[str, ...] = ("mtt.penultimate", "msd.penultimate")
          ) -> tuple[EmbeddingSpec, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    blocks = {n: rng.standard_normal((rows, BLOCK_DIMS[n])) * (10.0 if n.startswith("msd") else 1.0)
              for n in names}
    return fit_spec(blocks, names, np.arange(rows), {"piano": 0.1}, {"note": "test"}), blocks


def test_projection_is_a_unit_vector_of_the_store_width() -> None:
    spec, blocks = _spec()
    vector = spec.project({n: blocks[n][3] for n in spec.blocks})
    assert vector.shape == (128,) and vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    # a block ten times larger does not dominate: both blocks move the vector
    moved = {n: blocks[n][3].copy() for n in spec.blocks}
    moved["mtt.penultimate"] += 3.0 * np.std(blocks["mtt.penultimate"], axis=0)
    assert float(vector @ spec.project(moved)) < 0.9


def test_spec_round_trips_and_its_digest_names_the_version(tmp_path: Path) -> None:
    spec, blocks = _spec()
    spec.save(tmp_path)
    again = EmbeddingSpec.load(tmp_path)
    one = {n: blocks[n][0] for n in spec.blocks}
    assert np.allclose(spec.project(one), again.project(one), atol=1e-5)
    assert again.tag_priors == {"piano": 0.1} and again.meta["note"] == "test"
    assert again.digest == EmbeddingSpec.load(tmp_path).digest
    other, _ = _spec(seed=1)
    assert other.digest != spec.digest


def test_a_damaged_or_foreign_spec_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MusicnnError, match="moodtape train musicnn-embedding"):
        EmbeddingSpec.load(tmp_path)
    spec, _ = _spec()
    spec.save(tmp_path)
    (tmp_path / "embedding.json").write_text('{"blocks": ["mtt.taggram"], "tag_priors": {}}')
    with pytest.raises(MusicnnError, match="does not match"):
        EmbeddingSpec.load(tmp_path)
    spec.save(tmp_path)
    with pytest.raises(MusicnnError, match="needs the block"):
        spec.project({"mtt.penultimate": np.zeros(200)})


def test_the_analysis_hears_techno_and_feeds_the_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analyser = shared_analyser("cpu")
    heard = analyser.analyse(decode(TECHNO).samples)
    assert set(heard.blocks) == set(MUSICNN_BLOCKS)
    assert max(heard.tags, key=heard.tags.get) == "techno"
    assert heard.tags["electronic"] > 0.3
    # the cached flat form gives the same blocks and tags back
    again = MusicnnFeatures.from_flat(heard.flat(), analyser.tag_names)
    assert np.allclose(again.blocks["msd.penultimate"], heard.blocks["msd.penultimate"])
    assert again.tags == pytest.approx(heard.tags)

    # an embedder over a spec fitted here (weights copied beside it, as MOODTAPE_MUSICNN_DIR expects)
    for item in WEIGHTS.glob("*musicnn*"):
        shutil.copy(item, tmp_path / item.name)
    rows = [analyser.analyse(decode(p).samples) for p in (TECHNO, PAD)]
    names = ("mtt.penultimate", "msd.penultimate")
    blocks = {n: np.stack([r.blocks[n] for r in rows] * 3) for n in names}
    fit_spec(blocks, names, np.arange(6), {}, {}).save(tmp_path)
    monkeypatch.setenv("MOODTAPE_MUSICNN_DIR", str(tmp_path))
    from moodtape.core.audio.musicnn_embedder import _spec as cached_spec

    cached_spec.cache_clear()
    embedder = MusicnnEmbedder()
    techno, pad = embedder.embed(decode(TECHNO).samples), embedder.embed(decode(PAD).samples)
    assert techno.shape == (128,) and embedder.version.startswith("musicnn-v1-")
    assert float(techno @ pad) < 0.5
    assert float(techno @ embedder.embed(decode(TECHNO).samples)) == pytest.approx(1.0, abs=1e-5)
    cached_spec.cache_clear()
