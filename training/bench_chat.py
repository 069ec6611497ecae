"""`moodtape bench chat`: the whole mood reply and `similar` by id, timed in-process over a synthetic catalogue.

The issue judges the reply a person waits for, not one part of it: reading the message with the bundled
emotion model, the strategy's search through the songs' mood space, the reason lines and the CLI's text.  So
each message goes through the `Engine` exactly as `moodtape chat TEXT` does (`read_mood`, then
`songs_for_reading`, then the CLI's `chat_text`), and each part is timed on the way, which shows where the time
goes without a second run.  `similar` is timed the same way with random track ids; where the HNSW index is
in play, beside the index library alone on other tracks' vectors (the reply's overhead as a ratio), and the
recall@10 of its neighbour search is measured against vec0's exact scan.  Beside both, the store's reads a
`similar` reply makes (the track, its vector, the search, the neighbours' rows and moods; no engine, no
reasons, no text) are timed on other random tracks: what the reply costs beyond them is the engine's Python.

The catalogue is synthetic (seeded): N ready tracks with titles, an audio vector of the current audio model's
version (128-d unit vectors in clusters, so neighbours are meaningful) and a mood vector with the details the
real pipeline stores.  It is written with plain `executemany` in large transactions on a second connection
(the Store's per-row methods would take an hour at a million tracks) and kept, keyed by its parameters, so
re-runs start at once.  Nothing here asserts a speed; the numbers go to the README with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from moodtape.core.audio.musicnn_tags import KINDS
from moodtape.core.config import Settings
from moodtape.core.errors import UserError
from moodtape.core.mood.space import GEMS, STRATEGIES, canonical_distribution, describe
from moodtape.db.connect import connector, pick_driver
from moodtape.db.models import VECTOR_DIMS
from moodtape.db.mood_card import CARD_COLUMNS, card_values
from moodtape.db.store import Store
from moodtape.training.bench_stats import LAG_PERIOD_S, latency_ms, loop_lag_sampled
from moodtape.training.cli_output import positive_int

#: meta key naming the parameters a cached catalogue was built with (a mismatch rebuilds it).
CATALOGUE_KEY = "bench.chat.catalogue"
_BATCH = 20_000
#: What the synthetic rows hold; a catalogue built by an earlier format is rebuilt (2: tags in the details).
_FORMAT = 2
#: What the synthetic songs are tagged with (the tagger's canonical words but eras, 12 kept per song as
#: `core.audio.musicnn_tags.stored_tags` keeps them).
_TAG_WORDS = tuple(word for word, kind in KINDS.items() if kind != "era")
_TAGS_KEPT = 12
_WORDS = ("blue", "night", "river", "echo", "gold", "paper", "storm", "velvet", "neon", "glass", "winter",
          "fire", "slow", "city", "ghost", "summer", "lonely", "electric", "quiet", "wild")


def default_db(tracks: int, seed: int) -> Path:
    return Path(tempfile.gettempdir()) / f"moodtape-bench-chat-{tracks}-{seed}.db"


def current_versions() -> tuple[str, str]:
    """(audio, mood) model versions the pipeline stamps today, so `similar` and the chat find these tracks."""
    from moodtape.core.audio.embedders import load_audio_embedder
    from moodtape.core.mood.song_mood import load_song_mood_model

    return load_audio_embedder("cpu").version, load_song_mood_model().version


def _title(rng: np.random.Generator, i: int) -> tuple[str, str, str]:
    a, b, c, d = (int(x) for x in rng.integers(0, len(_WORDS), 4))
    return (f"{_WORDS[a].title()} {_WORDS[b]} {i}", f"Artist {i % 9973}", f"{_WORDS[c].title()} {_WORDS[d]} {i % 4999}")


def _mood_details(valence: float, arousal: float, gems: np.ndarray, tag_picks: np.ndarray,
                  tag_scores: np.ndarray) -> dict[str, Any]:
    """The details the pipeline stores beside a mood vector (`SongMood.details()` with the tagger's kept
    `tags` and their `top_tags`), for a synthetic song: 12 tags of `_TAG_WORDS` by index, their scores."""
    scores = {name: round(float(s), 4) for name, s in zip(GEMS, gems)}
    top = sorted(scores.items(), key=lambda item: -item[1])[:3]
    moods = canonical_distribution(valence, arousal)
    tags = {_TAG_WORDS[i]: round(float(p), 4) for i, p in zip(tag_picks, tag_scores)}
    return {"gems": scores, "top_gems": [name for name, _ in top], "mood": max(moods, key=moods.get),
            "description": describe(valence, arousal), "tags": tags,
            "top_tags": sorted(tags, key=lambda tag: -tags[tag])[:3]}


def _write(path: Path, n: int, seed: int, clusters: int, audio_version: str, mood_version: str) -> None:
    """Rows 1..n into an empty, migrated database, in transactions of `_BATCH` tracks."""
    rng = np.random.default_rng(seed)
    dim = VECTOR_DIMS["audio"]
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    conn = connector(path, pick_driver(), isolation_level=None)()
    try:
        with tqdm(total=n, desc="synthetic catalogue", unit="track", leave=False) as bar:
            for start in range(1, n + 1, _BATCH):
                ids = range(start, min(n, start + _BATCH - 1) + 1)
                size = len(ids)
                audio = centres[rng.integers(0, clusters, size)] + 0.5 * rng.standard_normal((size, dim)).astype(np.float32)
                audio /= np.linalg.norm(audio, axis=1, keepdims=True)
                mood = np.clip(rng.normal(0.0, 0.45, (size, 2)), -1.0, 1.0).astype(np.float32)
                gems = rng.random((size, len(GEMS)))
                tag_picks = np.argsort(rng.random((size, len(_TAG_WORDS))), axis=1)[:, :_TAGS_KEPT]
                tag_scores = rng.random((size, _TAGS_KEPT))
                details = [_mood_details(float(mood[j, 0]), float(mood[j, 1]), gems[j], tag_picks[j],
                                         tag_scores[j]) for j in range(size)]
                rows = []
                for j, i in enumerate(ids):
                    title, artist, album = _title(rng, i)
                    rows.append((i, title, artist, album, 180.0, "file", f"/music/bench/{i}.flac", f"bench-{seed}-{i}",
                                 "ready", *card_values(mood[j], mood_version, details[j])))
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO tracks (id, title, artist, album, duration_s, source_kind, source, content_hash, "
                    f"status, {CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                conn.executemany(
                    "INSERT INTO vec_audio (track_id, embedding, model_version) VALUES (?, ?, ?)",
                    [(i, audio[j].tobytes(), audio_version) for j, i in enumerate(ids)])
                conn.executemany(  # the mood card above: what the store's writes keep beside these rows
                    "INSERT INTO vec_mood (track_id, embedding, model_version, details) VALUES (?, ?, ?, ?)",
                    [(i, mood[j].tobytes(), mood_version, json.dumps(details[j])) for j, i in enumerate(ids)])
                conn.execute("COMMIT")
                bar.update(size)
    finally:
        conn.close()


def _remove(path: Path) -> None:
    """The database file, its journals and any approximate index saved beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(Path(f"{path}.ann"), ignore_errors=True)


async def build_catalogue(path: Path, n: int, *, seed: int = 0, clusters: int = 1000) -> dict[str, Any]:
    """The synthetic catalogue at `path`: reused when it was built with the same parameters, else rebuilt.

    Returns its description (tracks, versions, seconds spent building, whether the cached file was reused).
    """
    if n < 1:
        raise ValueError("the catalogue needs at least one track")
    audio_version, mood_version = current_versions()
    key = json.dumps({"tracks": n, "seed": seed, "clusters": clusters, "audio": audio_version,
                      "mood": mood_version, "format": _FORMAT}, sort_keys=True)
    info = {"tracks": n, "seed": seed, "clusters": clusters, "audio_version": audio_version,
            "mood_version": mood_version, "db": str(path)}
    if path.is_file():
        async with await Store.open(path, create=False) as store:
            if await store.get_meta(CATALOGUE_KEY) == key:
                return {**info, "reused": True, "build_s": 0.0}
        _remove(path)
    started = time.perf_counter()
    async with await Store.open(path) as store:  # creates the file and applies the migrations
        pass
    await asyncio.to_thread(_write, path, n, seed, clusters, audio_version, mood_version)
    async with await Store.open(path) as store:
        await store.set_meta(CATALOGUE_KEY, key)  # last: an interrupted build is rebuilt next time
    return {**info, "reused": False, "build_s": round(time.perf_counter() - started, 2)}


def _summary(totals: list[float], wall_s: float, parts: dict[str, list[float]], produced: int) -> dict[str, Any]:
    return {"n": len(totals), **latency_ms(totals, 3), "replies_per_s": round(len(totals) / wall_s, 2),
            "breakdown": {name: {k: v for k, v in latency_ms(values, 3).items() if k in ("p50_ms", "p99_ms")}
                          for name, values in parts.items()},
            "replies_with_songs": produced}


async def bench_chat_engine(engine: Any, texts: list[str], track_ids: list[int], *, k: int, strategy: str,
                            render_chat: Callable[[Any], str], render_similar: Callable[[Any], str],
                            warmup: int = 3, library: Any = None, library_breadth: int | None = None,
                            cold_file: Path | None = None) -> dict[str, Any]:
    """Time `engine`'s mood reply per text and `similar` per track id; each part on the way.

    `library`: the usearch index `similar` searches (None when the exact scan answers); beside each reply
    the library alone searches, with the breadth `similar` uses (`library_breadth`), the vector of another
    track of the draw (one asked half a run away), just before or just after the reply in turn, which gives
    the reply's overhead as a ratio.  Never the reply's own vector: a search repeated at once finds its
    graph nodes in the CPU cache and takes half the time, so pairing them made each median a mix of warm
    and cold searches (the ratio moved between 1.7 and 2.2 from run to run).  The store's reads alone are
    timed the same way, on tracks a third of a run away.

    `cold_file`: the catalogue's file, dropped from the OS page cache before the `similar` timings (as after
    a restart); the event loop's lag is then sampled while they run, each reply followed by a return to the
    loop as a bot's handler makes: what a read from the disk on the loop's thread would cost every chat.
    """
    strategies = list(STRATEGIES) if strategy == "all" else [strategy]
    for text in texts[:warmup]:  # model load, first-call allocations, page cache
        for name in strategies:
            render_chat(await engine.songs_for_reading(await engine.read_mood(text), k, name))
    for tid in track_ids[:warmup]:
        render_similar(await engine.similar(str(tid), k))

    parts: dict[str, list[float]] = {"reading": [], "search": [], "render": []}
    totals: list[float] = []
    produced = 0
    pauses_before = engine.store.loop_read_pauses
    started = time.perf_counter()
    for i, text in enumerate(tqdm(texts, desc="mood replies", unit="msg", leave=False)):
        t0 = time.perf_counter()
        reading = await engine.read_mood(text)
        t1 = time.perf_counter()
        result = await engine.songs_for_reading(reading, k, strategies[i % len(strategies)])
        t2 = time.perf_counter()
        reply = render_chat(result)
        t3 = time.perf_counter()
        for name, ms in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
            parts[name].append(ms * 1000.0)
        totals.append((t3 - t0) * 1000.0)
        produced += bool(result.tracks) and bool(reply)
    chat = _summary(totals, time.perf_counter() - started, parts, produced)
    chat["loop_read_pauses"] = engine.store.loop_read_pauses - pauses_before

    parts, totals, produced = {"search": [], "render": []}, [], 0
    alone: list[float] = []
    reads: list[float] = []
    half, third = len(track_ids) // 2, len(track_ids) // 3
    library_ids = track_ids[half:] + track_ids[:half]
    store_ids = track_ids[third:] + track_ids[:third]
    wall = 0.0
    default_breadth = library.expansion_search if library is not None else None
    lag_ms: list[float] = []
    pauses_before = engine.store.loop_read_pauses
    if cold_file is not None:
        drop_from_page_cache(cold_file)
    async with loop_lag_sampled(lag_ms) if cold_file is not None else contextlib.nullcontext():
        for i, tid in enumerate(tqdm(track_ids, desc="similar", unit="query", leave=False)):
            query = None
            if library is not None:  # untimed: the library gets the vector handed
                found_vector = await engine.store.vector_array("audio", library_ids[i])
                query = None if found_vector is None else found_vector[0]
            if query is not None and i % 2 == 0:
                alone.append(_library_ms(library, query, k + 1, library_breadth))
            if cold_file is not None:
                await asyncio.sleep(0)  # back to the loop between steps, as a bot's handlers return to it
            t0 = time.perf_counter()
            found = await engine.similar(str(tid), k)
            t1 = time.perf_counter()
            reply = render_similar(found)
            t2 = time.perf_counter()
            wall += t2 - t0
            if query is not None and i % 2 == 1:
                alone.append(_library_ms(library, query, k + 1, library_breadth))
            parts["search"].append((t1 - t0) * 1000.0)
            parts["render"].append((t2 - t1) * 1000.0)
            totals.append((t2 - t0) * 1000.0)
            produced += bool(found.tracks) and bool(reply)
            elapsed = await _store_reads_ms(engine.store, store_ids[i], k)
            if elapsed is not None:
                reads.append(elapsed)
            if cold_file is not None:
                await asyncio.sleep(0)
    similar = _summary(totals, wall, parts, produced)
    similar["loop_read_pauses"] = engine.store.loop_read_pauses - pauses_before
    if cold_file is not None:
        similar["cold_file"] = True
        similar["loop_lag"] = {**latency_ms(lag_ms, 2), "samples": len(lag_ms), "period_ms": LAG_PERIOD_S * 1000}
    if reads:
        store = latency_ms(reads, 3)
        similar["store_reads_alone"] = {"p50_ms": store["p50_ms"], "p99_ms": store["p99_ms"]}
    if alone:
        lib = latency_ms(alone, 3)
        similar["library_alone"] = {"p50_ms": lib["p50_ms"], "p99_ms": lib["p99_ms"],
                                    "breadth": library_breadth or default_breadth}
        similar["ratio_to_library_p50"] = round(similar["p50_ms"] / lib["p50_ms"], 2)
        if reads:
            similar["store_reads_ratio_to_library_p50"] = round(similar["store_reads_alone"]["p50_ms"]
                                                                / lib["p50_ms"], 2)
    return {"chat": chat, "similar": similar}


def read_into_page_cache(path: Path, chunk: int = 1 << 20) -> float:
    """Read the whole file once (seconds taken), so the timings start with it in the OS page cache as on a
    server that has been answering for a while; a 1M-track catalogue is 1.3 GB.  Without it the first run
    after `--cold`, a reboot or another big file would time reads from the disk."""
    started = time.perf_counter()
    with path.open("rb", buffering=0) as file:
        while file.read(chunk):
            pass
    return round(time.perf_counter() - started, 2)


def drop_from_page_cache(path: Path) -> None:
    """Ask the OS to forget the file's cached pages (`posix_fadvise`, Linux), so the next reads come from the
    disk as after a restart; pages this process has already mapped stay.  A clear error where there is none."""
    if not hasattr(os, "posix_fadvise"):
        raise UserError("--cold needs posix_fadvise to drop the file from the page cache (Linux)")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


async def _store_reads_ms(store: Store, track_id: int, k: int) -> float | None:
    """The store calls `similar` by id makes, in its order, timed (its vector, the search, one read of the
    neighbours' rows with the track's own: `QueryRow`); None for a track without a sound vector."""
    t0 = time.perf_counter()
    found = await store.vector_array("audio", track_id)
    if found is None:
        return None
    hits = await store.knn("audio", found[0], k, exclude={track_id}, stored_query=True)
    tracks, _ = await store.tracks_with_moods([*(h.track_id for h in hits), track_id], tags_only=True)
    elapsed = (time.perf_counter() - t0) * 1000.0
    return elapsed if track_id in tracks else None


def _library_ms(index: Any, query: np.ndarray, count: int, breadth: int | None) -> float:
    """One search in the usearch index alone (the store sets the breadth the same way, outside the timing)."""
    default = index.expansion_search
    if breadth is not None:
        index.expansion_search = breadth
    t0 = time.perf_counter()
    index.search(query, count)
    elapsed = (time.perf_counter() - t0) * 1000.0
    index.expansion_search = default
    return elapsed


async def similar_recall(store: Store, track_ids: list[int], k: int = 10) -> dict[str, Any]:
    """recall@k of the neighbour search `similar` runs (a catalogue track's own vector, itself excluded)
    against vec0's exact scan of the same table; 1.0 by construction when no index is in play."""
    found = 0
    asked = 0
    for tid in tqdm(track_ids, desc="similar recall (exact scans)", unit="query", leave=False):
        stored = await store.get_vector("audio", tid)
        if stored is None:
            continue
        query = np.asarray(stored.vector, dtype=np.float32)
        approximate = await store.knn("audio", query, k, exclude={tid}, stored_query=True)  # as `similar` asks
        exact = await store.knn("audio", query, k, exclude={tid}, exact=True)
        found += len({h.track_id for h in approximate} & {h.track_id for h in exact})
        asked += len(exact)
    return {"recall_at_10" if k == 10 else f"recall_at_{k}": round(found / asked, 4) if asked else None,
            "recall_queries": len(track_ids)}


def _renderers() -> tuple[Callable[[Any], str], Callable[[Any], str]]:
    """The CLI's own text renderers: the benchmark times the reply a person reads, rendering included.

    Imported here, on use: training otherwise depends on core and db only.
    """
    from moodtape.bot.render import chat_text, similar_text

    return chat_text, similar_text


async def run_bench_chat(settings: Settings, *, tracks: int, messages: int = 200, queries: int | None = None,
                         k: int | None = None, strategy: str = "match", seed: int = 0, db: Path | None = None,
                         ann_min_tracks: int | None = None, threads: int | None = None,
                         recall_queries: int = 50, cold: bool = False) -> dict[str, Any]:
    from moodtape.core.engine import Engine
    from moodtape.training.bench import machine
    from moodtape.training.bench_emotion import ENGLISH, sample_messages

    if threads:
        import torch

        torch.set_num_threads(threads)
    path = db or default_db(tracks, seed)
    catalogue = await build_catalogue(path, tracks, seed=seed)
    update: dict[str, Any] = {"db": path, "demo": "auto"}
    if ann_min_tracks is not None:
        update["ann_min_tracks"] = ann_min_tracks
    settings = settings.model_copy(update=update)
    k = k or settings.default_k
    texts = sample_messages(ENGLISH, messages, seed=seed)
    rng = np.random.default_rng(seed + 1)
    ids = [int(i) for i in rng.integers(1, tracks + 1, queries or messages)]
    render_chat, render_similar = _renderers()
    page_cache_s = await asyncio.to_thread(read_into_page_cache, path)
    async with await Engine.open(settings) as engine:
        started = time.perf_counter()
        indexes = await _wait_for_indexes(engine.store)
        index_s = time.perf_counter() - started
        in_play = tracks >= settings.ann_min_tracks and set(indexes.values()) == {"ready"}
        library = engine.store.ann.index("audio", catalogue["audio_version"]) if in_play else None
        breadth = engine.store.ann.params.expansion_search_stored  # what `similar` by a track searches with
        timings = await bench_chat_engine(engine, texts, ids, k=k, strategy=strategy,
                                          render_chat=render_chat, render_similar=render_similar,
                                          library=library, library_breadth=breadth,
                                          cold_file=path if cold else None)
        timings["similar"].update(await similar_recall(engine.store, ids[:recall_queries]))
    catalogue["read_into_page_cache_s"] = page_cache_s
    return {"catalogue": catalogue, "k": k, "strategy": strategy, "messages": messages,
            "ann": {"min_tracks": settings.ann_min_tracks, "in_play": in_play, "states": indexes,
                    "load_or_build_s": round(index_s, 2)},
            **timings, "machine": machine()}


async def _wait_for_indexes(store: Store) -> dict[str, str]:
    """Let the approximate indexes of a large catalogue load or build before timing; their states.

    A search starts the background load (or, the first time, the build) of a kind's index once its table
    reaches the threshold; until it is ready the exact scan answers, which is not what a running bot sees.
    """
    states = {}
    for kind in ("mood", "audio"):
        probe = np.zeros(VECTOR_DIMS[kind], dtype=np.float32)
        probe[0] = 1.0
        await store.knn(kind, probe, 1)
        states[kind] = await store.ann.wait(kind)
    return states


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    chat = bench.add_parser(
        "chat", help="the whole mood reply and `similar` by id, in-process, over a synthetic catalogue of N tracks",
        description="Builds (once, then reuses) a seeded synthetic catalogue of N ready tracks with audio and mood "
                    "vectors, then times each message through the engine as `moodtape chat` answers it (emotion "
                    "reading, strategy search, reasons, the CLI's text) and `similar` by random track id (beside the "
                    "index library alone and the store's reads alone, and its recall@10 against an exact scan). Reports "
                    "p50/p99 ms, replies per second and the median of each part. The catalogue file is read once first, "
                    "so the timings start with it in the OS page cache (see --cold for the other case).",
    )
    chat.add_argument("--tracks", type=positive_int, required=True, help="tracks in the synthetic catalogue")
    chat.add_argument("--messages", type=positive_int, default=200, help="mood messages to time (default 200)")
    chat.add_argument("--queries", type=positive_int, default=None,
                      help="`similar` queries to time (default: as many as --messages)")
    chat.add_argument("--strategy", choices=[*STRATEGIES, "all"], default="match",
                      help="strategy of every reply, or `all` to take turns (default match)")
    chat.add_argument("--k", type=positive_int, default=None, help="songs per reply (default: the setting, 5)")
    chat.add_argument("--seed", type=int, default=0)
    chat.add_argument("--db", type=Path, default=None, dest="catalogue_db",
                      help="where to keep the catalogue (default: a file per N and seed in the temp folder)")
    chat.add_argument("--ann-min-tracks", type=int, default=None,
                      help="override MOODTAPE_ANN_MIN_TRACKS for this run (a huge value forces exact search)")
    chat.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads for the emotion model")
    chat.add_argument("--recall-queries", type=positive_int, default=50,
                      help="`similar` queries whose neighbours are also found by an exact scan, for recall@10 "
                           "(default 50; an exact scan of 1M vectors takes about 0.3 s)")
    chat.add_argument("--cold", action="store_true",
                      help="drop the catalogue file from the OS page cache before timing `similar` (as after a "
                           "restart; Linux) and report the event loop's lag meanwhile (`similar.loop_lag`)")
    chat.add_argument("--json", action="store_true")
    chat.set_defaults(handler=_bench_chat)


async def _bench_chat(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.cli_output import emit

    result = await run_bench_chat(settings, tracks=args.tracks, messages=args.messages, queries=args.queries,
                                  k=args.k, strategy=args.strategy, seed=args.seed, db=args.catalogue_db,
                                  ann_min_tracks=args.ann_min_tracks, threads=args.threads,
                                  recall_queries=args.recall_queries, cold=args.cold)
    return emit(result, args.json)
