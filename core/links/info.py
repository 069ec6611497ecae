"""What a link is, whatever service it belongs to: the `LinkInfo` every provider module returns."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from moodtape.core.text import match_key
from moodtape.db.models import NewTrack

__all__ = ["LinkInfo", "SUPPORTED", "host_name"]

#: The links we take, in the words every refusal uses.
SUPPORTED = "a link to a track on Deezer, Spotify, YouTube, SoundCloud or Bandcamp, or straight to an audio file"


@dataclass(frozen=True)
class LinkInfo:
    """What a link is: enough for a catalogue row and for fetching the audio again later."""

    service: str  # "Deezer", "Spotify", "YouTube", ..., "the web" (a direct audio link)
    kind: str  # "direct" | "deezer" | "spotify" | "ytdlp"
    url: str  # the canonical link, kept as the track's source
    external_id: str
    title: str
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None
    has_audio: bool = True
    note: str | None = None

    @property
    def label(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title

    @property
    def match_key(self) -> str:
        return match_key(self.artist, self.title)

    def new_track(self, added_by: str | None) -> NewTrack:
        return NewTrack(
            title=self.title, artist=self.artist, album=self.album, duration_s=self.duration_s,
            source_kind="url", source=self.url, external_id=self.external_id, match_key=self.match_key,
            added_by=added_by, status="pending" if self.has_audio else "metadata_only",
            error=None if self.has_audio else self.note,
        )


def host_name(url: httpx.URL) -> str:
    """The host as the provider tables list it: lower case, without a trailing dot."""
    return (url.host or "").lower().rstrip(".")
