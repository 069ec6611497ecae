"""The progress callback every long-running step takes: `(done, total, label)`.

One signature lets the CLI show a bar and a bot edit a placeholder message for any step (adding files,
importing playlists, embedding) without the step knowing which front end is watching.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

Progress = Callable[[int, int, str], None]
