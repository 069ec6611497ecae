"""Who a worker is, and whether a worker that holds a job is still alive.

A worker id starts with this machine and PID namespace, then the process id: so a worker finding a job held
by a dead process *of this machine* can requeue it at once instead of waiting for the lease to run out.
"""

from __future__ import annotations

import os
import socket
import uuid


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").replace(":", "").replace("/", "")
    except OSError:
        return "nons"


def machine_prefix() -> str:
    """Identifies this machine and PID namespace; worker ids start with it."""
    return f"{socket.gethostname()}/{_pid_namespace()}/"


def make_worker_id() -> str:
    return f"{machine_prefix()}{os.getpid()}/{uuid.uuid4().hex[:8]}"


def worker_is_dead(worker: str) -> bool:
    """For a worker id of this machine and PID namespace: is its process gone?"""
    try:
        pid = int(worker[len(machine_prefix()):].split("/", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # ourselves (another Worker object in this process): only its lease can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
