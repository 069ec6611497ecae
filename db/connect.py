"""Open SQLite connections with sqlite-vec loaded, whatever the platform's `sqlite3` can do.

Many Python builds (Debian's, macOS's) ship a `sqlite3` module without `enable_load_extension`, so the
stdlib driver cannot load sqlite-vec.  We then fall back to `sqlean.py` or `pysqlite3`, which bundle their
own SQLite with extension loading enabled.  Everything above this module only sees a DB-API connection and
the matching `Row` class, so rows work the same whichever driver was picked.
"""

from __future__ import annotations

import importlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import sqlite_vec

from moodtape.db.errors import StoreError

__all__ = ["Driver", "ExtensionUnavailable", "connector", "pick_driver"]


class ExtensionUnavailable(StoreError):
    """No installed SQLite driver can load sqlite-vec (a StoreError: the fix is an install, shown as is)."""


@dataclass(frozen=True)
class Driver:
    """The DB-API module in use; callers need it for its `Row` class and to open sibling files (backups)."""

    name: str
    module: ModuleType

    @property
    def row_factory(self) -> type:
        return self.module.Row


def _can_load_extensions(module: ModuleType) -> bool:
    return hasattr(module.Connection, "enable_load_extension")


def pick_driver(preferred: str | None = None) -> Driver:
    """The first DB-API module that can load extensions: stdlib, then sqlean, then pysqlite3."""
    candidates = [preferred] if preferred else ["sqlite3", "sqlean", "pysqlite3.dbapi2"]
    tried: list[str] = []
    for name in candidates:
        try:
            module = sqlite3 if name == "sqlite3" else importlib.import_module(name)
        except ImportError:
            tried.append(f"{name} (not installed)")
            continue
        if _can_load_extensions(module):
            return Driver(name.split(".")[0], module)
        tried.append(f"{name} (cannot load extensions)")
    raise ExtensionUnavailable(
        "no SQLite driver here can load sqlite-vec; tried " + ", ".join(tried)
        + ". Install sqlean.py (pip install sqlean.py)."
    )


#: Bytes of the database file SQLite may read through a memory map (capped by the build's own maximum, 2 GB
#: for many).  Reads then skip a system call per page: on the 1M-track bench catalogue (1.3 GB) reading ten
#: random tracks took 0.10 ms instead of 0.60 ms, which is most of what `similar` spends outside its search.
MMAP_BYTES = 4 << 30


def connector(path: Path | str, driver: Driver | None = None, **kwargs: Any) -> Callable[[], Any]:
    """A zero-argument factory (what aiosqlite.Connection wants) for a sqlite-vec-enabled connection."""
    chosen = driver or pick_driver()

    def connect() -> Any:
        conn = chosen.module.connect(str(path), check_same_thread=False, **kwargs)
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        conn.row_factory = chosen.row_factory
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return conn

    return connect
