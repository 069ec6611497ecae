"""How `moodtape add URL...` reports its links (the adding and embedding is `Engine.add_links`)."""

from __future__ import annotations

import sys

from moodtape.bot.commands.common import print_json
from moodtape.core.pipeline.link_batch import LinkReport


def print_links(report: LinkReport) -> None:
    for result in report.results:
        status, error = report.state(result)
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
