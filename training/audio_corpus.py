"""The audio encoder's training corpus: labelled tracks from several sources, their log-mels computed once.

Log-mels are the expensive part of a training step on a CPU only if they are recomputed; here every track is
decoded and transformed once (in parallel), stored as one float16 matrix plus offsets in a cache folder
outside the repository, and training crops windows from memory.  Augmentations then act on the log-mels
(training/audio_augment.py), which is what makes many epochs affordable on two cores.

Held-out splits are by group (a Debian game, an Emotify artist), never by clip: a model that saw other
tracks of an album would be measured on how well it remembers that album, not on music it never heard.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtape.core.audio.encoder import EncoderConfig, encoder_input
from moodtape.core.errors import UserError
from moodtape.training.audio_data import debian_manifest, decode_each, emotify_rows, read_labels
from moodtape.training.npz_cache import files_key, load_arrays, save_arrays

#: Emotify's nine GEMS columns and the valence/arousal targets derived from them (training/song_mood.py).
EMOTION_OUTPUTS = 11


@dataclass
class CorpusTrack:
    path: Path
    source: str  # "debian", "emotify", "folder"
    group: str  # the unit of the held-out split (game, artist, album)
    labels: dict[str, str] = field(default_factory=dict)  # task name -> class name
    emotions: np.ndarray | None = None  # (11,) valence, arousal, 9 GEMS shares
    row: dict[str, str] = field(default_factory=dict)  # the source CSV's row, for writing split CSVs


def debian_tracks(music_dir: Path) -> list[CorpusTrack]:
    """Tracks of `fetch-debian-music.sh`'s OUTDIR; the label and the group are the game (Debian package)."""
    rows = debian_manifest(music_dir)
    rows.sort(key=lambda r: r["path"])
    return [CorpusTrack(music_dir / r["path"], "debian", r["package"], {"game": r["package"]}, row=r)
            for r in rows]


def emotify_tracks(data_dir: Path) -> list[CorpusTrack]:
    """Emotify clips: genre label, listener emotions as regression targets, grouped by artist."""
    from moodtape.core.mood.space import GEMS
    from moodtape.core.mood.space import gems_to_va

    rows = emotify_rows(data_dir)
    rows.sort(key=lambda r: int(r["track_id"]))
    out = []
    for row in rows:
        gems = np.asarray([[float(row[name]) for name in GEMS]])
        emotions = np.concatenate([gems_to_va(gems)[0], gems[0]]).astype(np.float32)
        out.append(CorpusTrack(data_dir / row["file"], "emotify", f"emotify:{row['artist']}",
                               {"genre": row["genre"]}, emotions, row))
    return out


def folder_tracks(data_dir: Path, labels_csv: Path, file_column: str, label_column: str) -> list[CorpusTrack]:
    """Any labelled folder (e.g. rendered MIDI with composer labels); the label is also the group."""
    return [CorpusTrack(f.path, "folder", f"{labels_csv.stem}:{f.label}", {labels_csv.stem: f.label}, row=f.row)
            for f in read_labels(data_dir, labels_csv, file_column=file_column, label_column=label_column)]


@dataclass
class MelCorpus:
    """Log-mels of every track that decoded: `mels[:, offsets[i]:offsets[i + 1]]` is track i."""

    tracks: list[CorpusTrack]
    mels: np.ndarray  # (n_mels, total frames) float16
    offsets: np.ndarray  # (n + 1,)

    def track_mel(self, i: int) -> np.ndarray:
        return self.mels[:, self.offsets[i]:self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def merge_corpora(parts: list[MelCorpus]) -> MelCorpus:
    """One corpus from several (each source's log-mels are cached separately)."""
    if len(parts) == 1:
        return parts[0]
    offsets, total = [np.zeros(1, dtype=np.int64)], 0
    for part in parts:
        offsets.append(part.offsets[1:] + total)
        total += int(part.offsets[-1])
    return MelCorpus([t for p in parts for t in p.tracks], np.concatenate([p.mels for p in parts], axis=1),
                     np.concatenate(offsets))


def _log_mel(config: EncoderConfig, samples: np.ndarray) -> np.ndarray:
    return encoder_input(samples, config).numpy().astype(np.float16)


def load_mels(tracks: list[CorpusTrack], config: EncoderConfig, *, cache_dir: Path | None,
              window_s: float = 300.0, workers: int | None = None) -> MelCorpus:
    """Log-mels of up to `window_s` seconds from the middle of each track, cached by file stats + config."""
    paths = [t.path for t in tracks]
    cache_file = (cache_dir / f"mels-{files_key(paths, repr((config, window_s)))}.npz"
                  if cache_dir is not None else None)
    cached = load_arrays(cache_file)
    if cached is not None:
        return MelCorpus([tracks[i] for i in cached["index"].tolist()], cached["mels"], cached["offsets"])
    parts, kept = decode_each(paths, functools.partial(_log_mel, config), window_s=window_s, workers=workers,
                              desc="log-mels")
    if not parts:
        raise UserError("no track could be decoded")
    offsets = np.concatenate([[0], np.cumsum([p.shape[1] for p in parts])]).astype(np.int64)
    mels = np.concatenate(parts, axis=1)
    save_arrays(cache_file, mels=mels, offsets=offsets, index=np.asarray(kept))
    return MelCorpus([tracks[i] for i in kept], mels, offsets)


def groups_from_split(tracks: list[CorpusTrack], split: dict) -> set[str]:
    """The held-out groups of an earlier run's `split.json`, so a new run is measured on the same music.

    Emotify is listed by track id; every artist of a listed clip is held out, which is how the split was
    drawn.  A listed Debian game or other group that is not in `tracks` is simply absent.
    """
    held = set(split.get("debian_games", [])) | set(split.get("other_groups", []))
    ids = {str(i) for i in split.get("emotify_track_ids", [])}
    held |= {t.group for t in tracks if t.source == "emotify" and t.row.get("track_id") in ids}
    return held


def validation_groups(tracks: list[CorpusTrack], candidates: set[str], *, share: float, seed: int,
                      sources: tuple[str, ...] = ("debian", "emotify")) -> set[str]:
    """A seeded `share` of each source's training groups, kept out of training to pick the checkpoint by.

    Choosing the exported step on the test split would make its numbers optimistic; this split is carved
    from the training groups only, by group like the test split, and only from the `sources` that the test
    split measures (rendered scores stay all in training).  Each source gets at least two validation groups
    (when it has four or more), since same-label precision among one group's tracks says nothing.
    """
    if share <= 0:
        return set()
    pool = [t for t in tracks if t.group in candidates and t.source in sources]
    chosen = split_groups(pool, holdout_share=share, seed=seed + 7919)
    rng = np.random.default_rng(seed + 7919)
    for source in sorted({t.source for t in pool}):
        groups = sorted({t.group for t in pool if t.source == source})
        rest = [g for g in groups if g not in chosen]
        # precision among validation tracks needs two groups of a source; keep most groups for training
        while len(groups) - len(rest) < min(2, len(groups) // 2) and rest:
            chosen.add(rest.pop(int(rng.integers(len(rest)))))
    return chosen


def game_folds(tracks: list[CorpusTrack], k: int, *, min_tracks: int = 8) -> list[list[str]]:
    """The Debian games split into `k` folds for cross-validation by game, each game in exactly one fold.

    One held-out split of three games measures three games: whether the learned encoder wins there says
    as much about those games as about the encoder.  Cross-validation holds out every game once.  Games are
    dealt by size in snake order (largest to fold 0, 1, ..., k-1, then back), so the folds have similar
    numbers of tracks; the order does not depend on any result.  Games with fewer than `min_tracks` tracks
    are never held out (precision@5 among a game's 2 or 3 tracks is mostly noise); they always train.
    """
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    counts: dict[str, int] = {}
    for track in tracks:
        if track.source == "debian":
            counts[track.group] = counts.get(track.group, 0) + 1
    eligible = sorted((g for g, n in counts.items() if n >= min_tracks), key=lambda g: (-counts[g], g))
    if len(eligible) < 2 * k:
        raise ValueError(f"{len(eligible)} games with at least {min_tracks} tracks: too few for {k} folds "
                         "(each fold needs two games to measure anything)")
    folds: list[list[str]] = [[] for _ in range(k)]
    for position, game in enumerate(eligible):
        rnd, offset = divmod(position, k)
        folds[offset if rnd % 2 == 0 else k - 1 - offset].append(game)
    return folds


def split_groups(tracks: list[CorpusTrack], *, holdout_share: float, seed: int,
                 fixed: dict[str, list[str]] | None = None) -> set[str]:
    """Held-out groups, per source: a seeded share of each source's groups (by track count), or `fixed`.

    Emotify is split within each genre so every genre has held-out music to be measured on.
    """
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    strata: dict[tuple[str, str], dict[str, int]] = {}
    for track in tracks:
        stratum = track.labels.get("genre", "") if track.source == "emotify" else ""
        counts = strata.setdefault((track.source, stratum), {})
        counts[track.group] = counts.get(track.group, 0) + 1
    for (source, _), counts in sorted(strata.items()):
        if fixed and source in fixed:
            held.update(g for g in counts if g in set(fixed[source]))
            continue
        groups = sorted(counts)
        order = [groups[i] for i in rng.permutation(len(groups))]
        total, taken = sum(counts.values()), 0
        for group in order:
            if taken >= holdout_share * total:
                break
            held.add(group)
            taken += counts[group]
    return held
