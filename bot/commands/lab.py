"""`moodtape train|eval|bench`: registered here, implemented in the `training` package (loaded on use)."""

from __future__ import annotations

import argparse

from training import commands


def register(sub: argparse._SubParsersAction) -> None:
    commands.register(sub)
