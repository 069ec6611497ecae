"""`moodtape add URL...`: links go through `Engine.add_link`, the same path as a bot's `/add <link>`.

The CLI then embeds the new pending tracks at once (like files), unless --no-embed leaves them to the
scheduler; a link that cannot be used is reported with the reason and the other arguments go on.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from bot.commands.common import print_json
from bot.progress import progress_bar
from core.embedding import EmbedReport
from core.engine import Engine
from core.errors import UserError
from core.links import LinkAddResult


@dataclass
class LinkReport:
    results: list[LinkAddResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (link, reason)
    states: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id -> (status, error) after embedding
    embedded: EmbedReport | None = None

    @property
    def ok(self) -> bool:
        return bool(self.results) or not self.failed

    def to_json(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for result in self.results:
            row = result.to_json()
            if result.track_id in self.states:
                row["status"], row["error"] = self.states[result.track_id]
            rows.append(row)
        rows += [{"link": link, "error": reason} for link, reason in self.failed]
        return rows


async def add_links(engine: Engine, links: list[str], *, embed: bool) -> LinkReport:
    report = LinkReport()
    for link in links:
        try:
            report.results.append(await engine.add_link(link, added_by="cli"))
        except UserError as exc:
            report.failed.append((link, str(exc)))
    if embed:
        wanted = {r.track_id for r in report.results if r.status == "pending"}
        tracks = [t for t in await engine.store.list_tracks(status="pending") if t.id in wanted]
        with progress_bar("embedding", unit="track") as progress:
            report.embedded = await engine.embed(tracks, progress=progress)
        for track_id in wanted:
            track = await engine.store.get_track(track_id)
            if track is not None:
                report.states[track_id] = (track.status, track.error)
    return report


def print_links(report: LinkReport) -> None:
    for result in report.results:
        status, error = report.states.get(result.track_id, (result.status, None))
        line = f"#{result.track_id} {result.label} [{result.service}]: {result.message}"
        if result.track_id in report.states:
            line += f" -> {status}" + (f" ({error})" if error else "")
        print(line)
    for link, reason in report.failed:
        print(f"  failed: {link}: {reason}", file=sys.stderr)


def finish_links(report: LinkReport, as_json: bool) -> int:
    if as_json:
        print_json({"links": report.to_json()})
    else:
        print_links(report)
    return 0 if report.ok else 1
