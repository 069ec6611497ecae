"""`moodtape similar`: songs like a catalogue track, an audio file or a link."""

from __future__ import annotations

import argparse

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for, print_json
from moodtape.bot.commands.forget import add_user_option
from moodtape.bot.render import similar_text
from moodtape.core.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "similar", help="songs that sound like a song",
        description="QUERY is a track id (42 or #42), \"artist - title\", words of a title, or a path to an "
                    "audio file that need not be in the catalogue (it is embedded on the fly), or a link to a song "
                    "(Deezer, Spotify, YouTube, SoundCloud, Bandcamp, an audio file on the web).",
    )
    parser.add_argument("query", nargs="+", help="track id, \"artist - title\", title words, an audio file or a link")
    add_k_option(parser, default=None, shown=5)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_user_option(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    k = checked_k(args.k, 100)
    async with engine_for(settings) as engine:
        result = await engine.similar(" ".join(args.query), k, paths=True,  # an admin's own files
                                      user_ref=args.user)
    if args.json:
        print_json(result.to_json())
    else:
        print(similar_text(result))
    return 0
