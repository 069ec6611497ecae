"""When the collaborative vectors are refitted, and the refit as a scheduler job.

Collaborative vectors are fitted on playlist entries and 👍/👎 votes.  A cheap signature of those is kept in
`meta` after each refit; the scheduler refits when the signature changed and the last refit is at least
`cf_refresh_interval_h` old (a refit is minutes of CPU, so a burst of votes waits for the next window).
"""

from __future__ import annotations

import hashlib
from typing import Any

from moodtape.core.config import Settings
from moodtape.core.pipeline.stamps import hours_since, now_stamp
from moodtape.db.store import Store

#: meta keys: what the last collaborative refresh saw, and when it ran
CF_SIGNATURE_KEY, CF_REFRESHED_AT_KEY = "cf_refresh_signature", "cf_refreshed_at"


async def cf_signature(store: Store) -> str:
    """What collaborative vectors are fitted on: playlist entries and votes (a change means refit)."""
    stats = await store.stats()
    votes = await store.feedback()
    digest = hashlib.sha256(repr(votes).encode()).hexdigest()[:12]
    return f"{stats['playlists']['entries']}:{len(votes)}:{digest}"


async def cf_refresh_due(store: Store, settings: Settings) -> bool:
    """Playlists or votes changed since the last refit, and the last one is old enough."""
    signature = await cf_signature(store)
    if signature.startswith("0:0:") or signature == await store.get_meta(CF_SIGNATURE_KEY):
        return False
    return hours_since(await store.get_meta(CF_REFRESHED_AT_KEY)) >= settings.cf_refresh_interval_h


async def refit_cf(store: Store, settings: Settings, device: str) -> dict[str, Any]:
    """Refit the collaborative vectors on every playlist and 👍/👎 (the votes become interactions).

    Returns the job's detail: method, version, counts and the refit's own outcome.
    """
    from moodtape.core.cf.refresh import refresh_cf  # scipy and the fitters: loaded only when a refit runs

    signature = await cf_signature(store)
    report = await refresh_cf(store, method=settings.cf_method, device=device)
    await store.set_meta(CF_SIGNATURE_KEY, signature)
    await store.set_meta(CF_REFRESHED_AT_KEY, now_stamp())
    detail = {key: report[key] for key in ("method", "version", "entries", "feedback") if key in report}
    detail["outcome"] = report.get("status")  # "status" is the job's own key in outcomes
    return detail
