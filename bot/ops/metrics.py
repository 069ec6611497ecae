"""The service's Prometheus metrics: requests and reply latency per front end and command (fed by the bots
through `observe`), and, refreshed at each scrape, model load times, jobs and tracks by status.

prometheus-client's default registry is process-wide, which is what a scrape of one process wants; tests read
the same objects through `REGISTRY` and compare before/after values.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

from moodtape.bot.shared.request_ids import end_request, start_request, tag_request
from moodtape.core.errors import MoodtapeError

__all__ = ["REGISTRY", "observe", "outcome_of", "record", "render", "refresh"]

REQUESTS = Counter("moodtape_requests", "Requests answered, by front end, command and outcome",
                   ["front_end", "command", "outcome"])
REPLY_SECONDS = Histogram("moodtape_reply_seconds", "Time from receiving a request to the end of its answer",
                          ["front_end", "command"],
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
MODEL_LOAD_SECONDS = Gauge("moodtape_model_load_seconds", "Seconds the model took to load", ["model"])
MODELS_LOADED = Gauge("moodtape_models_loaded", "1 once the chat's emotion model is loaded")
JOBS = Gauge("moodtape_jobs", "Jobs in the queue by status", ["status"])
TRACKS = Gauge("moodtape_tracks", "Catalogue tracks by status", ["status"])


@asynccontextmanager
async def observe(front_end: str, command: str) -> AsyncIterator[None]:
    """Count one request and time its answer.  Outcomes: "ok"; "refused" for a `MoodtapeError` (bad input,
    no such track: the person was told why); "error" for anything else.  Exceptions are re-raised, so the
    front end's one error handler still answers the person."""
    began = time.perf_counter()
    outcome = "error"
    request = start_request()
    try:
        yield
        outcome = "ok"
    except MoodtapeError:
        outcome = "refused"
        raise
    except BaseException as exc:
        tag_request(exc)  # the error handler runs after this context ends: its apology keeps the id
        raise
    finally:
        end_request(request)
        record(front_end, command, outcome, time.perf_counter() - began)


def outcome_of(error: BaseException) -> str:
    """"refused" or "error" for a failed request (see `observe`)."""
    return "refused" if isinstance(error, MoodtapeError) else "error"


def record(front_end: str, command: str, outcome: str, seconds: float) -> None:
    """One answered request (for front ends that learn of the end in a callback, like Discord's)."""
    REQUESTS.labels(front_end, command, outcome).inc()
    REPLY_SECONDS.labels(front_end, command).observe(max(0.0, seconds))


def refresh(engine: Any, stats: dict[str, Any] | None) -> None:
    """Set the gauges from the engine and a `Store.stats()` answer (None: the database did not answer)."""
    for model, seconds in getattr(engine, "load_seconds", {}).items():
        MODEL_LOAD_SECONDS.labels(model).set(seconds)
    MODELS_LOADED.set(1 if getattr(engine, "models_loaded", False) else 0)
    if stats is None:
        return
    for status, count in stats.get("jobs", {}).items():
        JOBS.labels(status).set(count)
    for status, count in stats.get("tracks", {}).items():
        if status != "total":
            TRACKS.labels(status).set(count)


def render() -> bytes:
    """The Prometheus text exposition of every metric of this process."""
    return generate_latest(REGISTRY)
