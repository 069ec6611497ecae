"""`moodtape train audio --init musicnn`: the SiamRec-style head on the frozen musicnn (training/musicnn_head.py)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from moodtape.bot.cli import main
from moodtape.core.audio.musicnn import log_mel
from moodtape.core.mood.space import GEMS
from moodtape.training.audio_augment import AUGMENT_PRESETS
from moodtape.training.musicnn_head import (
    augmented_views,
    from_db,
    musicnn_config,
    to_db,
    train_head,
    verdict,
)

SR = 16000


def _clip(kind: int, seed: int) -> np.ndarray:
    """3.5 s of one of two kinds of sound: a low tone chord or bright noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(3.5 * SR)) / SR
    if kind == 0:
        base = 110.0 * (1 + 0.1 * rng.random())
        wave = sum(np.sin(2 * np.pi * base * m * t) / m for m in (1, 1.5, 2))
    else:
        wave = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * (2 + rng.random()) * t) > 0)
    return (0.2 * wave / np.abs(wave).max()).astype(np.float32)


def _corpus(root: Path) -> tuple[Path, Path, Path]:
    """An Emotify-shaped folder (2 genres, 6 artists), a Debian-shaped one (3 games) and a split holding out
    4 artists and 2 games."""
    emotify, debian = root / "emotify", root / "debian"
    (emotify / "clips").mkdir(parents=True)
    with open(emotify / "tracks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "genre", "file", "artist", *GEMS])
        for i in range(12):
            kind = i % 2
            sf.write(emotify / "clips" / f"{i}.wav", _clip(kind, i), SR)
            writer.writerow([i, ["tones", "noise"][kind], f"clips/{i}.wav", f"artist{i // 2 % 6}",
                             *[round(0.1 * ((i + j) % 5), 2) for j in range(len(GEMS))]])
    (debian / "tracks").mkdir(parents=True)
    with open(debian / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "package", "path"])
        for g, game in enumerate(["game-a", "game-b", "game-c"]):
            for i in range(4):
                path = f"tracks/{game}/{i}.wav"
                (debian / "tracks" / game).mkdir(exist_ok=True)
                sf.write(debian / path, _clip(g % 2, 100 + 10 * g + i) * (1 + g), SR)
                writer.writerow([f"{game}:{i}", game, path])
    split = root / "split.json"
    split.write_text(json.dumps({"debian_games": ["game-b", "game-c"],
                                 "emotify_track_ids": [0, 1, 2, 3, 4, 5, 6, 7]}))
    return emotify, debian, split


def test_train_audio_init_musicnn_trains_writes_the_head_and_reports_both_test_sets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emotify, debian, split = _corpus(tmp_path)
    out, cache = tmp_path / "head", tmp_path / "cache"
    argv = ["train", "audio", "--init", "musicnn", "--emotify", str(emotify), "--debian", str(debian),
            "--holdout-from", str(split), "--cache", str(cache), "--out", str(out), "--steps", "2",
            "--batch", "4", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert sorted(p.name for p in out.iterdir()) == ["musicnn_head.json", "musicnn_head.safetensors"]
    assert report["tracks"] == {"train": 8, "dev": 0, "test": 16}
    for source, n in (("emotify_genre", 8), ("debian_game", 8)):
        numbers = report["test"][source]
        assert numbers["n"] == n and 0.0 <= numbers["frozen"] <= 1.0 and 0.0 <= numbers["head"] <= 1.0
    assert re.fullmatch(r"ships: (yes|no) \(test p@5 frozen \d\.\d{3} vs head \d\.\d{3}\)", report["verdict"])
    assert report["verdict"] in captured.err
    card = json.loads((out / "musicnn_head.json").read_text())
    assert card["layers"] == [400, 256, 128] and card["test"] == report["test"]
    first = (out / "musicnn_head.safetensors").read_bytes()

    # a rerun reads the cached features and, being seeded, trains the very same head
    assert list(cache.glob("*.npz")) and main(argv) == 0
    assert json.loads(capsys.readouterr().out)["test"] == report["test"]
    assert (out / "musicnn_head.safetensors").read_bytes() == first


def test_init_musicnn_without_held_out_music_is_a_clear_error(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    emotify, _, _ = _corpus(tmp_path)
    split = tmp_path / "other.json"
    split.write_text(json.dumps({"debian_games": ["elsewhere"], "emotify_track_ids": [999]}))
    code = main(["train", "audio", "--init", "musicnn", "--emotify", str(emotify), "--holdout-from", str(split),
                 "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "head")])
    assert code != 0
    assert "nothing to test on" in capsys.readouterr().err
    assert not (tmp_path / "head").exists()


def test_head_loss_decreases_on_a_toy_problem() -> None:
    """Pools are noisy copies of one point per 'track': the head must learn to pull them together."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 400))
    pools = [c + 1.5 * rng.standard_normal((8, 400)) for c in centres]
    _, losses = train_head(pools, steps=150, batch=32, lr=1e-3, seed=0)
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])


def test_augmented_views_are_musicnn_patches_that_differ_from_each_other() -> None:
    gen = torch.Generator().manual_seed(0)
    mel = log_mel(np.concatenate([_clip(0, 0), _clip(1, 1)]))
    assert torch.allclose(from_db(to_db(mel)), mel)
    views = augmented_views(mel, 4, gen, musicnn_config(AUGMENT_PRESETS["full"]))
    assert views.shape == (4, 187, 96) and bool(torch.isfinite(views).all()) and float(views.min()) >= 0.0
    assert not torch.allclose(views[0], views[1])


def test_a_win_inside_the_noise_does_not_ship() -> None:
    test = {"emotify_genre": {"diff": 0.02}, "debian_game": {"diff": 0.01},
            "pooled": {"n": 200, "diff": 0.015, "diff_se": 0.01}}
    assert not verdict(test)
    test["pooled"]["diff_se"] = 0.005
    assert verdict(test)
    test["debian_game"]["diff"] = -0.01
    assert not verdict(test)
