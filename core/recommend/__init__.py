"""Recommendations: songs like a song (`similar` finds tracks and compares sound, `hybrid` blends sound with
playlists), songs for a mood (`mood_match`), songs to continue a playlist (`continuation`).

Each takes a `Store` and returns `RecommendedTrack`s with a reason; choosing the store (the user's database
or the demo) and shaping the answer is the `Engine`'s job.
"""

from moodtape.core.recommend.continuation import MAX_K, ContinueResult, continue_playlist
from moodtape.core.recommend.hybrid import has_own_music, similar_to_audio, similar_tracks
from moodtape.core.recommend.mood_match import songs_for_mood
from moodtape.core.recommend.similar import find_track

__all__ = [
    "MAX_K",
    "ContinueResult",
    "continue_playlist",
    "find_track",
    "has_own_music",
    "similar_to_audio",
    "similar_tracks",
    "songs_for_mood",
]
