"""Turn any audio file ffmpeg understands into mono float32 samples at one fixed rate.

ffmpeg (the system's, or the static binary that `imageio-ffmpeg` ships through PyPI) is the one decoder:
it handles mp3, ogg/vorbis/opus, flac, wav, m4a/aac and many more the same way everywhere, and it runs in a
subprocess, so a hostile file can crash ffmpeg but never this process.  Failures become `AudioError`s whose
`reason` is short enough to show to a person next to the file name.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.text import byte_size

SAMPLE_RATE = 22050
_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


class AudioError(UserError):
    """A file that cannot become audio we can embed; `reason` is user-facing."""

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None) -> None:
        self.reason = reason
        self.path = printable(path) if path is not None else None
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


def printable(value: str | bytes | os.PathLike[str]) -> str:
    """A path (or any text) in a form every output can print and SQLite can store.

    On Linux a file name is bytes; one that is not UTF-8 reaches Python as a str with surrogate escapes
    (`caf\\udce9.opus`), which `print` and SQLite refuse with a bare codec error.  Such bytes show as U+FFFD.
    """
    text = os.fsdecode(value) if isinstance(value, bytes) else os.fspath(value)
    try:
        return os.fsencode(text).decode("utf-8", "replace")
    except UnicodeError:  # surrogates that are not file-name escapes (text typed or pasted somewhere)
        return text.encode("utf-8", "replace").decode("utf-8")


def stat_reason(info: os.stat_result, max_file_bytes: int | None = None) -> str | None:
    """Why a stat result is not a file we may read (None: it is).  Only regular files are read: opening a
    FIFO blocks, a device (`/dev/zero`) never ends.  An empty file passes: it is recorded, then refused by
    `decode`.  Sizes come from the stat, so a 20 GB sparse file is refused without reading a byte."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if max_file_bytes is not None and info.st_size > max_file_bytes:
        return f"file is too big ({byte_size(info.st_size)} > {byte_size(max_file_bytes)})"
    return None


def check_file(path: str | os.PathLike[str], max_file_bytes: int | None = None) -> int:
    """The size of `path` when it is a regular file we may read, else `AudioError` with the reason.

    The one check every way into a file goes through first (adding, hashing, `similar FILE`, decoding),
    before anything opens it; `stat` follows symbolic links, so a link to a device is a device.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ENOENT, ELOOP, ENAMETOOLONG, an embedded NUL byte ...
        raise AudioError(path_error(exc), path) from exc
    reason = stat_reason(info, max_file_bytes)
    if reason is None and not os.access(path, os.R_OK):
        reason = "permission denied"
    if reason is not None:
        raise AudioError(reason, path)
    return info.st_size


def path_error(exc: BaseException) -> str:
    """A short reason for an error raised while following a path (stat, resolve, open)."""
    number = getattr(exc, "errno", None)
    if number == errno.ELOOP or isinstance(exc, RuntimeError):  # pathlib says "Symlink loop" as RuntimeError
        return "symbolic link loop"
    if number == errno.ENAMETOOLONG:
        return "the path is too long"
    if number in (errno.ENOENT, errno.ENOTDIR):
        return "file not found"
    if number in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if isinstance(exc, ValueError):
        return "not a usable path"
    return f"cannot read: {getattr(exc, 'strerror', None) or exc}"


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # float32, mono, in [-1, 1]
    sample_rate: int
    duration_s: float  # duration of the whole file (not only the decoded part)
    offset_s: float  # where the decoded part starts in the file


@functools.lru_cache(maxsize=4)
def ffmpeg_binary(preferred: str | None = None) -> str:
    """The ffmpeg to use: an explicit setting, then the system's, then imageio-ffmpeg's bundled binary."""
    if preferred:
        if shutil.which(preferred) or Path(preferred).is_file():
            return preferred
        raise AudioError(f"ffmpeg not found at {preferred!r}")
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a hard dependency, kept for a clear message
        raise AudioError("ffmpeg not found: install ffmpeg or the imageio-ffmpeg package") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def _explain(stderr: str) -> str:
    """Map ffmpeg's error output to a short reason a person understands."""
    text = stderr.lower()
    if "does not contain any stream" in text or "output file does not contain any stream" in text:
        return "no audio stream in the file"
    if "matches no streams" in text or "stream map" in text:
        return "no audio stream in the file"
    if "invalid data found" in text or "could not find codec parameters" in text or "moov atom not found" in text:
        return "not an audio file, or the file is corrupt"
    if "end of file" in text or "truncated" in text:
        return "the file is truncated or corrupt"
    if "invalid argument" in text or "error opening input" in text or "failed to find" in text:
        return "not an audio file, or the file is corrupt"
    if "no such file" in text:
        return "file not found"
    if "permission denied" in text:
        return "permission denied"
    last = [line for line in stderr.strip().splitlines() if line.strip()]
    return "could not decode: " + (last[-1][:200] if last else "ffmpeg failed")


def probe_duration(path: Path, ffmpeg: str | None = None, timeout_s: float = 30.0) -> float | None:
    """Container duration in seconds from ffmpeg's header parse, or None when the container does not say."""
    try:
        result = subprocess.run(
            [ffmpeg_binary(ffmpeg), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True, timeout=timeout_s, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioError("timed out reading the file header", path) from exc
    stderr = result.stderr.decode("utf-8", "replace")
    match = _DURATION.search(stderr)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if "Duration: N/A" in stderr:
        return None
    raise AudioError(_explain(stderr), path)


def decode(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = SAMPLE_RATE,
    max_duration_s: float = 1200.0,
    max_file_bytes: int | None = None,
    window_s: float | None = None,
    ffmpeg: str | None = None,
    timeout_s: float = 120.0,
) -> Decoded:
    """Decode `path` to mono float32 at `sample_rate`.

    Files longer than `max_duration_s` are refused rather than truncated, so a catalogue never holds a
    3-hour mix described by its first minutes.  With `window_s`, only that many seconds from the middle of the
    track are decoded (the part embeddings look at), which keeps long tracks cheap.
    """
    file = Path(path)
    if check_file(file, max_file_bytes) == 0:
        raise AudioError("empty file", file)

    duration = probe_duration(file, ffmpeg)
    if duration is not None and duration > max_duration_s:
        raise AudioError(f"too long ({duration / 60:.1f} min > {max_duration_s / 60:.1f} min)", file)
    offset = 0.0
    take = max_duration_s + 1.0
    if window_s is not None and duration is not None and duration > window_s:
        offset = (duration - window_s) / 2.0
        take = window_s

    command = [ffmpeg_binary(ffmpeg), "-hide_banner", "-nostdin", "-v", "error"]
    if offset > 0:
        command += ["-ss", f"{offset:.3f}"]
    command += [
        "-i", str(file), "-t", f"{take:.3f}", "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"decoding took longer than {timeout_s:.0f} s", file) from exc
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 and not result.stdout:
        raise AudioError(_explain(stderr), file)
    samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32, copy=True)
    if samples.size < sample_rate // 2:
        if result.returncode != 0:
            raise AudioError(_explain(stderr), file)
        raise AudioError("no audio (shorter than half a second)", file)
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    decoded_s = samples.size / sample_rate
    if duration is None:
        if decoded_s > max_duration_s:
            raise AudioError(f"too long (over {max_duration_s / 60:.1f} min)", file)
        duration = decoded_s
        if window_s is not None and decoded_s > window_s:
            start = int((decoded_s - window_s) / 2 * sample_rate)
            samples = samples[start:start + int(window_s * sample_rate)]
            offset = start / sample_rate
    return Decoded(samples=samples, sample_rate=sample_rate, duration_s=float(duration), offset_s=offset)
