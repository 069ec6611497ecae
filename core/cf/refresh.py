"""Refit the collaborative vectors from the store's playlists and 👍/👎, and write them to `vec_cf`.

The scheduler calls `refresh_cf` periodically, so feedback given since the last run is folded in (see
`core.cf.matrix` for how votes become interactions).  Fitting runs in a worker thread: a Discord heartbeat
must not wait for ALS.  After the fit, tracks that have audio but no playlist history get the vector the
content-to-collaborative bridge predicts from their sound, when enough tracks have both to learn it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import numpy as np
from moodtape.core.cf.bridge import MIN_TRACKS, Bridge, fit_bridge
from moodtape.core.cf.matrix import Interactions, build_interactions
from moodtape.core.cf.state import CFState, load_state, save_state
from moodtape.core.errors import UserError
from moodtape.core.vectors import unit
from moodtape.db.models import VECTOR_DIMS
from moodtape.db.store import Store

log = logging.getLogger(__name__)

METHODS = ("als", "dae", "itemknn")

#: Settings used at run time; chosen on a validation split of the MPD subset (see training/cf.py).
ALS_PARAMS = {"regularization": 30.0, "alpha": 40.0, "iterations": 15}
DAE_PARAMS = {"dropout": 0.8, "masked_weight": 20.0, "epochs": 30, "sampled": 16384, "threads": 1,
              "min_steps": 1000}


def _fit(interactions: Interactions, method: str, dims: int, device: str) -> tuple[np.ndarray, str]:
    """Item vectors (n_items x dims) and the model's parameter string."""
    if method == "als":
        from moodtape.core.cf.als import fit_als

        als = fit_als(interactions.matrix, factors=dims, device=device, **ALS_PARAMS)  # type: ignore[arg-type]
        return als.item_vectors(), als.version
    if method == "dae":
        from moodtape.core.cf.dae import fit_dae

        dae = fit_dae(interactions.matrix, dims=dims, device=device, **DAE_PARAMS)  # type: ignore[arg-type]
        return dae.item_vectors(), dae.version
    from moodtape.core.cf.itemknn import ItemKNN

    knn = ItemKNN(interactions.matrix)
    return knn.item_vectors(dims), f"itemknn-puresvd{dims}"


def _unit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows, and which rows carry a direction at all.

    ALS shrinks the tracks of a playlist that shares no track with any other playlist towards zero (nothing
    ties them to the rest); such a near-zero vector has no meaningful direction, so it is not stored.
    """
    norms = np.linalg.norm(rows, axis=1)
    ok = norms > 1e-4 * float(np.median(norms)) if len(norms) else norms > 0
    return np.where(ok[:, None], unit(rows), 0.0).astype(np.float32), ok


async def refresh_cf(store: Store, *, method: str = "als", dims: int = 64, device: str = "cpu") -> dict[str, Any]:
    """Fit `method` on every playlist and vote in the store, write unit vectors, bridge cold tracks.

    Returns a report: what was fitted on, the version written, how many vectors, and the bridge's state.
    """
    if method not in METHODS:
        raise UserError(f"unknown collaborative method \"{method}\"; choose one of {', '.join(METHODS)}")
    if dims != VECTOR_DIMS["cf"]:
        raise UserError(f"the store keeps {VECTOR_DIMS['cf']}-d collaborative vectors; --dims {dims} cannot be stored")
    started = time.perf_counter()
    pairs = await store.playlist_pairs()
    feedback = await store.feedback()
    interactions = build_interactions(pairs, feedback)
    report: dict[str, Any] = {
        "method": method, "playlists": len({p for p, _ in pairs}), "entries": len(pairs),
        "feedback": len(feedback), "rows": interactions.n_rows, "tracks": interactions.n_items,
    }
    positives = int((interactions.matrix.data > 0).sum()) if interactions.nnz else 0
    if positives == 0 or interactions.n_items < 2:
        previous = await load_state(store, max_age_s=0)
        report.update(status="skipped", reason="no playlists or 👍 to learn from yet",
                      version=previous.version if previous else None)
        return report
    fit_started = time.perf_counter()
    vectors, params = await asyncio.to_thread(_fit, interactions, method, dims, device)
    report["fit_s"] = round(time.perf_counter() - fit_started, 2)
    directions, ok = _unit(vectors.astype(np.float32))
    has_positive = interactions.item_counts() > 0
    keep = ok & has_positive
    version = f"{params}-r{interactions.n_rows}-t{interactions.n_items}-n{positives}"
    rows = [(int(tid), directions[i]) for i, tid in enumerate(interactions.item_ids) if keep[i]]
    written = await store.put_vectors("cf", rows, version)
    report.update(status="ok", version=version, vectors=written, without_direction=int((~ok & has_positive).sum()))

    bridge, predicted, bridge_report = await _bridge(store, {tid for tid, _ in rows}, version)
    state = CFState(version=version, predicted_version=bridge_report.get("version"), method=method,
                    tracks=written, predicted=predicted)
    await save_state(store, state, bridge)
    report["bridge"] = bridge_report
    report["seconds"] = round(time.perf_counter() - started, 2)
    log.info("cf refresh: %s", report)
    return report


async def _bridge(store: Store, with_cf: set[int], version: str) -> tuple[Bridge | None, int, dict[str, Any]]:
    """Fit the audio -> cf bridge on tracks with both, write predictions for audio-only tracks."""
    audio = await store.get_vectors("audio")
    if not audio:
        return None, 0, {"status": "no tracks with audio"}
    audio_version = Counter(v.model_version for v in audio.values()).most_common(1)[0][0]
    audio = {tid: v for tid, v in audio.items() if v.model_version == audio_version}
    both = sorted(tid for tid in audio if tid in with_cf)
    cold = sorted(tid for tid in audio if tid not in with_cf)
    if len(both) < MIN_TRACKS:
        return None, 0, {"status": f"not fitted: {len(both)} track(s) have both audio and playlists "
                                   f"(needs {MIN_TRACKS})", "overlap": len(both)}
    cf = await store.get_vectors("cf", both)
    x = np.asarray([audio[t].vector for t in both], dtype=np.float64)
    y = np.asarray([cf[t].vector for t in both], dtype=np.float64)
    bridge = await asyncio.to_thread(fit_bridge, x, y, audio_version)
    predicted_version = f"{version}+{bridge.version}"
    count = 0
    if cold:
        predictions = bridge.predict(np.asarray([audio[t].vector for t in cold]))
        count = await store.put_vectors("cf", list(zip(cold, predictions)), predicted_version)
    return bridge, count, {"status": "ok", "version": predicted_version, "overlap": len(both),
                           "cv_cosine": bridge.cv_cosine, "alpha": bridge.alpha, "predicted": count}
