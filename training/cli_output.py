"""How the training commands print a result: the JSON every `--json` output uses, else one `key: value` a line."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from moodtape.core.results import print_json


def emit(data: Mapping[str, Any], as_json: bool) -> int:
    """Print `data` (as JSON with `--json`); the command's exit code, 0."""
    if as_json:
        print_json(dict(data))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def positive_int(text: str) -> int:
    """argparse type for counts (`--users`, `--tracks`, ...): a number of at least 1, else a usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
