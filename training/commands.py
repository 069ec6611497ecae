"""The real parsers of `moodtape train|eval|bench`.

`moodtape.bot.commands.lab` registers the three verbs without importing this package and calls
`build_parser` only when one of them is on the command line, so `moodtape run` never loads training code.
Each `training/cli_*.py` module adds its commands to the three groups with `add_commands(train, evaluate,
bench)`; modules import their heavy dependencies inside the handlers, so even `moodtape train --help` stays
fast.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from moodtape.core.config import Settings

#: Modules contributing commands, in the order they appear in --help.
CLI_MODULES = [
    "moodtape.training.cli_audio",
    "moodtape.training.cli_audio_encoder",
    "moodtape.training.cli_emotion",
    "moodtape.training.cli_cf",
    "moodtape.training.cli_musicnn",  # `train import-musicnn`, `eval musicnn`, `bench musicnn`
    "moodtape.training.bench_bots",  # `bench bots`: its parser block is `add_commands` there
    "moodtape.training.bench_chat",  # `bench chat`: its parser block is `add_commands` there
    "moodtape.training.bench_import",  # `bench import`: time and peak memory of `moodtape import`
    "moodtape.training.bench_picture",  # `bench picture`: drawing the picture of the mood (median, p99)
    "moodtape.training.cli_voice",  # `train voice` (speech/music detector), `eval voice` (WER, mood agreement)
    "moodtape.training.eval_title",  # `eval title`: a playlist from its name alone vs popularity
    "moodtape.training.eval_taste",  # `eval taste`: simulated listeners who 👎 one genre
]

#: Verb -> the attribute naming which of its commands was chosen.
VERBS = {"train": "train_what", "eval": "eval_what", "bench": "bench_what"}


def build_parser(verb: str, prog: str) -> argparse.ArgumentParser:
    """The parser of `verb` (`train`, `eval` or `bench`) with all its commands, named `prog` in usage lines.

    The cli modules add to all three verbs at once, so all three are built; the other two are dropped.
    """
    parsers = {name: argparse.ArgumentParser(prog=prog) for name in VERBS}
    groups = []
    for name, dest in VERBS.items():
        groups.append(parsers[name].add_subparsers(dest=dest, metavar="WHAT"))
        parsers[name].set_defaults(handler=_needs_what(parsers[name]))
    for module in CLI_MODULES:
        importlib.import_module(module).add_commands(*groups)
    return parsers[verb]


def _needs_what(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace, Settings], int]:
    """The handler of a bare verb (`moodtape train`): its help, and the exit code of a usage error."""

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        parser.print_help()
        return 2

    return handler
