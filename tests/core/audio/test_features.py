"""The torch features match librosa's reference implementations."""

from __future__ import annotations

import librosa
import numpy as np
import torch

from moodtape.core.audio.decode import decode
from moodtape.core.audio.features import HOP, N_FFT, frame_features, log_mel, tempo_profile, to_tensor
from tests.conftest import AUDIO


def test_log_mel_matches_librosa() -> None:
    y = decode(AUDIO / "pad_a.wav").samples
    ours = log_mel(to_tensor(y), n_mels=64).numpy()
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=22050, n_fft=N_FFT, hop_length=HOP, n_mels=64, pad_mode="constant"),
        ref=1.0, top_db=80.0,
    )
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).mean() < 0.05


def test_mfcc_matches_librosa() -> None:
    y = decode(AUDIO / "beat_a.ogg").samples
    ours = frame_features(to_tensor(y)).mfcc.numpy()
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=N_FFT, hop_length=HOP, n_mels=128, pad_mode="constant")
    ref = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80.0), n_mfcc=20)
    n = min(ours.shape[1], ref.shape[1])
    assert np.abs(ours[:, :n] - ref[:, :n]).mean() < 0.05


def test_tempo_of_a_click_track() -> None:
    sr, bpm = 22050, 120.0
    y = np.zeros(sr * 8, dtype=np.float32)
    for start in range(0, y.size, int(sr * 60 / bpm)):
        y[start:start + 200] = np.hanning(200)
    onset = frame_features(to_tensor(y)).onset
    tempo, clarity, profile = tempo_profile(onset, sr / HOP)
    assert abs(tempo - bpm) / bpm < 0.05
    assert clarity > 0.3
    assert profile.shape == (8,)


def test_features_run_on_any_device_tensor() -> None:
    y = to_tensor(decode(AUDIO / "beat_b.mp3").samples, torch.device("cpu"))
    features = frame_features(y)
    assert features.chroma.shape[0] == 12 and features.contrast.shape[0] == 7
    assert torch.isfinite(features.mfcc).all()
