"""The "💾 Save" button under an answer: the answer's songs as playlist files (JSPF and M3U8) for both bots.

The button carries the songs themselves, so a click on an answer sent before a restart still works and nothing is
kept per message: the first id in base 36, then each other id as its difference from the first ("." before a
positive one, "-" before a negative one).  Telegram's callback data holds 64 bytes: ten songs fit whenever ids are
under 36**6 (2 billion; the demo catalogue's start at 900 million) and within 60 million of each other.  The files are what `moodtape export` writes
(`core.playlist_files`): JSPF for ListenBrainz and troi, M3U8 for any player.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.playlist_files import playlist_text
from moodtape.core.results import RecommendedTrack

__all__ = ["SAVED_TITLE", "SAVE_TOKEN", "parse_save_token", "save_token", "saved_files"]

#: Ten songs at most: the first id in 1-6 base-36 digits, the others as signed differences of 1-5 digits.
SAVE_TOKEN = re.compile(r"[0-9a-z]{1,6}(?:[.-][0-9a-z]{1,5}){0,9}")
SAVED_TITLE = "Moodtape: saved songs"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_ID = 36**6 - 1
_MAX_DELTA = 36**5 - 1
_PART = re.compile(r"([.-]?)([0-9a-z]+)")


def _base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if number == 0:
            return out


def save_token(tracks: Sequence[RecommendedTrack]) -> str | None:
    """The button's payload for these songs (the first ten); None when an id is too large to carry."""
    ids = [track.id for track in tracks[:10]]
    if not ids or any(not 0 < i <= _MAX_ID for i in ids) or any(abs(i - ids[0]) > _MAX_DELTA for i in ids):
        return None
    return _base36(ids[0]) + "".join(("." if i >= ids[0] else "-") + _base36(abs(i - ids[0])) for i in ids[1:])


def parse_save_token(token: str) -> list[int]:
    """The song ids of a payload; a payload that is not one of ours is a `UserError` (a forged or old button)."""
    if SAVE_TOKEN.fullmatch(token) is None:
        raise UserError("That button is not one of mine any more; ask me again and save the new answer.")
    parts = _PART.findall(token)
    first = int(parts[0][1], 36)
    return [first] + [first + (int(digits, 36) if sign == "." else -int(digits, 36)) for sign, digits in parts[1:]]


async def saved_files(engine: Engine, ids: list[int]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the JSPF and the M3U8 of these songs, in the answer's order."""
    tracks = await engine.tracks_for_ids(ids)
    if not tracks:
        raise UserError("Those songs are no longer in the catalogue; ask me again and save the new answer.")
    songs = [RecommendedTrack.from_track(track, 0.0, "") for track in tracks]
    return [(f"moodtape.{fmt}", playlist_text(fmt, SAVED_TITLE, None, songs).encode("utf-8"))
            for fmt in ("jspf", "m3u8")]
