"""Build the bundled demo catalogue (core/data/demo_catalogue.json) from freely licensed Debian game music.

Input: the folder written by `../shared/scripts/fetch-debian-music.sh OUTDIR` (its manifest.csv lists
title, artist, album = package, licence per file).  Output: metadata and vectors, no audio, made with the
engine's current embedders, so the file must be rebuilt whenever an embedder's version changes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from moodtape.core.audio.decode import AudioError
from moodtape.core.config import Settings
from moodtape.core.pipeline.embedding import TrackEmbedder
from moodtape.core.text import match_key
from moodtape.training.audio_data import debian_manifest

#: Debian package -> the game its music belongs to (what a person would call the album).
GAMES = {
    "wesnoth-1.16-music": "The Battle for Wesnoth", "supertux-data": "SuperTux",
    "supertuxkart-data": "SuperTuxKart", "hedgewars-data": "Hedgewars", "widelands-data": "Widelands",
    "warzone2100-music": "Warzone 2100", "freedroidrpg-data": "FreedroidRPG", "0ad-data": "0 A.D.",
}


def _round(values: Any, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in values]


def build(music_dir: Path, out: Path, *, workers: int = 2, limit: int | None = None) -> dict[str, Any]:
    rows = debian_manifest(music_dir)
    rows.sort(key=lambda r: r["track_id"])
    if limit:
        rows = rows[:limit]
    embedder = TrackEmbedder(Settings(analysis_s=120.0))

    def one(row: dict[str, str]) -> dict[str, Any] | None:
        try:
            vectors = embedder.embed_file(music_dir / row["path"])
        except AudioError as exc:
            tqdm.write(f"skipped {row['path']}: {exc.reason}", file=sys.stderr)
            return None
        artist = row.get("artist") or row.get("composer") or None
        return {
            "title": row["title"], "artist": artist, "album": GAMES.get(row["package"], row["package"]),
            "duration_s": round(vectors.duration_s, 2), "licence": row["license"],
            "source": f"https://packages.debian.org/{row['package']}",
            "external_id": f"debian:{row['package']}:{row['source_path']}",
            "match_key": match_key(artist, row["title"]),
            "vectors": {"audio": _round(vectors.audio), "mood": _round(vectors.mood, 4)},
            "mood_details": vectors.mood_details,
        }

    with ThreadPoolExecutor(max_workers=workers) as pool:
        tracks = [t for t in tqdm(pool.map(one, rows), total=len(rows), desc="demo catalogue", unit="track") if t]
    versions = embedder.versions
    digest = hashlib.sha256(json.dumps([versions, [t["external_id"] for t in tracks]]).encode()).hexdigest()[:10]
    data = {
        "version": f"demo-{digest}",
        "description": "Freely licensed game music from Debian packages; metadata and vectors only.",
        "versions": versions,
        "tracks": tracks,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return {"tracks": len(tracks), "out": str(out), "version": data["version"], "versions": versions}
