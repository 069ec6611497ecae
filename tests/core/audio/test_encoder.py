"""The learned encoder: shipped weights, unit vectors, determinism, pooling over windows, versioning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodtape.core.audio.decode import SAMPLE_RATE, decode
from moodtape.core.audio.embedders import load_audio_embedder
from moodtape.core.audio.encoder import (
    DIM,
    AudioCNN,
    EncoderConfig,
    LearnedEmbedder,
    default_weights_path,
    encoder_input,
    load_encoder,
    save_encoder,
    weights_digest,
    window_starts,
    windows,
)
from tests.conftest import AUDIO


@pytest.fixture(scope="module")
def shipped() -> LearnedEmbedder:
    return LearnedEmbedder()


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def test_shipped_weights_load_small_and_versioned_by_digest(shipped: LearnedEmbedder) -> None:
    path = default_weights_path()
    assert path.is_file() and path.stat().st_size < 10 * 1024 * 1024
    assert shipped.version == f"learned-v1-{weights_digest(path)}"
    assert shipped.dim == DIM == 128
    assert load_audio_embedder(kind="learned").version == shipped.version


def test_unit_vectors_deterministic_and_styles_differ(shipped: LearnedEmbedder) -> None:
    pad = decode(AUDIO / "pad_a.wav").samples
    vector = shipped.embed(pad)
    assert vector.shape == (DIM,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert np.array_equal(vector, shipped.embed(pad))
    same_music = shipped.embed(decode(AUDIO / "pad_a.flac").samples)
    beat = shipped.embed(decode(AUDIO / "beat_a.ogg").samples)
    assert float(vector @ same_music) > 0.99
    assert float(vector @ same_music) > float(vector @ beat) + 0.01


def test_window_starts_cover_every_frame() -> None:
    assert window_starts(50, 128) == [0]
    assert window_starts(128, 128) == [0]
    assert window_starts(300, 128) == [0, 128, 172]
    for frames in (129, 256, 1000, 5171):
        starts = window_starts(frames, 128)
        covered = set()
        for s in starts:
            covered.update(range(s, s + 128))
        assert covered == set(range(frames)) and starts[-1] + 128 == frames


def test_clip_shorter_than_one_window_is_repeated_to_fill_it(shipped: LearnedEmbedder) -> None:
    short = _noise(0.6)
    mel = encoder_input(short, shipped.config)
    assert mel.shape[1] < shipped.config.window
    batch = windows(mel, shipped.config.window)
    assert batch.shape == (1, 1, shipped.config.n_mels, shipped.config.window)
    assert torch.equal(batch[0, 0, :, :mel.shape[1]], mel)
    frames = mel.shape[1]
    assert torch.equal(batch[0, 0, :, frames:2 * frames], mel[:, :min(frames, 128 - frames)])
    vector = shipped.embed(short)
    assert vector.shape == (DIM,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_long_clip_pools_all_windows(shipped: LearnedEmbedder) -> None:
    clip = _noise(100.0, seed=3)
    per_window = shipped.embed_windows(clip)
    frames = encoder_input(clip, shipped.config).shape[1]
    assert per_window.shape == (len(window_starts(frames, shipped.config.window)), DIM)
    pooled = shipped.embed(clip)
    unit = per_window / per_window.norm(dim=1, keepdim=True)
    expected = unit.mean(dim=0)
    assert np.allclose(pooled, (expected / expected.norm()).numpy(), atol=1e-6)


def test_refuses_other_sample_rates_and_empty_input(shipped: LearnedEmbedder) -> None:
    with pytest.raises(ValueError, match="22050 Hz"):
        shipped.embed(_noise(2.0), sr=44100)
    with pytest.raises(ValueError, match="no samples"):
        shipped.embed(np.zeros(0, dtype=np.float32))


def test_save_load_round_trip_and_version_follows_weights(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = AudioCNN(EncoderConfig()).eval()
    path = tmp_path / "enc.safetensors"
    version = save_encoder(model, path)
    loaded, loaded_version = load_encoder(path)
    assert version == loaded_version == f"learned-v1-{weights_digest(path)}"
    x = torch.randn(3, 1, 64, 128)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=1e-6)
    torch.manual_seed(2)
    other = tmp_path / "other.safetensors"
    assert save_encoder(AudioCNN(EncoderConfig()), other) != version
    embedder = LearnedEmbedder(path)
    assert embedder.version == version and embedder.embed(_noise(5.0)).shape == (DIM,)


def test_missing_or_foreign_weights_are_clear_errors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    with pytest.raises(FileNotFoundError, match="no audio encoder weights"):
        load_encoder(tmp_path / "nothing.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ValueError, match="not a Moodtape audio encoder"):
        load_encoder(foreign)
    with pytest.raises(ValueError, match="unknown audio embedder"):
        load_audio_embedder(kind="nope")


def test_bench_encoder_cli_times_every_embedder(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from moodtape.bot.cli import main

    code = main(["bench", "encoder", "--seconds", "4", "--repeats", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["threads"] == 1 and data["clip_seconds"] == 4.0
    assert set(data["encoders"]) == {"handcrafted", "learned", "musicnn"}
    assert all(figures["median_ms"] > 0 for figures in data["encoders"].values())
    assert data["encoders"]["learned"]["version"].startswith("learned-v1-")
    assert data["encoders"]["musicnn"]["version"].startswith("musicnn-v1-")
