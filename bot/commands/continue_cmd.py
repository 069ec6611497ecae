"""`moodtape continue`: songs to extend a playlist from its seed songs."""

from __future__ import annotations

import argparse

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.render import catalogue_note, tracks_block
from moodtape.core.config import Settings
from moodtape.core.recommend.continuation import MAX_K, ContinueResult


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "continue", help="songs to extend a playlist from its seed songs",
        description="Each QUERY is one seed song: a track id (42 or #42), \"artist - title\" or words of a title "
                    "(quote multi-word seeds). Songs come from the collaborative vectors (songs that share "
                    "playlists with the seeds; `moodtape train cf` makes them), or from sound when the seeds "
                    "have no playlist history.",
    )
    parser.add_argument("query", nargs="+", help="seed songs: track ids, \"artist - title\" or title words")
    add_k_option(parser, default=100, shown=100)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def continue_text(result: ContinueResult) -> str:
    seeds = ", ".join(f"\"{s.label}\" (#{s.id})" for s in result.seeds)
    head = f"To continue a playlist with {seeds}{catalogue_note(result.catalogue)}:"
    if not result.tracks:
        return head + "\n  nothing to add from this catalogue yet."
    return head + "\n" + tracks_block(result.tracks)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, MAX_K)
    async with engine_for(settings) as engine:
        result = await engine.continue_playlist(list(args.query), k)
    if args.json:
        print_json(result.to_json())
    else:
        print(continue_text(result))
    return 0
