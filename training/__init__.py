"""Offline training, evaluation and benchmarks: the `moodtape train|eval|bench` commands.

Nothing at run time imports this package: the bots and `moodtape run|chat|similar` use only what training
produced (the model files under `core/data/`).  The CLI reaches it through `commands.build_parser`, loaded
only when one of the three verbs is on the command line.  Training code uses core's readers and models;
core never imports training.
"""

from moodtape.training.commands import build_parser

__all__ = ["build_parser"]
