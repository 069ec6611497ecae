"""How `moodtape add URL...` reports its links (the adding and embedding is `Engine.add_links`)."""

from __future__ import annotations

import sys

from moodtape.bot.commands.common import print_json
from moodtape.core.pipeline.link_batch import LinkReport


def print_links(report: LinkReport) -> None:
    for collection in report.collections:
        line = f"{collection.service} {collection.kind} \"{collection.title}\": {collection.size} track(s)"
        if collection.capped:
            line += f" (the first {collection.size} of {collection.total}: MOODTAPE_MAX_TRACKS_PER_LINK)"
        print(line)
    for result in report.results:
        status, error = report.state(result)
        line = f"#{result.track_id} {result.label} [{result.service}]: {result.message}"
        if result.track_id in report.states:
            line += f" -> {status}" + (f" ({error})" if error else "")
        print(line)
    for link, reason in report.failed:
        print(f"  failed: {link}: {reason}", file=sys.stderr)


def links_failed(report: LinkReport) -> int:
    """How many links did not end where `add` was asked to take them.

    A refused link, a track that ended `failed`, and (when `add` embedded) one that is still not ready after
    it (a download that failed for a reason that may pass is left pending for a retry, but it is not done):
    each makes the exit status 1.  A link kept as metadata only is what was asked for (there is no audio).
    """
    embedded = set(report.pending_ids) if report.embedded is not None else set()
    unfinished = [result for result in report.results
                  if report.state(result)[0] == "failed"
                  or (result.track_id in embedded and report.state(result)[0] != "ready")]
    return len(report.failed) + len(unfinished)


def finish_links(report: LinkReport, as_json: bool) -> None:
    """The report of an `add` given links alone: JSON, or a line per link (failures on stderr)."""
    if as_json:
        print_json({"links": report.to_json()})
    else:
        print_links(report)
