"""Real decoding of the committed fixtures through ffmpeg, and clear reasons for bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from moodtape.core.audio.decode import SAMPLE_RATE, AudioError, decode
from tests.conftest import AUDIO


@pytest.mark.parametrize("name", ["pad_a.wav", "pad_a.flac", "pad_a.mp3", "pad_a.ogg", "pad_a.opus", "pad_a.m4a"])
def test_every_common_format_decodes_to_mono_at_the_fixed_rate(name: str) -> None:
    decoded = decode(AUDIO / name)
    assert decoded.sample_rate == SAMPLE_RATE
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.duration_s == pytest.approx(6.0, abs=0.15)
    assert abs(decoded.samples.size / SAMPLE_RATE - 6.0) < 0.15
    assert 0.05 < np.abs(decoded.samples).max() <= 1.0


def test_formats_agree_on_the_signal() -> None:
    wav = decode(AUDIO / "pad_a.wav").samples
    flac = decode(AUDIO / "pad_a.flac").samples
    assert np.allclose(wav[: flac.size], flac[: wav.size], atol=1e-3)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("empty.mp3", "empty file"), ("corrupt.mp3", "not an audio file"), ("notes.txt", "not an audio file"),
     ("truncated.flac", "truncated or corrupt"), ("missing.ogg", "file not found")],
)
def test_bad_files_give_a_reason(name: str, reason: str) -> None:
    with pytest.raises(AudioError) as caught:
        decode(AUDIO / name)
    assert reason in caught.value.reason
    assert name in str(caught.value)


def test_too_long_is_refused_not_truncated() -> None:
    with pytest.raises(AudioError, match="too long"):
        decode(AUDIO / "pad_a.mp3", max_duration_s=3.0)


def test_too_big_is_refused_before_decoding() -> None:
    with pytest.raises(AudioError, match="too big"):
        decode(AUDIO / "pad_a.wav", max_file_bytes=1000)


def test_window_decodes_the_middle() -> None:
    whole = decode(AUDIO / "pad_a.wav").samples
    part = decode(AUDIO / "pad_a.wav", window_s=2.0)
    assert part.offset_s == pytest.approx(2.0, abs=0.01)
    assert part.samples.size == pytest.approx(2 * SAMPLE_RATE, abs=64)
    start = int(2.0 * SAMPLE_RATE)
    assert np.allclose(part.samples[:1000], whole[start:start + 1000], atol=1e-3)


def test_directory_is_not_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a regular file"):
        decode(tmp_path)


def _ffmpeg_binaries() -> list[str]:
    import shutil

    import imageio_ffmpeg

    found = [imageio_ffmpeg.get_ffmpeg_exe()]
    system = shutil.which("ffmpeg")
    if system:
        found.append(system)
    return found


@pytest.mark.parametrize("binary", _ffmpeg_binaries())
def test_bundled_and_system_ffmpeg_behave_alike(binary: str) -> None:
    """A fresh machine has only imageio-ffmpeg's binary; both must decode and explain failures the same way."""
    decoded = decode(AUDIO / "pad_a.opus", ffmpeg=binary)
    assert decoded.duration_s == pytest.approx(6.0, abs=0.15)
    with pytest.raises(AudioError, match="not an audio file"):
        decode(AUDIO / "corrupt.mp3", ffmpeg=binary)


def test_sparse_20_gb_file_is_refused_on_its_size(tmp_path: Path) -> None:
    """Issue 13, item 5: the size comes from the stat, before ffmpeg or a hash reads anything."""
    big = tmp_path / "big.mp3"
    with open(big, "wb") as handle:
        handle.truncate(20 * 1024**3)
    with pytest.raises(AudioError, match="too big"):
        decode(big, max_file_bytes=200 * 1024 * 1024)


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    """Issue 13, item 3: opening a FIFO would block; the stat says it is not a regular file first."""
    os.mkfifo(tmp_path / "x.mp3")
    with pytest.raises(AudioError, match="not a regular file"):
        decode(tmp_path / "x.mp3")


def test_a_name_that_is_not_utf8_is_printable_in_the_reason(tmp_path: Path) -> None:
    """Issue 13, item 4: the message names the file with U+FFFD instead of failing to print."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.opus")))
    path.write_bytes(b"not audio at all")
    with pytest.raises(AudioError) as caught:
        decode(path)
    assert "caf\ufffd.opus" in str(caught.value)
    str(caught.value).encode("utf-8")
