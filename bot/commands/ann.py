"""`moodtape ann-build`: build the approximate-search (HNSW) indexes of a large catalogue now.

A process that serves searches builds the index of a table over MOODTAPE_ANN_MIN_TRACKS in the background
on its first search (minutes at a million tracks; exact answers meanwhile).  Building it beforehand, e.g.
after a big import, saves it beside the database (`<db>.ann/`), so the bot restores it in seconds instead.
"""

from __future__ import annotations

import argparse

from moodtape.bot.commands.common import engine_for, print_json
from moodtape.core.config import Settings
from moodtape.core.text import byte_size
from moodtape.db.models import VECTOR_DIMS


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "ann-build", help="build and save the approximate-search indexes (for catalogues of 50k+ tracks)",
        description="Builds the HNSW index of each vector kind from the database and saves it beside it "
                    "(DB.ann/), whatever MOODTAPE_ANN_MIN_TRACKS says; searches use it once a table holds "
                    "at least that many vectors.",
    )
    build.add_argument("--kind", choices=sorted(VECTOR_DIMS), action="append", default=None,
                       help="only this kind (repeatable; default: all)")
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=run_build)


async def run_build(args: argparse.Namespace, settings: Settings) -> int:
    async with engine_for(settings) as engine:
        stats = await engine.store.build_ann(args.kind or sorted(VECTOR_DIMS))
    if args.json:
        print_json(stats)
        return 0
    for index in stats["indexes"]:
        if index["version"] is None:
            print(f"{index['kind']}: no vectors")
            continue
        print(f"{index['kind']} {index['version']}: {index['vectors']} vectors, "
              f"{byte_size(index['bytes_memory'])} in memory, {byte_size(index['bytes_disk'])} on disk")
    print(f"saved in {stats['folder']}" if stats["folder"] else
          "nothing saved: an in-memory database, or PostgreSQL (pgvector keeps its HNSW indexes itself)")
    return 0
