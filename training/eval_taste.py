"""`moodtape eval taste`: does a person's 👎 make a disliked kind of music disappear from their answers, and
what does it cost in relevance?

A simulation, because no log of real people's votes exists: the Emotify clips (by default; any folder of
Emotify's layout) are added to a catalogue of their own with the default audio embedder, exactly as
`moodtape add` does, and synthetic listeners who dislike one genre ask the mood chat for songs round after
round.  Each listener asks a mood (a point of the valence/arousal plane, drawn from a fixed set), gets the
engine's answer for their `user_ref` (`Engine.songs_for_reading`, the code the bots run), and votes: 👎 on every
song of the disliked genre, 👍 on the others with probability `--like-rate`.  A round is `--days-per-round`
days: votes are back-dated as rounds pass, so the decay (`MOODTAPE_TASTE_HALF_LIFE_DAYS`) is part of it.

Reported per round, averaged over listeners: the disliked genre's share of the answer the listener got, and
on a fixed probe set of moods (every probe mood, asked after that round's votes) the disliked share, the mean
mood distance of the songs to the asked point, and the share of songs within `--fit` of it ("still fits the
mood"), and the same for "songs like" 6 fixed songs of the other genres (disliked share, mean similarity).
Next to it, the no-feedback baseline (the same probes without a person) and the best any answer can
do without the disliked genre (the k nearest songs of the other genres), so the price of avoidance is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from moodtape.core.config import Settings
from moodtape.core.engine import Engine
from moodtape.core.errors import UserError
from moodtape.core.mood.reader import MoodReading
from moodtape.core.results import print_json

__all__ = ["PROBE_MOODS", "add_commands", "evaluate_taste"]

#: Songs (of the genres not disliked) whose "songs like" answers are probed after each round too: votes cast
#: in the mood chat must clean those answers as well.
SIMILAR_PROBES = 6
#: The moods asked: the corners, edges and middle of the plane (valence, arousal).
PROBE_MOODS: tuple[tuple[float, float], ...] = tuple(
    (v, a) for v in (-0.6, 0.0, 0.6) for a in (-0.6, 0.0, 0.6))


def _reading(valence: float, arousal: float) -> MoodReading:
    return MoodReading(text="", probs={"neutral": 1.0}, label="neutral", valence=valence, arousal=arousal,
                       confidence=1.0, language="en", model="simulation")


def _emotify_genres(folder: Path) -> dict[Path, str]:
    table = folder / "tracks.csv"
    if not table.is_file():
        raise UserError(f"{table} not found (expected the Emotify folder with tracks.csv and clips/)")
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = {(folder / row["file"]).resolve(): row["genre"] for row in rows if (folder / row["file"]).is_file()}
    if not found:
        raise UserError(f"none of the clips listed in {table} are on disk")
    return found


async def _catalogue(engine: Engine, genres: dict[Path, str]) -> dict[int, tuple[str, np.ndarray]]:
    """Add (and embed) the clips; track id -> (genre, mood point) of every clip that has a mood."""
    await engine.add_files(sorted(genres))  # known files add nothing: a second run reuses the catalogue
    tracks = await engine.store.list_tracks(status="ready")
    moods = await engine.store.get_vectors("mood", [t.id for t in tracks])
    out = {}
    for track in tracks:
        genre = genres.get(Path(track.source or "").resolve())
        if genre is not None and track.id in moods:
            out[track.id] = (genre, np.asarray(moods[track.id].vector, dtype=np.float32))
    return out


async def _backdate(engine: Engine, user_ref: str, voted_round: dict[int, int], round_now: int,
                    days_per_round: float, now: datetime) -> None:
    """Give each of the listener's votes the time of its round, `days_per_round` days per round ago."""
    rows = [((now - timedelta(days=(round_now - r) * days_per_round)).strftime("%Y-%m-%dT%H:%M:%SZ"), tid, user_ref)
            for tid, r in voted_round.items()]
    if rows:
        async with engine.store.transaction() as conn:
            await conn.executemany("UPDATE feedback SET created_at = ? WHERE track_id = ? AND user_ref = ?", rows)


def _measure(ids: list[int], asked: tuple[float, float], songs: dict[int, tuple[str, np.ndarray]],
             disliked: str, fit: float) -> tuple[float, float, float]:
    """(disliked share, mean mood distance to the asked point, share within `fit`) of one answer."""
    if not ids:
        return 0.0, float("nan"), 0.0
    point = np.asarray(asked, dtype=np.float32)
    dist = [float(np.linalg.norm(songs[t][1] - point)) for t in ids]
    return (sum(songs[t][0] == disliked for t in ids) / len(ids), float(np.mean(dist)),
            sum(d <= fit for d in dist) / len(ids))


async def _simulate(engine: Engine, songs: dict[int, tuple[str, np.ndarray]], *, disliked: str, rounds: int,
                    listeners: int, k: int, like_rate: float, days_per_round: float, fit: float,
                    seed: int) -> dict[str, Any]:
    now = datetime.now(UTC)

    async def probe(user_ref: str | None) -> list[tuple[float, float, float]]:
        out = []
        for mood in PROBE_MOODS:
            answer = await engine.songs_for_reading(_reading(*mood), k, user_ref=user_ref)
            out.append(_measure([t.id for t in answer.tracks], mood, songs, disliked, fit))
        return out

    def mean(rows: list[tuple[float, float, float]]) -> dict[str, float]:
        a = np.asarray(rows, dtype=np.float64)
        return {"disliked_share": round(float(a[:, 0].mean()), 4), "mood_distance": round(float(a[:, 1].mean()), 4),
                "fits_mood": round(float(a[:, 2].mean()), 4)}

    others = {t: m for t, (g, m) in songs.items() if g != disliked}
    queries = random.Random(seed).sample(sorted(others), min(SIMILAR_PROBES, len(others)))

    async def probe_similar(user_ref: str | None) -> list[tuple[float, float]]:
        """(disliked share, mean similarity to the query) of "songs like" each query song (not disliked)."""
        out = []
        for query in queries:
            answer = await engine.similar(str(query), k, user_ref=user_ref)
            ids = [t.id for t in answer.tracks]
            out.append((sum(songs.get(t, ("", None))[0] == disliked for t in ids) / max(1, len(ids)),
                        float(np.mean([t.score for t in answer.tracks])) if ids else float("nan")))
        return out

    def mean_similar(rows: list[tuple[float, float]]) -> dict[str, float]:
        a = np.asarray(rows, dtype=np.float64)
        return {"disliked_share": round(float(a[:, 0].mean()), 4), "similarity": round(float(a[:, 1].mean()), 4)}

    baseline = mean(await probe(None))
    baseline_similar = mean_similar(await probe_similar(None))
    best_similar = []
    for query in queries:  # the k most similar songs outside the disliked genre
        wide = await engine.similar(str(query), min(len(songs) - 1, 100))
        kept = [t.score for t in wide.tracks if songs.get(t.id, ("", None))[0] != disliked][:k]
        best_similar.append((0.0, float(np.mean(kept)) if kept else float("nan")))
    best = []
    for mood in PROBE_MOODS:  # the best an answer can do without the disliked genre: its k nearest other songs
        point = np.asarray(mood, dtype=np.float32)
        nearest = sorted(others, key=lambda t: float(np.linalg.norm(others[t] - point)))[:k]
        best.append(_measure(nearest, mood, songs, disliked, fit))
    per_round: list[dict[str, Any]] = [{"round": r, "answered": [], "probe": [], "similar": []}
                                       for r in range(1, rounds + 1)]
    votes = {"down": 0, "up": 0}
    for listener in range(listeners):
        rng = random.Random(seed * 1000 + listener)
        ref = f"sim:{seed}:{listener}"
        await engine.forget(ref)
        voted_round: dict[int, int] = {}
        for r in range(rounds):
            await _backdate(engine, ref, voted_round, r, days_per_round, now)
            mood = PROBE_MOODS[rng.randrange(len(PROBE_MOODS))]
            answer = await engine.songs_for_reading(_reading(*mood), k, user_ref=ref)
            ids = [t.id for t in answer.tracks]
            per_round[r]["answered"].append(_measure(ids, mood, songs, disliked, fit))
            for tid in ids:
                if songs[tid][0] == disliked:
                    value = -1
                elif rng.random() < like_rate:
                    value = 1
                else:
                    continue
                await engine.feedback(tid, ref, value, {"sim": "taste", "round": r})
                voted_round[tid] = r
                votes["down" if value < 0 else "up"] += 1
            await _backdate(engine, ref, voted_round, r + 1, days_per_round, now)
            per_round[r]["probe"].extend(await probe(ref))
            per_round[r]["similar"].extend(await probe_similar(ref))
        await engine.forget(ref)
    rounds_out = []
    for row in per_round:
        answered = np.asarray(row["answered"], dtype=np.float64)
        rounds_out.append({"round": row["round"],
                           "answered_disliked_share": round(float(answered[:, 0].mean()), 4),
                           "after_votes": mean(row["probe"]),
                           "similar_after_votes": mean_similar(row["similar"])})
    return {"baseline_no_feedback": baseline, "best_without_genre": mean(best),
            "similar": {"queries": queries, "baseline_no_feedback": baseline_similar,
                        "best_without_genre": mean_similar(best_similar)},
            "rounds": rounds_out, "votes": votes}


async def _evaluate(folder: Path, database: Path, *, disliked: str, rounds: int, listeners: int, k: int,
                    like_rate: float, days_per_round: float, fit: float, seed: int, half_life_days: float
                    ) -> dict[str, Any]:
    genres = _emotify_genres(folder)
    if disliked not in set(genres.values()):
        raise UserError(f"no clip of genre {disliked!r}; the folder has {', '.join(sorted(set(genres.values())))}")
    settings = Settings(_env_file=None, db=database, data_dir=database.parent, demo="never",  # type: ignore[call-arg]
                        taste_half_life_days=half_life_days)
    async with await Engine.open(settings) as engine:
        songs = await _catalogue(engine, genres)
        counts = {g: sum(1 for s in songs.values() if s[0] == g) for g in sorted(set(genres.values()))}
        result = await _simulate(engine, songs, disliked=disliked, rounds=rounds, listeners=listeners, k=k,
                                 like_rate=like_rate, days_per_round=days_per_round, fit=fit, seed=seed)
    return {"catalogue": {"source": str(folder), "songs": len(songs), "per_genre": counts,
                          "disliked_genre": disliked, "catalogue_share": round(counts[disliked] / len(songs), 4)},
            "settings": {"rounds": rounds, "listeners": listeners, "k": k, "like_rate": like_rate,
                         "days_per_round": days_per_round, "half_life_days": half_life_days, "fit": fit,
                         "probe_moods": [list(m) for m in PROBE_MOODS], "seed": seed},
            **result}


def evaluate_taste(folder: Path, *, database: Path, disliked: str = "rock", rounds: int = 20, listeners: int = 10,
                   k: int = 5, like_rate: float = 0.3, days_per_round: float = 1.0, fit: float = 0.5,
                   seed: int = 0, half_life_days: float = 30.0) -> dict[str, Any]:
    """The simulation's JSON report (see the module docstring)."""
    if rounds < 1 or listeners < 1 or k < 1:
        raise UserError("--rounds, --listeners and --k must be at least 1")
    if not 0.0 <= like_rate <= 1.0:
        raise UserError("--like-rate is a probability between 0 and 1")
    return asyncio.run(_evaluate(folder, database, disliked=disliked, rounds=rounds, listeners=listeners, k=k,
                                 like_rate=like_rate, days_per_round=days_per_round, fit=fit, seed=seed,
                                 half_life_days=half_life_days))


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    parser = evaluate.add_parser(
        "taste", help="simulated listeners who 👎 one genre: how fast it leaves their answers, what relevance costs",
        description="Adds the clips of an Emotify-layout folder (tracks.csv with file and genre columns) to a "
                    "catalogue of their own (--database, reused by later runs), then simulates listeners who ask "
                    "the mood chat for songs each round and 👎 every song of --dislike (👍 others at --like-rate). "
                    "Prints JSON: per round the disliked share of the answers and, on fixed probe moods, the "
                    "disliked share, the mood distance and the share of songs still fitting the mood, next to "
                    "the no-feedback baseline.",
    )
    parser.add_argument("--emotify", type=Path, required=True, help="the Emotify folder (tracks.csv, clips/)")
    parser.add_argument("--dislike", default="rock", help="the genre the listeners dislike (rock)")
    parser.add_argument("--database", type=Path, default=Path("taste-eval.db"),
                        help="SQLite file of the simulation's catalogue (taste-eval.db; created, then reused)")
    parser.add_argument("--rounds", type=int, default=20, help="answers each listener rates (20)")
    parser.add_argument("--listeners", type=int, default=10, help="simulated listeners, each with its own seed (10)")
    parser.add_argument("-k", "--k", type=int, default=5, help="songs per answer (5)")
    parser.add_argument("--like-rate", type=float, default=0.3, help="chance of a 👍 on a song not disliked (0.3)")
    parser.add_argument("--days-per-round", type=float, default=1.0, help="days between two rounds (1)")
    parser.add_argument("--half-life-days", type=float, default=30.0, help="half-life of a vote (30)")
    parser.add_argument("--fit", type=float, default=0.5, help="mood distance that still fits the mood (0.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the listeners (0)")
    parser.add_argument("--json", action="store_true", help="JSON (the output is JSON either way)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    print_json(evaluate_taste(args.emotify, database=args.database, disliked=args.dislike, rounds=args.rounds,
                              listeners=args.listeners, k=args.k, like_rate=args.like_rate,
                              days_per_round=args.days_per_round, fit=args.fit, seed=args.seed,
                              half_life_days=args.half_life_days))
    return 0
