"""Plain-text rendering of engine results, shared by the CLI, the console chat and the Telegram bot."""

from __future__ import annotations

from typing import Any

from core.results import RecommendedTrack, SimilarResult

#: What every front end says when something failed on our side (the details go to the log).
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."

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
    query = result.query
    if query.get("track"):
        head = f"Songs like \"{_label(query['track'])}\" (#{query['track']['id']})"
    else:
        head = f"Songs like {query.get('text')}"
        mood = query.get("mood")
        if mood and mood.get("description"):
            head += f" (it sounds {mood['description']})"
    head += catalogue_note(query.get("catalogue", "")) + ":"
    if not result.tracks:
        return head + "\n  nothing comparable in the catalogue yet."
    return head + "\n" + tracks_block(result.tracks)


def mood_summary(mood: Any, top: int = 3) -> str:
    parts = [f"{label} {prob:.0%}" for label, prob in mood.top(top)]
    return ", ".join(parts)


def chat_text(result: Any) -> str:
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


def _label(track: dict[str, Any]) -> str:
    return f"{track['artist']} - {track['title']}" if track.get("artist") else track["title"]
