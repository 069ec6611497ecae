"""`moodtape db copy`: move a whole catalogue between a SQLite file and a PostgreSQL server, either way.

The copy itself is `db.copy.copy_database` (ids kept, upserts by primary key, so running it again is
harmless); this command opens both ends, shows progress on stderr and prints the rows of every table on
both sides, exiting 1 when the target's counts differ from the source's.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moodtape.bot.commands.common import print_json
from moodtape.core.config import Settings
from moodtape.core.errors import StorageError
from moodtape.db.copy import CopyReport, copy_database, parse_location
from moodtape.db.errors import StoreError
from moodtape.db.locations import is_postgres_url, redact
from moodtape.db.open import open_store

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database maintenance: copy a catalogue between SQLite and PostgreSQL",
                        description="Database maintenance.")
    verbs = db.add_subparsers(dest="db_command", metavar="VERB", required=True)
    copy = verbs.add_parser(
        "copy", help="copy everything from one database to another (SQLite <-> PostgreSQL)",
        description="Copies tracks, vectors (with their model versions), playlists, feedback, jobs, meta keys "
                    "and user preferences, keeping ids. Idempotent: running it again updates the rows it "
                    "copied before and adds nothing twice. Exits 1 when the counts of the two sides differ "
                    "afterwards (the target held other rows).",
        epilog="Example: moodtape db copy --from sqlite:~/.local/share/moodtape/moodtape.db "
               "--to postgresql://moodtape:PASSWORD@db.example/moodtape",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="DB",
                      help="sqlite:PATH (or a path) or postgresql://...")
    copy.add_argument("--to", dest="target", required=True, metavar="DB",
                      help="sqlite:PATH (created if missing) or postgresql://... (the database must exist)")
    copy.add_argument("--json", action="store_true")
    copy.set_defaults(handler=run_copy)


def _shown(location: Any) -> str:
    return redact(location) if is_postgres_url(location) else f"sqlite:{location}"


def _print(report: CopyReport) -> None:
    width = max(len(name) for name in report.source)
    print(f"{'table':<{width}}  {'source':>10}  {'target':>10}  (before)")
    for name, counts in report.to_json()["tables"].items():
        flag = "" if counts["source"] == counts["target_after"] else "  differs"
        print(f"{name:<{width}}  {counts['source']:>10}  {counts['target_after']:>10}  "
              f"({counts['target_before']}){flag}")
    print("counts match" if report.matches else "counts differ: the target holds rows the source does not")


async def run_copy(args: argparse.Namespace, settings: Settings) -> int:
    try:
        source_at, target_at = parse_location(args.source), parse_location(args.target)
        if source_at == target_at:
            raise StoreError("--from and --to name the same database")
        source = await open_store(source_at, create=False)
        try:
            target = await open_store(target_at)
            try:
                done: dict[str, int] = {}

                def progress(table: str, rows: int) -> None:
                    done[table] = done.get(table, 0) + rows
                    print(f"\r{table}: {done[table]} rows", end="", file=sys.stderr, flush=True)

                report = await copy_database(source, target, on_rows=progress)
                if done:
                    print(file=sys.stderr)
            finally:
                await target.close()
        finally:
            await source.close()
    except StoreError as exc:
        raise StorageError(str(exc)) from exc
    if args.json:
        print_json({"from": _shown(source_at), "to": _shown(target_at), **report.to_json()})
    else:
        print(f"copied {_shown(source_at)} -> {_shown(target_at)}")
        _print(report)
    return 0 if report.matches else 1
