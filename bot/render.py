"""Plain-text rendering of engine results, shared by the CLI, the console chat and the Telegram bot."""

from __future__ import annotations

from moodtape.core.mood.reader import MoodReading
from moodtape.core.results import ChatResult, RecommendedTrack, SimilarResult

#: What every front end says when something failed on our side (the details go to the log).
from moodtape.bot.shared.formatting import similar_heading

#: Headline of a mood answer per strategy.
STRATEGY_HEADINGS: dict[str, str] = {
    "match": "Songs that match your mood",
    "lift": "Songs to lift you up, step by step",
    "calm": "Songs to calm you down, step by step",
    "energize": "Songs to get you going, step by step",
}


def track_line(number: int, track: RecommendedTrack) -> str:
    album = f"  [{track.album}]" if track.album else ""
    return f"{number:>2}. {track.label}{album}  (#{track.id})"


def tracks_block(tracks: list[RecommendedTrack], *, with_source: bool = True) -> str:
    lines = []
    for number, track in enumerate(tracks, start=1):
        lines.append(track_line(number, track))
        lines.append(f"    {track.reason}")
        if with_source and track.source:
            lines.append(f"    {track.source}")
    return "\n".join(lines)


def catalogue_note(catalogue: str) -> str:
    return " (from the bundled demo catalogue: add your own music with `moodtape add`)" if catalogue == "demo" else ""


def similar_text(result: SimilarResult) -> str:
    heading = similar_heading(result)
    head = heading.title(('"', '"'))
    if heading.track_id is not None:
        head += f" (#{heading.track_id})"
    if heading.sounds:
        head += f" (it sounds {heading.sounds})"
    head += catalogue_note(heading.catalogue) + ":"
    if not result.tracks:
        return head + "\n  nothing comparable in the catalogue yet."
    return head + "\n" + tracks_block(result.tracks)


def mood_summary(mood: MoodReading, top: int = 3) -> str:
    parts = [f"{label} {prob:.0%}" for label, prob in mood.top(top)]
    return ", ".join(parts)


def chat_text(result: ChatResult) -> str:
    mood = result.mood
    if mood.confidence == 0.0:  # empty or whitespace: nothing was read, say so rather than "neutral 100%"
        lines = ["There was nothing to read in that message, so here are songs for a neutral mood."]
    else:
        lines = [f"I read: {mood_summary(mood)}  (valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})"]
    if not result.tracks:
        lines.append("I have no songs with a mood yet" + catalogue_note(result.catalogue) + ".")
        return "\n".join(lines)
    lines.append(f"Songs ({result.strategy}){catalogue_note(result.catalogue)}:")
    lines.append(tracks_block(result.tracks))
    return "\n".join(lines)
