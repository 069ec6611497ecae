"""Pick the torch device from the `device` setting (auto | cpu | cuda).

torch is imported only when the answer needs it ("auto", "cuda"): commands that never run a model (`moodtape
import`, `stats`) then start without its seconds and hundreds of megabytes.
"""

from __future__ import annotations

from moodtape.core.errors import SettingsError


class DeviceError(SettingsError):
    """The device setting names a device this machine does not have."""


def resolve_device(setting: str = "auto") -> str:
    """"cpu" or "cuda" for a setting; asking for CUDA on a machine without it is a `DeviceError`, not a crash."""
    if setting == "cpu":
        return "cpu"
    if setting not in ("auto", "cuda"):
        raise DeviceError(f"unknown device {setting!r}; use auto, cpu or cuda")
    import torch

    if setting == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("MOODTAPE_DEVICE=cuda but no CUDA device is available to torch")
        return "cuda"
    return "cuda" if torch.cuda.is_available() else "cpu"
