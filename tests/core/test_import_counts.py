"""Import reports at scale: a track repeated across import batches (500 playlists each) is counted once."""

from __future__ import annotations

from pathlib import Path

from moodtape.core.pipeline.importer import import_file
from moodtape.db.store import Store
from tests.core.cf.synthetic import write_mpd


def _playlist(pid: int) -> dict:
    tracks = [{"artist_name": "Band", "track_name": "Anthem", "track_uri": "spotify:track:anthem"},
              {"artist_name": "Band", "track_name": f"Song {pid % 7}", "track_uri": f"spotify:track:s{pid % 7}"}]
    if pid in (3, 560):  # the same recording under another URI, in the first and in the second batch
        tracks.append({"artist_name": "Band", "track_name": "Anthem (Remastered 2011)",
                       "track_uri": "spotify:track:anthem-remaster"})
    return {"pid": pid, "name": f"p{pid}", "tracks": tracks}


async def test_matches_are_counted_once_per_import(store: Store, tmp_path: Path) -> None:
    path = write_mpd(tmp_path / "big.json", [_playlist(pid) for pid in range(600)])
    first = await import_file(store, path)
    assert first.playlists_added == 600
    assert first.tracks_new == 8  # Anthem + Song 0..6
    assert first.tracks_matched == 1  # the remaster URI, although it appears in two batches
    pairs = await store.playlist_pairs()
    assert len(pairs) == 600 * 2 + 2
    again = await import_file(store, path)
    assert again.tracks_new == 0 and again.playlists_skipped == 600
    assert again.tracks_matched == 9  # every distinct URI of the file, once
