"""Text pieces every front end words the same way: the "Songs like …" heading (sizes: `core.text.byte_size`).

Each front end still marks them up its own way (HTML on Telegram, Markdown embeds on Discord, plain text in
the terminal); what is said comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from moodtape.core.results import SimilarResult

__all__ = ["SimilarHeading", "similar_heading"]


@dataclass(frozen=True)
class SimilarHeading:
    """What a "songs like" answer is about."""

    subject: str  # the catalogue track's "artist - title", else what was asked (words, a link, a clip's name)
    track_id: int | None  # set when the query is a catalogue track
    sounds: str | None  # the query audio's mood in words, when it was listened to
    catalogue: str

    def title(self, quotes: tuple[str, str] = ("", "")) -> str:
        """"Songs like <subject>", a catalogue track's label inside `quotes`."""
        subject = f"{quotes[0]}{self.subject}{quotes[1]}" if self.track_id is not None else self.subject
        return f"Songs like {subject}"


def similar_heading(result: SimilarResult) -> SimilarHeading:
    query = result.query
    if query.track is not None:
        return SimilarHeading(query.track.label, query.track.id, None, query.catalogue)
    return SimilarHeading(query.text or "your clip", None, query.mood.description if query.mood else None,
                          query.catalogue)
