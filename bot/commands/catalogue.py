"""Catalogue commands: add, embed, import, stats, config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from moodtape.bot.commands.common import checked_limit, engine_for, print_json
from moodtape.bot.commands.link_add import finish_links, links_failed, print_links
from moodtape.bot.progress import progress_bar
from moodtape.core.config import Settings
from moodtape.core.links.service import looks_like_link
from moodtape.core.text import byte_size


def register(sub: argparse._SubParsersAction) -> None:
    add = sub.add_parser(
        "add", help="add audio files or folders to the catalogue",
        description="Adds files (folders recursively), de-duplicated by content. New tracks are embedded at "
                    "once unless --no-embed (then `moodtape embed` or the scheduler does it). Files that are "
                    "not usable audio are reported with the reason and kept as failed.",
    )
    add.add_argument("paths", nargs="+", metavar="PATH",
                     help="a file, a folder, or a link to a track (Deezer, Spotify, YouTube, SoundCloud, "
                          "Bandcamp, or an audio file on the web)")
    add.add_argument("--no-embed", action="store_true", help="only record the tracks as pending")
    add.add_argument("--licence", help="licence to record for these tracks (e.g. CC-BY-4.0)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=run_add)

    embed = sub.add_parser("embed", help="embed every pending track now")
    embed.add_argument("--limit", type=int, default=None, help="at most this many tracks (at least 1)")
    embed.add_argument("--json", action="store_true")
    embed.set_defaults(handler=run_embed)

    imp = sub.add_parser(
        "import", help="import a metadata-only catalogue or playlists",
        description="FILE is a Spotify Million Playlist Dataset slice (JSON, optionally gzipped), a JSPF "
                    "playlist (what `moodtape export` and ListenBrainz write) or a CSV with "
                    "columns title (required), artist, album, duration_s, url, external_id, licence, and "
                    "optionally playlist + position. Tracks are matched to the catalogue by normalised "
                    "artist + title; re-importing changes nothing.",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)

    stats = sub.add_parser("stats", help="what the catalogue holds")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=run_stats)

    config = sub.add_parser("config", help="show the effective settings (secrets hidden)")
    config.set_defaults(handler=run_config)


def exit_code(failed: int) -> int:
    """The CLI's convention (bot/cli.py): 0 when everything asked for was done, 1 when some items failed."""
    return 1 if failed else 0


async def run_add(args: argparse.Namespace, settings: Settings) -> int:
    links = [p for p in args.paths if looks_like_link(p)]
    paths = [Path(p) for p in args.paths if not looks_like_link(p)]
    async with engine_for(settings) as engine:
        link_report = None
        if links:
            with progress_bar("embedding", unit="track") as progress:
                link_report = await engine.add_links(links, added_by="cli", embed=not args.no_embed,
                                                     progress=progress)
        if link_report is not None and not paths:
            finish_links(link_report, args.json)
            return exit_code(links_failed(link_report))
        with progress_bar("adding") as added, progress_bar("embedding", unit="track") as embedded:
            report, embed_report = await engine.add_files(
                paths, added_by="cli", licence=args.licence, embed=not args.no_embed,
                progress=added, embed_progress=embedded,
            )
    failed = list(report.failed) + [(label, reason) for _, label, reason in (embed_report.failed if embed_report else [])]
    if args.json:
        data = report.to_json()
        data["embedded"] = embed_report.to_json() if embed_report else None
        if link_report is not None:
            data["links"] = link_report.to_json()
        print_json(data)
    else:
        ready = len(embed_report.ready) if embed_report else 0
        line = f"added {len(report.added)} track(s)"
        if embed_report is not None:
            line += f", {ready} ready"
        else:
            line += " as pending (run `moodtape embed`)"
        if report.duplicates:
            line += f"; {len(report.duplicates)} already in the catalogue"
        if report.skipped:
            line += f"; skipped {len(report.skipped)} non-audio file(s)"
        print(line)
        for path, reason in failed:
            print(f"  failed: {path}: {reason}", file=sys.stderr)
        if link_report is not None:
            print_links(link_report)
    return exit_code(len(failed) + (links_failed(link_report) if link_report is not None else 0))


async def run_embed(args: argparse.Namespace, settings: Settings) -> int:
    checked_limit(args.limit)
    async with engine_for(settings) as engine:
        with progress_bar("embedding", unit="track") as progress:
            report = await engine.embed_pending(limit=args.limit, progress=progress)
    if args.json:
        print_json(report.to_json())
    else:
        print(f"{len(report.ready)} track(s) ready, {len(report.failed)} failed")
        for _, label, reason in report.failed:
            print(f"  failed: {label}: {reason}", file=sys.stderr)
    return exit_code(len(report.failed))


async def run_import(args: argparse.Namespace, settings: Settings) -> int:
    async with engine_for(settings) as engine:
        with progress_bar("importing", unit="KB") as progress:
            report = await engine.import_file(args.file, progress=progress)
    if args.json:
        print_json(report.to_json())
    else:
        print(
            f"imported {args.file.name} ({report.format}): {report.tracks_new} new track(s), "
            f"{report.tracks_matched} matched to the catalogue, {report.playlists_added} playlist(s) added"
            + (f", {report.playlists_skipped} already there" if report.playlists_skipped else "")
            + (f", {report.rows_skipped} row(s) skipped" if report.rows_skipped else "")
            + (f", {report.tracks_skipped} track(s) skipped" if report.tracks_skipped else "")
        )
        for problem in report.problems:
            print(f"  skipped: {problem}", file=sys.stderr)
        if report.failed > len(report.problems):
            print(f"  ... and {report.failed - len(report.problems)} more", file=sys.stderr)
    return exit_code(report.failed)


async def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    async with engine_for(settings) as engine:
        stats = await engine.stats()
    if args.json:
        print_json(stats.to_json())
        return 0
    tracks = stats.tracks
    print(f"database: {stats.database} (schema v{stats.schema_version})")
    print(f"tracks: {tracks.total} ({tracks.ready} ready, {tracks.pending} pending, "
          f"{tracks.failed} failed, {tracks.metadata_only} metadata only)")
    for kind, versions in stats.vectors.items():
        if versions:
            print(f"{kind} vectors: " + ", ".join(f"{n} by {v}" for v, n in versions.items()))
    print(f"playlists: {stats.playlists} ({stats.playlist_entries} entries); feedback: {stats.feedback}")
    for index in (stats.ann or {}).get("indexes", []):
        if index["version"] is not None:
            print(f"{index['kind']} search index: {index['vectors']} vectors, {byte_size(index['bytes_memory'])} "
                  f"in memory ({index['state']})")
    if stats.jobs:
        print("jobs: " + ", ".join(f"{n} {s}" for s, n in stats.jobs.items()))
    if stats.queries_use == "demo":
        print(f"queries use the bundled demo catalogue ({stats.demo_tracks} tracks) until you add music")
    elif stats.chat_uses == "demo":
        print(f"the mood chat uses the bundled demo catalogue ({stats.demo_tracks} tracks) until songs of "
              "your own have a mood (add audio)")
    return 0


def run_config(args: argparse.Namespace, settings: Settings) -> int:
    data = json.loads(settings.model_dump_json())
    data["db"] = str(settings.db_path)
    print_json(data)
    return 0
