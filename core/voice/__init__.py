"""Spoken moods: tell a voice note from music, transcribe speech offline, let its prosody nudge arousal.

`listen` decides and transcribes (blocking, run in a thread), `detector` is the fitted speech/music model,
`asr` wraps the optional recognisers (`moodtape[voice]`), `prosody` measures how it was said and `result`
is what the engine answers with.
"""

from moodtape.core.voice.asr import LANGUAGES, SpeechModels, Transcript, VoiceUnavailable, language_hint
from moodtape.core.voice.listen import (
    MAX_SPEECH_S,
    MIN_CLIP_S,
    Heard,
    VoiceListener,
    nothing_heard,
    nudged_arousal,
)
from moodtape.core.voice.prosody import MAX_NUDGE, Prosody, measure_prosody
from moodtape.core.voice.result import VoiceResult

__all__ = [
    "LANGUAGES", "MAX_NUDGE", "MAX_SPEECH_S", "MIN_CLIP_S", "Heard", "Prosody", "SpeechModels", "Transcript",
    "VoiceListener", "VoiceResult", "VoiceUnavailable", "language_hint", "measure_prosody", "nothing_heard",
    "nudged_arousal",
]
