"""Links added in one go (`moodtape add URL...`): what became of each, and of its embedding.

Each link goes through `LinkService.add`, the same path as a bot's `/add <link>`; a link that cannot be used
is kept with the reason and the others go on.  The caller may embed the new pending tracks right away; the
states after that are recorded so the report says which ended ready and which failed, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moodtape.core.links.service import LinkAddResult
from moodtape.core.pipeline.embedding import EmbedReport


@dataclass
class LinkReport:
    results: list[LinkAddResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (link, reason)
    states: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # id -> (status, error) after embedding
    embedded: EmbedReport | None = None

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
