"""The bundled demo catalogue: freely licensed tracks (metadata + vectors, no audio) for an empty database.

A fresh install has no music, yet `moodtape chat` should answer with songs.  The package ships the vectors
of a few hundred freely licensed game soundtracks (Debian's music packages, licence recorded per track), built
by `training/demo_catalogue.py`.  They are materialised once into a small SQLite file next to the user's
database (rebuilt when the shipped catalogue changes), so the demo uses exactly the same query code as a
real catalogue and feedback on demo tracks is kept.  The user's own database is never touched.
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from moodtape.db.models import NewTrack
from moodtape.db.store import Store

DEMO_FILE = "demo_catalogue.json"
META_KEY = "demo_version"
#: Demo track ids start here, so an id alone says which catalogue a 👍/👎 belongs to (a chat answer may come
#: from the demo while `similar` already uses the user's own database).
DEMO_ID_BASE = 900_000_000


def is_demo_id(track_id: int) -> bool:
    return track_id >= DEMO_ID_BASE


@functools.lru_cache(maxsize=1)
def demo_data() -> dict[str, Any]:
    text = (resources.files("moodtape.core") / "data" / DEMO_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if not data.get("tracks"):
        raise RuntimeError("the bundled demo catalogue is empty; rebuild it with training/demo_catalogue.py")
    return data


def demo_path(db_path: Path) -> Path:
    return db_path.parent / "moodtape-demo.db"


async def _fill(store: Store, data: dict[str, Any], version: str) -> None:
    for number, item in enumerate(data["tracks"], start=1):
        track_id, _ = await store.add_track(NewTrack(
            id=DEMO_ID_BASE + number,
            title=item["title"], artist=item.get("artist"), album=item.get("album"),
            duration_s=item.get("duration_s"), source_kind="catalogue", source=item.get("source"),
            external_id=item["external_id"], match_key=item.get("match_key"), licence=item.get("licence"),
            added_by="demo", status="pending",
        ))
        vectors = {kind: (values, data["versions"][kind]) for kind, values in item["vectors"].items()}
        await store.mark_ready(track_id, vectors, details={"mood": item.get("mood_details", {})})
    await store.set_meta(META_KEY, version)


async def open_demo(db_path: Path) -> Store:
    """The demo store beside `db_path`, (re)built from the shipped JSON when missing or outdated."""
    data = demo_data()
    version = f"{data['version']}-ids{DEMO_ID_BASE}"
    path = demo_path(db_path)
    if path.exists():
        store = await Store.open(path)
        if await store.get_meta(META_KEY) == version:
            return store
        await store.close()
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (temp, temp.with_name(temp.name + "-wal"), temp.with_name(temp.name + "-shm")):
        leftover.unlink(missing_ok=True)
    store = await Store.open(temp)
    try:
        await _fill(store, data, version)
    finally:
        await store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.replace(temp, path)
    return await Store.open(path)
