"""The last message of an /add of a playlist: what was added, and what was not and why."""

from __future__ import annotations

from moodtape.bot.shared.link_progress import batch_summary
from moodtape.core.links.info import LinkInfo
from moodtape.core.links.service import LinkAddResult, LinkCollection
from moodtape.core.pipeline.link_batch import LinkReport


def _info(n: int) -> LinkInfo:
    return LinkInfo(service="Spotify", kind="spotify", url=f"https://open.spotify.com/track/{n:022d}",
                    external_id=f"spotify:track:{n:022d}", title=f"Song {n}", artist="Band", album=None,
                    duration_s=None, has_audio=False, note="")


def _added(n: int) -> LinkAddResult:
    return LinkAddResult(n, f"Song {n}", "Band", "metadata_only", True, "Spotify", None, "added")


def test_left_out_entries_are_said_with_the_first_reason_and_a_cap_alone_names_the_total() -> None:
    mixed = LinkCollection("Spotify", "playlist", "Night drive", [_info(1), _info(2)], 5,
                           skipped=["entry 3: a podcast episode, not a song", "entry 4: no title",
                                    "entry 5: a local file of the playlist's owner, which is not on Spotify"])
    text = batch_summary(LinkReport(results=[_added(1), _added(2)], collections=[mixed]))
    assert "Spotify playlist “Night drive”: 2 song(s); not added: entry 3: a podcast episode, not a song " \
           "(and 2 more note(s))" in text
    assert "2 added" in text

    capped = LinkCollection("Spotify", "album", "Long", [_info(n) for n in range(3)], 40)
    text = batch_summary(LinkReport(results=[_added(n) for n in range(3)], collections=[capped]))
    assert "Spotify album “Long”: 3 song(s) (the first 3 of 40)" in text
