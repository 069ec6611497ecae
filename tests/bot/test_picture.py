"""The picture of the mood, decoded: each point is drawn where its valence/arousal put it.

The PNG is decoded with Pillow and sampled at the pixels the geometry (`to_pixel`) names: the reading's ring,
each song's numbered disc, the strategy's path.  Points are chosen far apart so that no mark hides another.
"""

from __future__ import annotations

import io
import itertools
import math
from typing import Any

import numpy as np
import pytest
from moodtape.bot.shared.picture import (
    PATH,
    READING,
    READING_RADIUS,
    READING_WIDTH,
    SIZE,
    SONG,
    SONG_RADIUS,
    MoodPicture,
    picture_of,
    picture_switch,
    plot_box,
    render_png,
    to_pixel,
)
from moodtape.core.errors import UserError
from moodtape.core.mood.reader import MoodReading
from moodtape.core.mood.space import strategy_targets
from moodtape.core.results import ChatResult, RecommendedTrack
from PIL import Image


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (SIZE, SIZE)
    return image.convert("RGB")


def close(pixel: Any, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(int(p) - c) <= tolerance for p, c in zip(pixel, colour))


def count_colour(image: Image.Image, colour: tuple[int, int, int], tolerance: int) -> int:
    """How many pixels of `image` are `colour` (within `tolerance` per channel)."""
    pixels = np.asarray(image, dtype=np.int16)
    return int(np.all(np.abs(pixels - np.asarray(colour)) <= tolerance, axis=-1).sum())


def share_on_circle(image: Image.Image, centre: tuple[int, int], radius: float, colour: tuple[int, int, int],
                    samples: int = 32) -> float:
    """Which share of the circle of `radius` around `centre` is `colour`."""
    cx, cy = centre
    hits = 0
    for step in range(samples):
        angle = 2 * math.pi * step / samples
        if close(image.getpixel((round(cx + radius * math.cos(angle)), round(cy + radius * math.sin(angle)))), colour):
            hits += 1
    return hits / samples


def song_at(image: Image.Image, valence: float, arousal: float) -> bool:
    """A song's disc: its rim (outside the white number) is song blue all round."""
    return share_on_circle(image, to_pixel(valence, arousal), SONG_RADIUS - 2, SONG) >= 0.9


def ring_at(image: Image.Image, valence: float, arousal: float) -> bool:
    return share_on_circle(image, to_pixel(valence, arousal), READING_RADIUS - READING_WIDTH / 2, READING) >= 0.9


def result(valence: float, arousal: float, songs: list[tuple[float, float] | None], strategy: str) -> ChatResult:
    reading = MoodReading(text="x", probs={"sadness": 1.0}, label="sadness", valence=valence, arousal=arousal,
                          confidence=1.0, language="en", model="test")
    tracks = [RecommendedTrack(id=i + 1, title=f"song {i + 1}", artist=None, album=None, source=None, score=1.0,
                               reason="r", valence=None if p is None else p[0], arousal=None if p is None else p[1])
              for i, p in enumerate(songs)]
    return ChatResult(mood=reading, strategy=strategy, tracks=tracks, catalogue="demo")


def test_the_plane_maps_corners_and_centre_and_clips_outside() -> None:
    left, top, right, bottom = plot_box()
    assert to_pixel(-1, -1) == (left, bottom) and to_pixel(1, 1) == (right, top)
    assert to_pixel(0, 0) == ((left + right) // 2, (top + bottom) // 2)
    assert to_pixel(5, -5) == (right, bottom)  # never drawn off the plane


@pytest.mark.parametrize("point", [(-0.7, -0.4), (0.6, 0.5), (-0.5, 0.7), (0.3, -0.8), (0.0, 0.0)])
def test_the_reading_is_a_ring_at_its_point_and_nowhere_else(point: tuple[float, float]) -> None:
    image = decode(render_png(MoodPicture(*point)))
    assert ring_at(image, *point)
    other = (-point[0] or 0.6, -point[1] or 0.6)
    assert not ring_at(image, *other)
    assert not close(image.getpixel(to_pixel(*point)), READING, 60)  # hollow: a song under it stays visible


def test_songs_are_numbered_discs_at_their_mood_and_songs_without_a_mood_are_left_out() -> None:
    songs = [(-0.6, 0.6), (0.6, 0.6), None, (0.6, -0.6)]
    image = decode(render_png(picture_of(result(-0.6, -0.6, songs, "match"))))
    for point in (p for p in songs if p is not None):
        assert song_at(image, *point), point
    assert ring_at(image, -0.6, -0.6)
    assert not song_at(image, -0.6, -0.6)  # no song was placed at the reading
    # The number in each disc is white (drawn on top of the blue), so the disc is a labelled point.
    x, y = to_pixel(0.6, 0.6)
    disc = [image.getpixel((x + dx, y + dy)) for dx in range(-4, 5) for dy in range(-5, 6)]
    assert any(close(p, (255, 255, 255), 60) for p in disc) and any(close(p, SONG) for p in disc)


def test_lift_draws_the_path_from_the_reading_to_its_goal_and_match_draws_none() -> None:
    reading = (-0.7, -0.5)
    lifted = result(*reading, [], "lift")
    assert lifted.path == [reading]  # no songs: no walk
    lifted = result(*reading, [(-0.9, 0.9), (0.9, -0.9)], "lift")
    targets = strategy_targets(*reading, "lift", 2)
    assert lifted.path == targets and targets[-1][0] == pytest.approx(0.7)
    image = decode(render_png(MoodPicture(*reading, path=tuple(strategy_targets(*reading, "lift", 5)),
                                          strategy="lift")))
    path = strategy_targets(*reading, "lift", 5)
    for (v0, a0), (v1, a1) in itertools.pairwise(path[1:]):  # midway between two steps, away from the ring
        x0, y0 = to_pixel(v0, a0)
        x1, y1 = to_pixel(v1, a1)
        assert close(image.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)), PATH, 30)
    gx, gy = to_pixel(*path[-1])
    assert close(image.getpixel((gx - 3, gy)), PATH, 30)  # the arrow's tip reaches the goal

    matched = decode(render_png(MoodPicture(*reading, path=tuple(path), strategy="match")))
    assert count_colour(matched, PATH, 30) == 0


@pytest.mark.parametrize("strategy", ["calm", "energize"])
def test_calm_and_energize_paths_head_where_the_strategy_goes(strategy: str) -> None:
    reading = (-0.2, 0.1)
    path = strategy_targets(*reading, strategy, 6)
    image = decode(render_png(MoodPicture(*reading, path=tuple(path), strategy=strategy)))
    x, y = to_pixel(*path[3])
    assert any(close(image.getpixel((x + dx, y + dy)), PATH, 30) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
    assert (to_pixel(*path[-1])[1] > to_pixel(*reading)[1]) == (strategy == "calm")  # down: calmer


def test_the_png_is_small_and_sized_for_a_chat() -> None:
    data = render_png(MoodPicture(0.1, 0.2, songs=tuple((i / 10, -i / 10) for i in range(10))))
    assert data.startswith(b"\x89PNG") and len(data) < 100_000


@pytest.mark.parametrize("words, wanted", [(["on"], True), (["OFF"], False), (["켜기"], True), (["끄기"], False)])
def test_picture_switch_reads_on_and_off(words: list[str], wanted: bool) -> None:
    assert picture_switch([w.lower() for w in words]) is wanted


@pytest.mark.parametrize("words", [[], ["maybe"], ["x" * 100]])
def test_picture_switch_refuses_anything_else_with_the_usage(words: list[str]) -> None:
    with pytest.raises(UserError, match="/strategy picture on"):
        picture_switch(words)


def test_bench_picture_reports_medians_and_p99_without_asserting_a_speed(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from moodtape.bot.cli import main

    assert main(["bench", "picture", "--renders", "8", "--k", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["renders"] == 8 and report["k"] == 3 and report["size_px"] == SIZE
    assert {"p50_ms", "p99_ms", "mean_ms", "max_ms"} <= set(report["render"]) and report["png_bytes_median"] > 0
    with pytest.raises(SystemExit) as refused:  # a usage error (argparse's exit 2), not an empty report
        main(["bench", "picture", "--renders", "0"])
    assert refused.value.code == 2 and "--renders" in capsys.readouterr().err
