"""What `/add <link>` says in both bots while a playlist or album link adds its tracks, and when it is done.

One message, edited as the tracks arrive ("12/50 added, 3 already there, 1 failed: ..."): at most one edit per
`EDIT_EVERY_S` (the chat services limit edits, and a person cannot read faster), plus the final one.  A link to one
song answers with the sentence the link service wrote for it, as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from moodtape.core.errors import UserError
from moodtape.core.pipeline.link_batch import LinkReport

__all__ = ["EDIT_EVERY_S", "LinkProgress", "batch_summary", "progress_line"]

#: Least time between two edits of the progress message.
EDIT_EVERY_S = 1.5


def _counts(report: LinkReport) -> str:
    parts = [f"{report.added} added"]
    if report.known:
        parts.append(f"{report.known} already there")
    if report.failed:
        first = report.failed[0][1]
        parts.append(f"{len(report.failed)} failed" + (f": {first}" if len(report.failed) == 1 else f" (first: {first})"))
    return ", ".join(parts)


def progress_line(report: LinkReport, done: int, total: int) -> str:
    return f"⏳ {done}/{total}: {_counts(report)}"


def batch_summary(report: LinkReport) -> str:
    """The final answer.  A single song's link: its own sentence (or the reason it failed, as an error)."""
    if not report.collections:
        if report.failed:
            raise UserError(report.failed[0][1])
        return report.results[0].message if report.results else "nothing to add"
    lines = []
    for collection in report.collections:
        line = f"{collection.service} {collection.kind} “{collection.title}”: {collection.size} song(s)"
        if collection.skipped:  # entries that are not songs (podcast episodes, local files): said, not failed
            more = len(collection.skipped) - 1
            line += f"; not added: {collection.skipped[0]}" + (f" (and {more} more note(s))" if more else "")
        elif collection.capped:
            line += f" (the first {collection.size} of {collection.total})"
        lines.append(line)
    lines.append(_counts(report) + "; new songs become recommendable once they are analysed.")
    return "\n".join(lines)


class LinkProgress:
    """An `on_track` callback for `Engine.add_links` that edits one message, not more often than allowed."""

    def __init__(self, show: Callable[[str], Awaitable[None]], every_s: float = EDIT_EVERY_S) -> None:
        self.show = show
        self.every_s = every_s
        self._last = time.monotonic()  # the "adding…" placeholder was just shown

    async def __call__(self, report: LinkReport, done: int, total: int) -> None:
        now = time.monotonic()
        if total <= 1 or done >= total or now - self._last < self.every_s:
            return  # one song, or the final answer follows, or too soon after the last edit
        self._last = now
        await self.show(progress_line(report, done, total))
