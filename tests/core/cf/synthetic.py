"""Invented playlists with an obvious right answer: two disjoint "genres" that never share a playlist.

Genre A songs are "Artist A<i> - Song A<i>", genre B likewise; every playlist draws its songs from one genre,
so a sound collaborative model must keep recommendations inside the seed's genre.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

GENRES = ("A", "B")


def song(genre: str, i: int) -> dict[str, str]:
    return {"artist_name": f"Artist {genre}{i}", "track_name": f"Song {genre}{i}",
            "track_uri": f"spotify:track:{genre.lower()}{i:03d}"}


def genre_playlists(per_genre: int = 30, songs: int = 10, size: int = 5, seed: int = 0, start_pid: int = 0
                    ) -> list[dict[str, Any]]:
    """MPD-style playlists: `per_genre` per genre, each `size` distinct songs of one genre."""
    rng = np.random.default_rng(seed)
    playlists = []
    pid = start_pid
    for _ in range(per_genre):
        for genre in GENRES:
            picks = rng.choice(songs, size=size, replace=False)
            playlists.append({"pid": pid, "name": f"{genre} mix {pid}", "num_tracks": size,
                              "tracks": [song(genre, int(i)) for i in picks]})
            pid += 1
    return playlists


def index_lists(per_genre: int = 30, songs: int = 10, size: int = 5, seed: int = 0) -> list[list[int]]:
    """The same playlists as item indices: genre A songs are 0..songs-1, genre B songs..2*songs-1."""
    out = []
    for playlist in genre_playlists(per_genre, songs, size, seed):
        out.append([(0 if t["track_uri"][14] == "a" else songs) + int(t["track_uri"][-3:])
                    for t in playlist["tracks"]])
    return out


def write_mpd(path: Path, playlists: list[dict[str, Any]]) -> Path:
    data = {"info": {"version": "synthetic test fixture"}, "playlists": playlists}
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(data, handle)
    else:
        path.write_text(json.dumps(data), encoding="utf-8")
    return path
