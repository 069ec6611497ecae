"""How every front end words a voice note's answer: "I heard: '...'" before the songs, or, for music, the
usual "songs like this" (the chat libraries' renderers add their markup around these plain sentences)."""

from __future__ import annotations

from moodtape.core.voice.asr import LANGUAGES
from moodtape.core.voice.result import VoiceResult

__all__ = ["MAX_HEARD_CHARS", "heard_line", "heard_words", "prosody_note", "voice_text"]

#: What was heard is shown up to this length (a two-minute note can hold a few hundred words).
MAX_HEARD_CHARS = 300


def heard_words(result: VoiceResult) -> str:
    text = result.text or ""
    return text if len(text) <= MAX_HEARD_CHARS else text[: MAX_HEARD_CHARS - 1] + "…"


def heard_line(result: VoiceResult) -> str:
    """`I heard: 'words'` and, when the recogniser was unsure, a hint to check it."""
    transcript = result.heard.transcript
    language = LANGUAGES.get(transcript.language, transcript.language) if transcript else ""
    line = f"I heard: '{heard_words(result)}'"
    if transcript is not None:
        line += f" ({language}"
        line += ", not sure I got it right)" if transcript.confidence < 0.5 else ")"
    return line


def prosody_note(result: VoiceResult) -> str | None:
    """A short note when the voice moved the reading noticeably (|nudge| >= 0.05)."""
    prosody = result.heard.prosody
    if prosody is None or abs(prosody.nudge) < 0.05:
        return None
    return ("your voice sounded lively, so I read a bit more energy" if prosody.nudge > 0
            else "your voice sounded quiet and slow, so I read a bit less energy")


def voice_text(result: VoiceResult) -> str:
    """The CLI's answer to `moodtape chat --voice FILE`."""
    from moodtape.bot.render import chat_text, similar_text

    if result.chat is not None:
        lines = [heard_line(result)]
        note = prosody_note(result)
        if note:
            lines.append(f"({note})")
        return "\n".join(lines) + "\n" + chat_text(result.chat)
    assert result.similar is not None
    return "That sounds like music, so here are songs like it.\n" + similar_text(result.similar)
