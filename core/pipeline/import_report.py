"""What an import tells the user: counts of what landed, what matched, what was skipped, and why.

Kept apart from the readers and the writer because all of them add to it, and the CLI prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PROBLEMS", "ImportReport"]

#: How many skip reasons a report keeps (the counts are always complete).
MAX_PROBLEMS = 10


@dataclass
class ImportReport:
    format: str
    tracks_new: int = 0
    tracks_matched: int = 0
    playlists_added: int = 0
    playlists_skipped: int = 0  # already imported before (not a failure)
    rows_skipped: int = 0  # CSV rows or MPD playlists that were bad
    tracks_skipped: int = 0  # MPD track entries that were bad (their playlist is imported without them)
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS reasons, "where: why"

    @property
    def failed(self) -> int:
        """Items of the file that were not imported because they were bad: non-zero means exit status 1."""
        return self.rows_skipped + self.tracks_skipped

    def skip(self, where: str, reason: str, *, track: bool = False) -> None:
        """Count one bad row (or MPD track) and keep its reason while there is room."""
        if track:
            self.tracks_skipped += 1
        else:
            self.rows_skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}")

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": list(self.problems), "failed": self.failed}
