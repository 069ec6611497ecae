"""Which collaborative vectors are current: kept in the store's `meta` table by each refresh.

`vec_cf` rows carry the model version that made them; old rows of tracks that left the model keep their old
version, so queries search the current versions only.  Two versions can be current at once: the fitted
model's, and the bridge's predictions for tracks with audio but no playlists (a different, noisier kind of
evidence that reason lines must not dress up as playlist history).
"""

from __future__ import annotations

import json
import time
import weakref
from dataclasses import dataclass
from typing import Any

from moodtape.core.cf.bridge import Bridge
from moodtape.db.store import Store

STATE_KEY = "cf.state"
BRIDGE_KEY = "cf.bridge"
#: Seconds a store's state is reused before `load_state` reads it again.  Every `similar` asks for it, and
#: at a million tracks that read (a round trip to the database thread) was a fifth of the reply; a refresh
#: through the same store shows at once, one made by another process within this time.
STATE_TTL_S = 1.0

_recent: weakref.WeakKeyDictionary[Any, tuple[float, CFState | None]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CFState:
    version: str
    predicted_version: str | None = None
    method: str = ""
    tracks: int = 0
    predicted: int = 0

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.version,) if self.predicted_version is None else (self.version, self.predicted_version)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def load_state(store: Store, *, max_age_s: float = STATE_TTL_S) -> CFState | None:
    """The current collaborative versions, or None before the first refresh; re-read at most every
    `max_age_s` per store (0: read now)."""
    now = time.monotonic()
    recent = _recent.get(store)
    if recent is not None and now - recent[0] < max_age_s:
        return recent[1]
    raw = await store.get_meta(STATE_KEY)
    state = None
    if raw:
        data = json.loads(raw)
        state = CFState(**{k: data[k] for k in CFState.__dataclass_fields__ if k in data})
    _recent[store] = (now, state)
    return state


async def save_state(store: Store, state: CFState, bridge: Bridge | None) -> None:
    await store.set_meta(BRIDGE_KEY, bridge.to_json() if bridge is not None else "")
    await store.set_meta(STATE_KEY, json.dumps(state.to_json(), sort_keys=True))
    _recent.pop(store, None)


async def load_bridge(store: Store) -> Bridge | None:
    raw = await store.get_meta(BRIDGE_KEY)
    return Bridge.from_json(raw) if raw else None

