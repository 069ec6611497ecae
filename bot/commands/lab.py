"""`moodtape train|eval|bench`: listed here, parsed and run by the `training` package, loaded only on use.

The bots and `moodtape run|chat|similar` must not load training code (nor matplotlib), yet `moodtape --help`
lists these verbs.  So each verb is a stand-in sub-parser that takes the rest of the command line as it is;
when the verb is actually used, the stand-in imports `moodtape.training`, builds the verb's real
parser and lets it parse that rest into the same namespace, during the same `parse_args` call.  Help, usage
errors (exit 2) and the chosen handler are therefore exactly those of the real parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

#: Verb -> its line in `moodtape --help`.
VERBS = {
    "train": "fit a model (emotion, song mood, audio encoder, cf, demo catalogue)",
    "eval": "measure a model on labelled data",
    "bench": "speed benchmarks (JSON with --json)",
}

#: A prefix character no argument starts with: the stand-in recognises no options, so every argument
#: (`--help` included) reaches the real parser untouched.
_NO_OPTIONS = "\0"


class _Delegate(argparse.Action):
    """Parses the verb's arguments with the real parser from `moodtape.training`, imported here on use."""

    def __init__(self, *args: Any, verb: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verb = verb

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        from moodtape.training import build_parser

        build_parser(self.verb, parser.prog).parse_args(list(values or []), namespace)


def register(sub: argparse._SubParsersAction) -> None:
    for verb, help_text in VERBS.items():
        stand_in = sub.add_parser(verb, help=help_text, add_help=False, prefix_chars=_NO_OPTIONS)
        stand_in.add_argument("arguments", nargs=argparse.REMAINDER, action=_Delegate, verb=verb,
                              default=argparse.SUPPRESS)
