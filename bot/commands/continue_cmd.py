"""`moodtape continue`: songs to extend a playlist from its seed songs."""

from __future__ import annotations

import argparse

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.commands.forget import add_user_option
from moodtape.bot.render import catalogue_note, tracks_block
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.recommend.continuation import MAX_K, ContinueResult
from moodtape.core.recommend.title import TitleResult


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "continue", help="songs to extend a playlist from its seed songs, or to start one from a title",
        description="Each QUERY is one seed song: a track id (42 or #42), \"artist - title\" or words of a title "
                    "(quote multi-word seeds). Songs come from the collaborative vectors (songs that share "
                    "playlists with the seeds; `moodtape train cf` makes them), or from sound when the seeds "
                    "have no playlist history. With --title NAME instead of seeds, a playlist is started from "
                    "its name alone: the songs of imported playlists named like it, nudged by the mood of its "
                    "words (with no playlists imported, the mood of the words alone).",
    )
    parser.add_argument("query", nargs="*", help="seed songs: track ids, \"artist - title\" or title words")
    parser.add_argument("--title", default=None, metavar="NAME",
                        help="start a playlist from this name alone, e.g. \"rainy day chill\" (no seeds)")
    add_k_option(parser, default=100, shown=100)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_user_option(parser)
    parser.set_defaults(handler=run)


def continue_text(result: ContinueResult) -> str:
    seeds = ", ".join(f"\"{s.label}\" (#{s.id})" for s in result.seeds)
    head = f"To continue a playlist with {seeds}{catalogue_note(result.catalogue)}:"
    if not result.tracks:
        return head + "\n  nothing to add from this catalogue yet."
    return head + "\n" + tracks_block(result.tracks)


def title_text(result: TitleResult) -> str:
    """`continue --title`: what the songs rest on (matched names, the mood read), then the songs."""
    head = f"To start a playlist called \"{result.title}\"{catalogue_note(result.catalogue)}: {result.note}."
    if result.mood is not None and result.mood_used:
        head += (f"\nI read in the words: {result.mood.label} {result.mood.confidence:.0%} "
                 f"(valence {result.mood.valence:+.2f}, arousal {result.mood.arousal:+.2f}).")
    if not result.tracks:
        return head + "\n  nothing to add from this catalogue yet."
    return head + "\n" + tracks_block(result.tracks)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, MAX_K)
    if args.title is not None:
        if args.query:
            raise UserError("give seed songs or --title, not both")
        async with engine_for(settings) as engine:
            titled = await engine.continue_from_title(args.title, k)
        print_json(titled.to_json()) if args.json else print(title_text(titled))
        return 0
    if not args.query:
        raise UserError("give at least one seed song, or --title NAME to start a playlist from a name")
    async with engine_for(settings) as engine:
        result = await engine.continue_playlist(list(args.query), k, user_ref=args.user)
    if args.json:
        print_json(result.to_json())
    else:
        print(continue_text(result))
    return 0
