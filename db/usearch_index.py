"""usearch's `Index`, imported so that it cannot break the process's other C++ libraries.

usearch's wheel carries its own, statically linked copy of the C++ runtime.  Some of that runtime's symbols
are "unique" (a GNU extension that binds process-wide even for a library loaded privately), so when usearch
is the first C++ library in a process, libraries loaded after it share its copies of things like the
locale's facet ids with their own runtime: seen here as Kaldi (Vosk) failing to parse numbers in its model
files, ONNX Runtime refusing valid graphs ("INVALID_GRAPH: Type Error") or crashing at import (1.23 and
later), and `torch.jit.trace` hanging (so the emotion model's ONNX export never finished).  Loading the
system's C++ runtime first makes its symbols the process's; usearch works either way.  Where there is no
`libstdc++` (macOS, Windows) nothing is loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence

import numpy as np

__all__ = ["Index", "f32_rows", "load_cxx_runtime"]


def load_cxx_runtime() -> bool:
    """Load the system's libstdc++ with global symbols; whether it was found and loaded.

    Its Linux name is tried first: `find_library` runs `ldconfig`, a process start on every import.
    """
    for find in (lambda: "libstdc++.so.6", lambda: ctypes.util.find_library("stdc++")):
        name = find()
        if name is None:
            continue
        try:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        return True
    return False


load_cxx_runtime()

from usearch.index import Index, ScalarKind  # noqa: E402  (after the runtime above, on purpose)


def f32_rows(index: Index, keys: np.ndarray) -> Sequence[np.ndarray | None]:
    """The vectors of `keys` (uint64) in a float32 index, in order, None where a key is absent.

    `Index.get` rebuilds two dtype tables and a tuple of views in Python on every call: ~50 us when the CPU
    caches are cold (as they are right after a search) against ~14 us for the compiled lookup it wraps, and
    a `similar` reply makes two such calls.  The compiled object (`_compiled`, private: seen in usearch 2.26,
    where `get` itself calls `get_many(keys, dtype)`) answers directly when present; otherwise the public `get`
    does, and a test checks that both give the same rows.
    """
    compiled = getattr(index, "_compiled", None)
    if compiled is not None:
        return compiled.get_many(keys, ScalarKind.F32)
    return index.get(keys)  # a tuple for an array of keys
