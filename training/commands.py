"""`moodtape train|eval|bench` sub-commands.

Each `training/cli_*.py` module adds its commands to the three groups with
`add_commands(train, evaluate, bench)`; modules import their heavy dependencies inside the handlers, so
`moodtape --help` stays fast and the bots never load training code.
"""

from __future__ import annotations

import argparse
import importlib

#: Modules contributing commands, in the order they appear in --help.
CLI_MODULES = [
    "training.cli_audio",
    "training.cli_audio_encoder",
    "training.cli_emotion",
    "training.cli_cf",
]


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fit a model (emotion, song mood, audio encoder, cf, demo catalogue)")
    evaluate = sub.add_parser("eval", help="measure a model on labelled data")
    bench = sub.add_parser("bench", help="speed benchmarks (JSON with --json)")
    groups = []
    for parser, dest in ((train, "train_what"), (evaluate, "eval_what"), (bench, "bench_what")):
        group = parser.add_subparsers(dest=dest, metavar="WHAT")
        parser.set_defaults(handler=_needs_what(parser))
        groups.append(group)
    for name in CLI_MODULES:
        importlib.import_module(name).add_commands(*groups)


def _needs_what(parser: argparse.ArgumentParser):  # type: ignore[no-untyped-def]
    def handler(args: argparse.Namespace, settings: object) -> int:
        parser.print_help()
        return 2

    return handler
