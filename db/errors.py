"""db's one error type, so the storage layer never needs to know core's error model.

core translates `StoreError` into its own `StorageError` at the door (`Engine.open`); keeping the class here
lets db stay at the bottom of the import graph.
"""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(RuntimeError):
    """A storage problem worth showing to a person (bad path, newer schema, no usable SQLite driver, ...)."""
