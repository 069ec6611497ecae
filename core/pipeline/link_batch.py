"""Links added in one go (`moodtape add URL...`, `/add`): what became of each, and of its embedding.

Each link goes through `LinkService.add`, the same path as a bot's `/add <link>`; a link that cannot be used
is kept with the reason and the others go on.  A playlist or album link is expanded into its tracks first
(at most `max_tracks_per_link`, each song once), and each track is added the same way; `on_track` hears about
every one, so a bot can edit one message as they arrive.  The caller may embed the new pending tracks right
away; the states after that are recorded so the report says which ended ready and which failed, and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from moodtape.core.errors import UserError
from moodtape.core.links.service import LinkAddResult, LinkCollection, LinkService
from moodtape.core.pipeline.embedding import EmbedReport
from moodtape.db.store import Store

__all__ = ["LinkReport", "OnTrack", "add_link_batch"]


@dataclass
class LinkReport:
    results: list[LinkAddResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (link, reason)
    states: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id -> (status, error) after embedding
    embedded: EmbedReport | None = None
    collections: list[LinkCollection] = field(default_factory=list)  # playlist/album links expanded

    @property
    def ok(self) -> bool:
        return bool(self.results) or not self.failed

    @property
    def pending_ids(self) -> list[int]:
        """The tracks added as pending: what embedding takes."""
        return [r.track_id for r in self.results if r.status == "pending"]

    def state(self, result: LinkAddResult) -> tuple[str, str | None]:
        """A link's track's (status, error): after embedding when it was embedded, else as added."""
        return self.states.get(result.track_id, (result.status, None))

    def to_json(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for result in self.results:
            row = result.to_json()
            if result.track_id in self.states:
                row["status"], row["error"] = self.states[result.track_id]
            rows.append(row)
        rows += [{"link": link, "error": reason} for link, reason in self.failed]
        return rows


    @property
    def added(self) -> int:
        """Tracks new to the catalogue."""
        return sum(1 for r in self.results if r.created)

    @property
    def known(self) -> int:
        """Tracks that were in the catalogue already."""
        return sum(1 for r in self.results if not r.created)


OnTrack = Callable[[LinkReport, int, int], Awaitable[None]]  # (report so far, tracks done, tracks in all)


async def add_link_batch(links: LinkService, store: Store, urls: list[str], *, added_by: str | None,
                         max_per_link: int, on_track: OnTrack | None = None) -> LinkReport:
    """Add every link; playlists and albums track by track.  Nothing here raises for one bad link or track."""
    report = LinkReport()
    planned = 0  # tracks this batch will try in all, known once each link is expanded
    done = 0

    async def attempt(label: str, add: Callable[[], Awaitable[LinkAddResult]]) -> None:
        nonlocal done
        try:
            report.results.append(await add())
        except UserError as exc:
            report.failed.append((label, str(exc)))
        done += 1
        if on_track is not None:
            await on_track(report, done, planned)

    for url in urls:
        try:
            collection = await links.expand(url, max_per_link)
        except UserError as exc:
            report.failed.append((url, str(exc)))
            continue
        if collection is None:
            planned += 1
            await attempt(url, partial(links.add, store, url, added_by=added_by))
            continue
        report.collections.append(collection)
        planned += collection.size
        for info in collection.tracks:  # metadata known from the list (Deezer)
            await attempt(f"{info.label} ({info.url})", partial(links.add_info, store, info, added_by=added_by))
        for entry in collection.links:  # known by their link only (YouTube): each resolved on its own
            await attempt(entry, partial(links.add, store, entry, added_by=added_by))
    return report
