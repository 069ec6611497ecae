"""Audio encoder training on the synthetic fixtures: SSL + supervised steps, monitor, checkpoints, eval."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from moodtape.bot.cli import main
from moodtape.core.audio.encoder import LearnedEmbedder, load_encoder
from moodtape.training.audio import Trainer, TrainConfig, selection_score
from moodtape.training.audio_augment import AugmentConfig, augment, crop_batch, pitch_shift
from moodtape.training.audio_corpus import (
    CorpusTrack,
    MelCorpus,
    debian_tracks,
    folder_tracks,
    game_folds,
    groups_from_split,
    load_mels,
    merge_corpora,
    split_groups,
    validation_groups,
)
from moodtape.training.audio_losses import group_contrastive, nt_xent, spread
from moodtape.training.eval_audio import probe_scores
from tests.conftest import AUDIO

STYLES = [("pad_a.wav", "pad"), ("pad_a.ogg", "pad"), ("pad_b.mp3", "pad"), ("beat_a.ogg", "beat"),
          ("beat_b.mp3", "beat")]


def _labels(folder: Path, rows: list[tuple[str, str]], name: str = "style.csv") -> Path:
    path = folder / name
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> MelCorpus:
    folder = tmp_path_factory.mktemp("corpus")
    for name, _ in STYLES:
        shutil.copyfile(AUDIO / name, folder / name)
    tracks = folder_tracks(folder, _labels(folder, STYLES), "file", "label")
    # give two tracks listener emotions so the emotion head trains too
    tracks[0].emotions = np.linspace(-0.5, 0.5, 11).astype(np.float32)
    tracks[3].emotions = np.linspace(0.5, -0.5, 11).astype(np.float32)
    cache = folder / "cache"
    first = load_mels(tracks, TrainConfig().encoder, cache_dir=cache, workers=1)
    assert list(cache.glob("mels-*.npz")), "log-mels are cached on disk"
    again = load_mels(tracks, TrainConfig().encoder, cache_dir=cache, workers=1)
    assert np.array_equal(first.mels, again.mels) and np.array_equal(first.offsets, again.offsets)
    return first


def _config(**overrides: object) -> TrainConfig:
    values: dict[str, object] = {"steps": 3, "batch": 4, "steps_per_epoch": 3, "warmup": 1, "monitor_tracks": 8,
                                 "eval_windows": 2}
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_augmentations_change_crops_but_keep_shape_and_finiteness(corpus: MelCorpus) -> None:
    gen = torch.Generator().manual_seed(0)
    mels = [corpus.track_mel(i) for i in range(len(corpus.tracks))]
    crops = crop_batch(mels, 128, gen, AugmentConfig())
    assert crops.shape == (5, 64, 128)
    out = augment(crops, gen)
    assert out.shape == crops.shape and torch.isfinite(out).all() and not torch.allclose(out, crops)
    assert torch.allclose(pitch_shift(crops, torch.zeros(5)), crops, atol=1e-4)
    shifted = pitch_shift(crops, torch.full((5,), 2.0))
    # energy moves up in frequency: the band-weighted centre rises
    bands = torch.arange(64.0).view(1, 64, 1)
    power = lambda x: torch.pow(10.0, x / 10.0)  # noqa: E731
    centre = lambda x: (power(x) * bands).sum(dim=(1, 2)) / power(x).sum(dim=(1, 2))  # noqa: E731
    assert (centre(shifted) > centre(crops)).float().mean() >= 0.8
    short = [np.zeros((64, 40), dtype=np.float16)]
    assert crop_batch(short, 128, gen, AugmentConfig()).shape == (1, 64, 128)


def test_losses_and_collapse_monitor() -> None:
    a = torch.randn(8, 16)
    assert float(nt_xent(a, a + 0.01 * torch.randn(8, 16), 0.2)) < float(nt_xent(a, torch.randn(8, 16), 0.2))
    collapsed = torch.nn.functional.normalize(torch.ones(10, 128), dim=1)
    assert spread(collapsed)["dim_std"] == pytest.approx(0.0, abs=1e-6)
    assert spread(collapsed)["mean_cos"] == pytest.approx(1.0, abs=1e-5)
    spread_out = spread(torch.nn.functional.normalize(torch.randn(500, 128), dim=1))
    assert 0.07 < spread_out["dim_std"] < 0.1 and abs(spread_out["mean_cos"]) < 0.05


def test_a_few_steps_train_with_finite_losses_and_log_spread(corpus: MelCorpus) -> None:
    trainer = Trainer(corpus, [0, 1, 3, 4], [2], _config())
    assert trainer.tasks == {"style": ["beat", "pad"]}
    history = trainer.fit()
    assert len(history) == 1 and history[0]["step"] == 3
    losses = history[0]["loss"]
    assert all(np.isfinite(v) for v in losses.values())
    assert losses["ssl"] > 0 and losses["sup"] > 0 and losses["emotion"] > 0
    assert 0 < history[0]["spread"]["dim_std"] < 1 and -1 <= history[0]["spread"]["mean_cos"] <= 1


def test_checkpoint_round_trip_resumes_identically(corpus: MelCorpus, tmp_path: Path) -> None:
    first = Trainer(corpus, [0, 1, 3, 4], [], _config(steps=4))
    first.fit()
    path = tmp_path / "checkpoint.pt"
    first.save_checkpoint(path)
    second = Trainer(corpus, [0, 1, 3, 4], [], _config(steps=4))
    second.load_checkpoint(path)
    assert second.step == 4 and second.history == first.history
    x = torch.randn(2, 1, 64, 128)
    first.model.eval()
    second.model.eval()
    with torch.no_grad():
        assert torch.equal(first.model(x), second.model(x))
    # the sampler continues where it stopped: the next batches are the same
    assert np.array_equal(first.sample().index, second.sample().index)


def test_same_seed_same_model(corpus: MelCorpus) -> None:
    runs = []
    for _ in range(2):
        trainer = Trainer(corpus, [0, 1, 3, 4], [], _config(steps=2))
        trainer.fit()
        runs.append(trainer.model.state_dict()["embed.weight"].clone())
    assert torch.equal(runs[0], runs[1])


def test_split_is_by_group_and_seeded(corpus: MelCorpus) -> None:
    held = split_groups(corpus.tracks, holdout_share=0.3, seed=0)
    assert held and held == split_groups(corpus.tracks, holdout_share=0.3, seed=0)
    for track in corpus.tracks:
        same_group = [t for t in corpus.tracks if t.group == track.group]
        assert all((t.group in held) == (track.group in held) for t in same_group)


def test_probe_finds_a_linear_signal_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 16))
    y = np.stack([x[:, 0] + 0.3 * rng.standard_normal(120), rng.standard_normal(120)], axis=1)
    groups = [f"artist{i // 3}" for i in range(120)]
    rho = probe_scores(x, y, groups)
    assert rho[0] > 0.8 and abs(rho[1]) < 0.3


def test_train_cli_then_eval_both_encoders_and_probe(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "music"
    data.mkdir()
    rows = []
    for i in range(10):  # ten clips in two styles by five "artists", enough for a 5-fold grouped probe
        name, style = STYLES[i % len(STYLES)]
        target = f"{i:02d}_{name}"
        shutil.copyfile(AUDIO / name, data / target)
        rows.append((target, style))
    labels = _labels(data, rows)
    out = tmp_path / "run"
    code = main(["train", "audio", "--data", str(data), "--labels", str(labels), "--steps", "2", "--batch", "4",
                 "--device", "cpu", "--out", str(out), "--cache", str(tmp_path / "cache"), "--holdout-share", "0",
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["version"].startswith("learned-v1-")
    for name in ("encoder.safetensors", "checkpoint.pt", "MODEL_CARD.md", "training_curves.png", "summary.json"):
        assert (out / name).is_file(), name
    _, version = load_encoder(out / "encoder.safetensors")
    assert version == result["version"] == LearnedEmbedder(out / "encoder.safetensors").version
    assert "non-commercial" in (out / "MODEL_CARD.md").read_text()

    emotify = tmp_path / "emotify.csv"
    gems = ["amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power", "joyful_activation",
            "tension", "sadness"]
    with open(emotify, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "artist", *gems])
        for i, (name, style) in enumerate(rows):
            level = 0.8 if style == "beat" else 0.1
            shares = [level if g in ("power", "tension") else 0.9 - level for g in gems]
            writer.writerow([name, f"a{i // 2}", *shares])
    code = main(["eval", "audio", "--data", str(data), "--labels", str(labels), "--encoder",
                 str(out / "encoder.safetensors"), "--cache", str(tmp_path / "eval-cache"),
                 "--probe-emotify", str(data), "--probe-csv", str(emotify), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["n"] == 10 and set(report["encoders"]) == {"handcrafted", "learned", "musicnn"}
    for scores in report["encoders"].values():
        assert set(scores) == {"p@5", "p@10"} and 0 <= scores["p@5"] <= 1
    assert report["versions"]["learned"] == version
    probe = report["probe"]
    assert probe["n"] == 10 and set(probe["spearman"]) == {"handcrafted", "learned", "musicnn"}
    assert set(probe["spearman"]["learned"]) == {"valence", "arousal"}


def test_eval_with_missing_encoder_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    labels = _labels(tmp_path, [(str(AUDIO / n), s) for n, s in STYLES])
    code = main(["eval", "audio", "--data", "/", "--labels", str(labels), "--encoder",
                 str(tmp_path / "none.safetensors"), "--json"])
    assert code != 0
    assert "no audio encoder weights" in capsys.readouterr().err


def test_group_loss_pulls_a_group_together() -> None:
    groups = ["a", "a", "b", "b", "c", "c"]
    base = torch.nn.functional.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    together = torch.nn.functional.normalize(base.repeat_interleave(2, dim=0) + 0.05 * torch.randn(6, 16), dim=1)
    apart = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    assert float(group_contrastive(together, groups, 0.1)) < float(group_contrastive(apart, groups, 0.1))
    # no anchor has a positive: nothing to learn, and no NaN
    assert float(group_contrastive(apart, ["a", "b", "c", "d", "e", "f"], 0.1)) == 0.0


def test_group_batches_come_in_pairs_of_one_group(corpus: MelCorpus) -> None:
    trainer = Trainer(corpus, [0, 1, 3, 4], [], _config(group_weight=0.5, batch=4))
    for _ in range(5):
        index = trainer.sample_index()
        assert len(index) == len(set(index.tolist())) == 4
        groups = [corpus.tracks[int(i)].group for i in index]
        assert sorted(groups.count(g) for g in groups) == [2, 2, 2, 2]  # two "pad" and two "beat" tracks, paired
    history = trainer.fit()
    assert history[-1]["loss"]["group"] > 0 and np.isfinite(history[-1]["loss"]["total"])


def _track(source: str, group: str, track_id: str = "") -> CorpusTrack:
    return CorpusTrack(Path(f"/{group}/{track_id}.ogg"), source, group, {}, row={"track_id": track_id})


def test_validation_is_carved_from_training_groups_only_and_has_two_groups_per_source() -> None:
    tracks = [_track("debian", f"game{g}", f"{g}-{k}") for g in range(6) for k in range(5 + 10 * (g == 0))]
    tracks += [_track("emotify", f"emotify:artist{a}", str(100 + 3 * a + k)) for a in range(30) for k in range(3)]
    tracks += [_track("folder", "scores:bach", str(500 + k)) for k in range(5)]
    held = {"game1", "emotify:artist0", "emotify:artist1"}
    training = {t.group for t in tracks} - held
    val = validation_groups(tracks, training, share=0.2, seed=0)
    assert val and not val & held and val <= training
    assert len({g for g in val if g.startswith("game")}) >= 2
    assert any(g.startswith("emotify:") for g in val)
    assert "scores:bach" not in val  # rendered scores only ever train
    assert val == validation_groups(tracks, training, share=0.2, seed=0)
    assert validation_groups(tracks, training, share=0.0, seed=0) == set()


def test_split_json_reproduces_the_held_out_music() -> None:
    tracks = [_track("debian", "game1", "a"), _track("debian", "game2", "b"), _track("debian", "game3", "c")]
    tracks += [_track("emotify", "emotify:x", "7"), _track("emotify", "emotify:x", "8"),
               _track("emotify", "emotify:y", "9")]
    split = {"debian_games": ["game2", "not-fetched-here"], "emotify_track_ids": [7], "other_groups": []}
    assert groups_from_split(tracks, split) == {"game2", "not-fetched-here", "emotify:x"}


def test_game_folds_hold_out_every_sizeable_game_once_in_balanced_folds() -> None:
    sizes = {"big": 50, "large": 40, "mid1": 30, "mid2": 25, "small1": 12, "small2": 10, "tiny": 3}
    tracks = [_track("debian", game, f"{game}-{k}") for game, n in sizes.items() for k in range(n)]
    tracks += [_track("emotify", "emotify:a", "1")]
    folds = game_folds(tracks, 2)
    assert folds == [["big", "mid2", "small1"], ["large", "mid1", "small2"]]  # snake order by size
    assert game_folds(tracks, 2) == folds  # no randomness to fix
    assert "tiny" not in {g for fold in folds for g in fold}  # too small to measure: always trains
    assert abs(sum(sizes[g] for g in folds[0]) - sum(sizes[g] for g in folds[1])) <= 10
    with pytest.raises(ValueError, match="too few"):
        game_folds(tracks, 4)
    with pytest.raises(ValueError):
        game_folds(tracks, 1)


def test_merged_corpora_keep_each_tracks_frames() -> None:
    first = MelCorpus([_track("debian", "g", "1"), _track("debian", "g", "2")],
                      np.arange(10, dtype=np.float16).reshape(1, 10).repeat(2, 0), np.asarray([0, 4, 10]))
    second = MelCorpus([_track("emotify", "e", "3")], np.full((2, 3), 7, dtype=np.float16), np.asarray([0, 3]))
    merged = merge_corpora([first, second])
    assert len(merged.tracks) == 3 and merged.lengths().tolist() == [4, 6, 3]
    assert np.array_equal(merged.track_mel(1), first.track_mel(1))
    assert np.array_equal(merged.track_mel(2), second.track_mel(0))


def test_the_best_validation_epoch_is_exported_not_the_last(corpus: MelCorpus) -> None:
    trainer = Trainer(corpus, [0, 3], [], _config(steps=6, steps_per_epoch=2, lr=0.05), val_idx=[1, 2, 4])
    history = trainer.fit()
    assert len(history) == 3 and all("val_score" in h and "style" in h["val"] for h in history)
    best = max(history, key=lambda h: h["val_score"])  # the first of equals wins, as in the trainer
    assert [h["step"] for h in history if h.get("best")][-1] == best["step"]
    model, step = trainer.export_model()
    assert step == best["step"]
    expected = trainer.best["model"]["embed.weight"]  # type: ignore[index]
    assert torch.equal(model.state_dict()["embed.weight"], expected)
    if step != trainer.step:
        assert not torch.equal(expected, trainer.model.state_dict()["embed.weight"])
    assert selection_score({"a": {"p@5": 1.0, "chance": 0.5}, "b": {"p@5": 0.5, "chance": 0.5}}) == 0.5


def test_train_cli_reuses_an_earlier_split(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "music"
    data.mkdir()
    rows = []
    for i in range(6):
        name, style = STYLES[i % len(STYLES)]
        shutil.copyfile(AUDIO / name, data / f"{i:02d}_{name}")
        rows.append((f"{i:02d}_{name}", style))
    labels = _labels(data, rows)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"debian_games": [], "emotify_track_ids": [], "other_groups": ["style:beat"]}))
    out = tmp_path / "run"
    code = main(["train", "audio", "--data", str(data), "--labels", str(labels), "--steps", "1", "--batch", "4",
                 "--device", "cpu", "--out", str(out), "--cache", str(tmp_path / "cache"), "--holdout-from",
                 str(split), "--val-share", "0.2", "--augment", "production", "--group-weight", "0.5", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["data"]["folder"]["heldout"] == 2 and result["data"]["folder"]["train"] == 4  # the two beats
    assert json.loads((out / "split.json").read_text())["other_groups"] == ["style:beat"]
    assert result["exported_step"] == 1  # no validation groups among rendered/other folders: the last step

    with open(out / "heldout_folder.csv", newline="") as handle:
        held_rows = list(csv.DictReader(handle))
    assert {Path(r["abs_path"]) for r in held_rows} == {(data / r["file"]).resolve() for r in held_rows}

    code = main(["train", "audio", "--data", str(data), "--labels", str(labels), "--out", str(tmp_path / "r2"),
                 "--holdout-from", str(tmp_path / "missing.json")])
    assert code != 0 and "missing.json" in capsys.readouterr().err
    for bad in ("3", "3/3", "0/1", "a/b"):
        code = main(["train", "audio", "--data", str(data), "--labels", str(labels), "--fold", bad])
        assert code != 0 and "--fold" in capsys.readouterr().err
    code = main(["train", "audio", "--data", str(data), "--labels", str(labels), "--fold", "0/2",
                 "--holdout-from", str(split)])
    assert code != 0 and "leave out" in capsys.readouterr().err


def test_train_cli_fold_holds_out_that_folds_games(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--fold 1/2` on a Debian-style folder: exactly fold 1's games are held out, with absolute paths."""
    music = tmp_path / "debian"
    sizes = {"alpha-music": 9, "beta-data": 8, "gamma-data": 8, "delta-music": 8, "tiny-data": 2}
    rows = []
    for game, n in sizes.items():
        (music / "tracks" / game).mkdir(parents=True)
        for k in range(n):
            name, _ = STYLES[(k + len(game)) % len(STYLES)]
            path = f"tracks/{game}/{k:02d}{Path(name).suffix}"
            shutil.copyfile(AUDIO / name, music / path)
            rows.append({"track_id": f"{game}:{k}", "package": game, "path": path, "title": f"t{k}"})
    with open(music / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "run"
    code = main(["train", "audio", "--debian", str(music), "--fold", "1/2", "--steps", "1", "--batch", "4",
                 "--device", "cpu", "--out", str(out), "--cache", str(tmp_path / "cache"), "--workers", "1",
                 "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    expected = game_folds(debian_tracks(music), 2)[1]
    split = json.loads((out / "split.json").read_text())
    assert split["debian_games"] == sorted(expected) and split["fold"] == [1, 2]
    assert "tiny-data" not in split["debian_games"]
    with open(out / "heldout_debian.csv", newline="") as handle:
        held = list(csv.DictReader(handle))
    assert {r["package"] for r in held} == set(expected)
    assert all(Path(r["abs_path"]).is_absolute() and Path(r["abs_path"]).is_file() for r in held)
    assert result["data"]["debian"]["heldout"] == sum(sizes[g] for g in expected)
