"""matplotlib for the training reports, loaded on first use: it is an optional (`train` extra) dependency."""

from __future__ import annotations

from typing import Any

from moodtape.core.errors import UserError


def pyplot() -> Any:
    """`matplotlib.pyplot` on the file-only Agg backend (training runs on servers without a display).

    Imported here rather than at module level so that installing Moodtape without the `train` extra only
    costs the plots, with a message saying what to install.
    """
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise UserError("plots need matplotlib: pip install 'moodtape[train]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
