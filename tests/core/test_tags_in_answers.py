"""What a song sounds like, in words, wherever a person reads an answer: reasons and the JSON forms."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from moodtape.core.engine import Engine

TECHNO = Path(__file__).parents[1] / "fixtures" / "musicnn" / "techno.flac"


async def test_ingestion_keeps_tags_and_answers_say_them(engine: Engine, audio_dir: Path) -> None:
    techno = audio_dir / "techno.flac"
    shutil.copy(TECHNO, techno)
    await engine.add_files([techno, audio_dir / "beat_a.ogg", audio_dir / "pad_a.wav", audio_dir / "pad_b.mp3"])
    tracks = {t.title: t for t in await engine.store.list_tracks()}
    assert all(t.status == "ready" for t in tracks.values())

    moods = await engine.store.get_vectors("mood", [t.id for t in tracks.values()])
    techno_mood = moods[tracks["techno"].id].details
    assert max(techno_mood["tags"], key=techno_mood["tags"].get) == "techno"
    assert "techno" in techno_mood["top_tags"] and len(techno_mood["top_tags"]) <= 3
    audio = await engine.store.get_vectors("audio", [tracks["techno"].id])
    stored = audio[tracks["techno"].id]
    assert stored.model_version.startswith("musicnn-v1-")  # the default content embedding
    assert abs(float(np.linalg.norm(stored.vector)) - 1.0) < 1e-4

    similar = await engine.similar("beat a", 3)
    techno_hit = next(t for t in similar.tracks if t.title == "techno")
    assert "techno" in techno_hit.tags
    assert "sounds alike: " in techno_hit.reason and "techno" in techno_hit.reason
    assert techno_hit.to_json()["tags"] == list(techno_hit.tags)

    chat = await engine.chat("we won the championship, let's party!", 4)
    assert chat.catalogue == "database"
    said = [t for t in chat.tracks if t.tags]
    assert said, "tracks analysed with musicnn carry their words"
    for track in said:
        assert track.reason.startswith(", ".join(track.tags[:3]) + " — ")
        assert track.to_json()["tags"] == list(track.tags)
