"""`moodtape export`: ask for songs and save them as a playlist file (JSPF, XSPF or M3U8) in one step."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from moodtape.bot.commands.common import add_k_option, checked_k, engine_for
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.mood.space import STRATEGIES
from moodtape.core.playlist_files import FORMATS, PlaylistFormat, answer_title, format_for_path, playlist_text
from moodtape.core.recommend.continuation import MAX_K


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export", help="save songs as a playlist file (JSPF, XSPF, M3U8)",
        description="Builds an answer like `chat`, `similar` or `continue` and writes its songs as a playlist: "
                    "JSPF (ListenBrainz/troi's JSON; `moodtape import` reads it back), XSPF or M3U8. Each song "
                    "links to where it came from, else to a Deezer and a YouTube search for it.",
    )
    ask = parser.add_mutually_exclusive_group(required=True)
    ask.add_argument("--mood", metavar="TEXT", help="songs for how this message feels (like `moodtape chat`)")
    ask.add_argument("--similar", metavar="QUERY", help="songs like a track, an audio file or a link")
    ask.add_argument("--continue", dest="seeds", metavar="SEED", nargs="+",
                     help="songs to continue a playlist from these seed songs")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="the file format (default: from --out's suffix, else jspf)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write (default: standard output); an existing file is replaced whole")
    parser.add_argument("--strategy", choices=STRATEGIES, default="match", help="with --mood: the mood strategy")
    add_k_option(parser, default=None, shown=5)
    parser.set_defaults(handler=run)


def _format(args: argparse.Namespace) -> PlaylistFormat:
    if args.format:
        return args.format
    if args.out is not None:
        guessed = format_for_path(args.out)
        if guessed is None:
            raise UserError(f"--out {args.out.name}: say --format jspf, xspf or m3u8 (the suffix does not tell)")
        return guessed
    return "jspf"


def _write(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, renamed over the target."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"--out {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise UserError(f"--out {path}: is a folder")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot write ({exc.strerror or exc})") from exc


async def run(args: argparse.Namespace, settings: Settings) -> int:
    fmt = _format(args)
    async with engine_for(settings) as engine:
        if args.mood is not None:
            result = await engine.chat(args.mood, checked_k(args.k, 100), args.strategy)
        elif args.similar is not None:
            result = await engine.similar(args.similar, checked_k(args.k, 100), paths=True)
        else:
            result = await engine.continue_playlist(list(args.seeds), checked_k(args.k, MAX_K))
    title, annotation = answer_title(result)
    text = playlist_text(fmt, title, annotation, result.tracks)
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write(args.out, text)
        print(f"wrote {len(result.tracks)} song(s) to {args.out} ({fmt})", file=sys.stderr)
    return 0
