"""The musicnn port with the shipped weights: recorded scores on a committed clip, the API, the input features.

tests/fixtures/musicnn/expected.json was recorded once by make_fixture.py, after the port had reproduced
musicnn's published MTT top-10 tags on the reference recording (named there); the weights are float16, so
scores are compared to 2e-3 and the order of the tags only where neighbours differ by more than that.
"""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from moodtape.core.audio.musicnn import (
    LAYERS,
    MODELS,
    Musicnn,
    MusicnnError,
    log_mel,
    patch_starts,
    patches,
)
from moodtape.core.audio.musicnn_layers import BatchNorm, _pooled_bn

FIXTURE = Path(__file__).parents[1] / "fixtures" / "musicnn"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
SCORE_TOLERANCE = 2e-3


@pytest.fixture(scope="module", params=MODELS)
def analysed(request: pytest.FixtureRequest):
    return Musicnn.load(request.param).analyse_file(FIXTURE / "techno.flac")


def test_scores_on_the_fixture_match_the_recorded_ones(analysed) -> None:
    want = EXPECTED["models"][analysed.model]
    got = analysed.tag_scores()
    assert analysed.taggram.shape == (want["patches"], 50)
    assert set(got) == set(want["tag_scores"])
    for tag, score in want["tag_scores"].items():
        assert got[tag] == pytest.approx(score, abs=SCORE_TOLERANCE), tag
    # the ranking, wherever the recorded neighbours are further apart than the tolerance
    ranked = list(want["tag_scores"].items())
    cut = next(i for i in range(1, len(ranked)) if ranked[i - 1][1] - ranked[i][1] < 2 * SCORE_TOLERANCE)
    assert analysed.top_tags(cut) == [tag for tag, _ in ranked[:cut]]
    np.testing.assert_allclose(analysed.embedding("penultimate"), want["penultimate"], atol=1e-2)


def test_the_tagger_hears_synthetic_techno_as_electronic_dance_music(analysed) -> None:
    top = analysed.top_tags(5)
    if analysed.model == "MTT_musicnn":
        assert top[:2] == ["techno", "electronic"] and {"beat", "fast"} <= set(top)
        assert analysed.tag_scores()["classical"] < 0.01
    else:
        assert top[0] == "electronic" and "dance" in top


def test_layers_have_the_documented_sizes_and_tags_are_complete(analysed) -> None:
    assert {layer: analysed.embedding(layer).shape for layer in LAYERS} == {
        "taggram": (50,),
        "penultimate": (200,),
        "pooled": (1506,),
    }
    assert len(analysed.tags) == 50 == len(set(analysed.tags))
    scores = list(analysed.tag_scores().values())
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert len(analysed.top_tags(3)) == 3
    np.testing.assert_allclose(analysed.embedding("taggram"), analysed.taggram.mean(axis=0))
    with pytest.raises(MusicnnError, match="unknown musicnn layer"):
        analysed.embedding("logits")


def test_unknown_models_and_missing_weights_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MusicnnError, match="unknown musicnn model"):
        Musicnn.load("MTT_vgg")
    with pytest.raises(MusicnnError, match="import-musicnn"):
        Musicnn.load("MTT_musicnn", folder=tmp_path)
    (tmp_path / "musicnn.json").write_text(
        json.dumps({"models": {"MTT_musicnn": {"file": "x.safetensors", "tags": ["a"]}}})
    )
    (tmp_path / "x.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(MusicnnError, match="cannot read musicnn weights"):
        Musicnn.load("MTT_musicnn", folder=tmp_path)


def test_short_clips_are_repeated_to_one_patch_and_long_ones_can_be_bounded() -> None:
    model = Musicnn.load("MTT_musicnn")
    wave = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32) * 0.3  # 1 s
    short = model.analyse(wave)
    tiled = model.analyse(np.tile(wave, 4)[: 186 * 256])  # ~3 s of the same tone
    assert short.taggram.shape == (1, 50) and np.all(np.isfinite(short.pooled))
    # the spectrogram is repeated (as musicnn was trained), so it hears what 3 s of the same tone give
    assert short.top_tags(1) == tiled.top_tags(1)
    assert np.abs(short.taggram - tiled.taggram).max() < 0.05
    assert patch_starts(1875) == list(range(0, 1875 - 186, 187))  # 30 s: 10 patches, as musicnn's extractor
    assert patch_starts(1875, max_patches=3) == [0, 187 * 4, 187 * 9]  # first, middle, last
    assert patches(torch.zeros(1875, 96), max_patches=3).shape == (3, 187, 96)
    with pytest.raises(MusicnnError):
        patch_starts(1875, max_patches=0)


def test_log_mel_is_librosas_float16_log_compression_without_overflow() -> None:
    t = np.arange(3 * 16000) / 16000
    wave = (0.99 * np.sin(2 * np.pi * 150 * t) + 0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32) / 1.3
    mel = librosa.feature.melspectrogram(
        y=wave, sr=16000, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect"
    ).T
    assert mel.max() > 100  # loud enough that log10(10000 x + 1) in float16 would overflow
    want = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
    got = log_mel(wave).numpy()
    assert got.shape == want.shape == (1 + len(wave) // 256, 96)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_pooling_before_the_norm_equals_norm_then_pooling_for_negative_scales_too() -> None:
    torch.manual_seed(0)
    bn = BatchNorm(6)
    bn.weight.copy_(torch.tensor([1.0, -1.0, 0.5, -0.2, 0.0, 2.0]))
    bn.bias.normal_()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2)
    conv = torch.randn(2, 6, 11, 9)
    naive = bn(torch.relu(conv)).amax(dim=-1)
    torch.testing.assert_close(_pooled_bn(conv, bn), naive)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_results() -> None:
    wave = librosa.tone(440, sr=16000, duration=7.0).astype(np.float32) * 0.5
    cpu = Musicnn.load("MTT_musicnn").analyse(wave)
    gpu = Musicnn.load("MTT_musicnn", device="cuda").analyse(wave)
    np.testing.assert_allclose(gpu.taggram, cpu.taggram, atol=1e-3)
    np.testing.assert_allclose(gpu.penultimate, cpu.penultimate, atol=1e-2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(MusicnnError, match="no CUDA device"):
        Musicnn.load("MTT_musicnn", device="cuda")
