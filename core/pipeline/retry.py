"""The retry policy: when a track or job that failed for a passing reason (network) is tried again.

Exponential backoff from the scheduler's tick interval, capped at a day, with jitter so that workers which
failed together do not retry together; after `max_attempts` failures the item fails for good, with the reason.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from moodtape.core.config import Settings
from moodtape.core.pipeline.stamps import now_stamp
from moodtape.db.models import Track
from moodtape.db.store import Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 24 * 3600.0

#: What `embed_tracks` calls for a track whose failure may pass (`on_transient`).
TransientHandler = Callable[[Track, str], Awaitable[None]]


def retry_delay_s(settings: Settings, attempts: int) -> float:
    """Exponential backoff from the tick interval, capped at a day, with ±10 % jitter."""
    base = settings.embed_interval_s * (2 ** max(0, attempts - 1))
    return min(base, MAX_RETRY_DELAY_S) * random.uniform(0.9, 1.1)


def retry_later(store: Store, settings: Settings) -> TransientHandler:
    """`on_transient` for `embed_tracks`: keep the track pending with the error, due again after a backoff;
    after `max_attempts` failures it is failed for good."""

    async def schedule(track: Track, reason: str) -> None:
        attempts = track.attempts + 1
        if attempts >= settings.max_attempts:
            await store.set_status(track.id, "failed", f"{reason} (gave up after {attempts} attempts)",
                                   count_attempt=True)
            log.warning("track #%s failed for good after %s attempts: %s", track.id, attempts, reason)
            return
        when = now_stamp(retry_delay_s(settings, attempts))
        await store.set_status(track.id, "pending", reason, next_attempt_at=when, count_attempt=True)
        log.info("track #%s: %s; retry %s of %s at %s", track.id, reason, attempts + 1, settings.max_attempts, when)

    return schedule
