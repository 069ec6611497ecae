"""What `Engine.voice` answers: what was heard, and either the mood chat's answer or "songs like this"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moodtape.core.results import ChatResult, SimilarResult
from moodtape.core.voice.listen import Heard

__all__ = ["VoiceResult"]


@dataclass(frozen=True)
class VoiceResult:
    """`heard` for speech (the transcript, the reading of it in `chat`), `similar` for music."""

    heard: Heard
    chat: ChatResult | None = None
    similar: SimilarResult | None = None
    arousal_before_prosody: float | None = None

    @property
    def is_speech(self) -> bool:
        return self.heard.kind == "speech"

    @property
    def text(self) -> str | None:
        """The words heard (None for music)."""
        return None if self.heard.transcript is None else self.heard.transcript.text

    def to_json(self) -> dict[str, Any]:
        """The chat's JSON (speech) or `similar`'s (music), plus `input` ("speech"/"music"), `speech` (bool),
        `speech_probability`, `heard` (the words, or null) and, for speech, `transcript` and `prosody`."""
        base = self.chat.to_json() if self.chat is not None else (
            self.similar.to_json() if self.similar is not None else {})
        base.update(self.heard.to_json())
        base["speech"] = self.is_speech
        base["heard"] = self.text
        if self.arousal_before_prosody is not None:
            base["arousal_before_prosody"] = round(self.arousal_before_prosody, 4)
        return base
