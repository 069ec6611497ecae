"""The shipped audio mood model gives every track a plausible point in the mood space."""

from __future__ import annotations

from core.audio.decode import decode
from core.audio.descriptor import HandcraftedEmbedder
from core.moods import GEMS
from core.song_mood import load_song_mood_model
from tests.conftest import AUDIO


def test_predictions_are_in_range_and_drums_are_more_aroused_than_pads() -> None:
    model = load_song_mood_model()
    raw = HandcraftedEmbedder()
    pad = model.predict(raw.raw(decode(AUDIO / "pad_a.wav").samples))
    beat = model.predict(raw.raw(decode(AUDIO / "beat_a.ogg").samples))
    for mood in (pad, beat):
        assert -1 <= mood.valence <= 1 and -1 <= mood.arousal <= 1
        assert set(mood.gems) == set(GEMS) and all(0 <= s <= 1 for s in mood.gems.values())
    assert beat.arousal > pad.arousal
    details = beat.details()
    assert details["mood"] and len(details["top_gems"]) == 3 and "," in details["description"]
