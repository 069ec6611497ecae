"""A picture of the mood: the valence/arousal plane with the reading, the songs and the strategy's path, as a PNG.

Why a picture: the reply's reason lines ("calm, sad — close to how you feel") describe positions in a plane,
and a person sees at a glance in a drawing what takes six lines to read: where the bot put them, where each
song sits, and for lift/calm/energize the road from one to the other.  It is drawn server-side with Pillow
(no browser, no matplotlib: a 480 x 480 PNG in a few milliseconds, see `moodtape bench picture`), from what
the engine already answers (`ChatResult`: the reading's point, each song's valence/arousal, the strategy's
target path), so it never asks the engine for anything more and works on the demo catalogue as on any other.

The geometry is public (`plot_box`, `to_pixel`, the colours and radii) so tests can decode the PNG and look
for each point where it must be.  Front ends send the bytes as they like (a Telegram photo, a Discord embed
image, a file from the CLI); `PICTURE_NAME` is the file name they use.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from moodtape.core.results import ChatResult

__all__ = [
    "AXIS",
    "BACKGROUND",
    "PATH",
    "PICTURE_CAPTION",
    "PICTURE_NAME",
    "QUADRANTS",
    "READING",
    "READING_RADIUS",
    "SIZE",
    "SONG",
    "SONG_RADIUS",
    "MoodPicture",
    "draw",
    "picture_of",
    "picture_png",
    "picture_switch",
    "plot_box",
    "render_png",
    "to_pixel",
]

#: Side of the square picture in pixels: readable on a phone, small enough to send and draw in milliseconds.
SIZE = 480
#: The file name front ends give the PNG (Discord's embed refers to it as `attachment://mood.png`).
PICTURE_NAME = "mood.png"
#: The photo's own caption when the answer is too long to be one (it then follows in a message of its own).
PICTURE_CAPTION = "Your mood (red ring) and the songs (numbered as in the list below)."

# Colours are web-safe (channels in steps of 0x33): the PNG is written with Pillow's 216-colour web palette,
# which holds each of them exactly, so the file is small and encoding it costs about a millisecond.
BACKGROUND = (255, 255, 255)
AXIS = (153, 153, 153)
GRID = (204, 204, 204)
TEXT = (102, 102, 102)
#: The person's reading: a thick ring (hollow, so a song right under it stays visible).
READING = (204, 0, 0)
#: Songs: filled discs with their number in the list, in white.
SONG = (0, 102, 204)
#: The strategy's target path: a line through its points, ending in an arrow.
PATH = (255, 153, 0)
READING_RADIUS = 14
READING_WIDTH = 4
SONG_RADIUS = 10

#: The quadrants' words (Russell's circumplex: valence right, arousal up), placed in the plot's corners.
QUADRANTS: dict[str, str] = {
    "top_left": "tense · angry",
    "top_right": "excited · happy",
    "bottom_left": "sad · tired",
    "bottom_right": "calm · content",
}


@dataclass(frozen=True)
class MoodPicture:
    """What is drawn: the reading's point, each song's point (None: the song has no mood), the path.

    Plain floats, so the benchmark and the tests can draw without an engine.
    """

    valence: float
    arousal: float
    songs: tuple[tuple[float, float] | None, ...] = ()
    path: tuple[tuple[float, float], ...] = ()
    strategy: str = "match"


def picture_of(result: ChatResult) -> MoodPicture:
    """The drawing's data from a chat answer (its reading, its songs in list order, its strategy's path)."""
    songs = tuple(None if t.valence is None or t.arousal is None else (t.valence, t.arousal)
                  for t in result.tracks)
    return MoodPicture(valence=result.mood.valence, arousal=result.mood.arousal, songs=songs,
                       path=tuple(result.path), strategy=result.strategy)


def plot_box(size: int = SIZE) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square that holds [-1, 1] x [-1, 1]; margins keep labels readable."""
    margin = round(size * 0.075)
    return margin, margin, size - margin, size - margin


def to_pixel(valence: float, arousal: float, size: int = SIZE) -> tuple[int, int]:
    """Where a mood point is drawn: valence left to right, arousal bottom to top; clipped to the square."""
    left, top, right, bottom = plot_box(size)
    v = min(1.0, max(-1.0, float(valence)))
    a = min(1.0, max(-1.0, float(arousal)))
    x = left + (v + 1.0) / 2.0 * (right - left)
    y = bottom - (a + 1.0) / 2.0 * (bottom - top)
    return round(x), round(y)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (FreeType builds), else its bitmap font: no font file needed."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_centered(canvas: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: tuple[int, int, int],
                   font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
    canvas.text(xy, text, fill=fill, font=font, anchor="mm")


def _rotated(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, angle: int) -> Image.Image:
    """A text label turned by `angle` degrees, as an RGBA patch to paste beside the plot."""
    left, top, right, bottom = font.getbbox(text)
    patch = Image.new("RGBA", (right - left + 2, bottom - top + 2), (0, 0, 0, 0))
    ImageDraw.Draw(patch).text((1 - left, 1 - top), text, fill=TEXT, font=font)
    return patch.rotate(angle, expand=True)


@lru_cache(maxsize=4)
def _background(size: int) -> Image.Image:
    """Everything that does not depend on the answer (grid, axes, words), drawn once per size and copied."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    canvas = ImageDraw.Draw(image)
    left, top, right, bottom = plot_box(size)
    small, label = _font(max(9, size // 40)), _font(max(10, size // 34))
    for fraction in (-0.5, 0.5):  # light grid at +-0.5
        x, y = to_pixel(fraction, fraction, size)
        canvas.line([(x, top), (x, bottom)], fill=GRID)
        canvas.line([(left, y), (right, y)], fill=GRID)
    canvas.rectangle([left, top, right, bottom], outline=AXIS)
    cx, cy = to_pixel(0.0, 0.0, size)
    canvas.line([(left, cy), (right, cy)], fill=AXIS)
    canvas.line([(cx, top), (cx, bottom)], fill=AXIS)
    pad = size // 60
    canvas.text((left + pad, top + pad), QUADRANTS["top_left"], fill=TEXT, font=small, anchor="la")
    canvas.text((right - pad, top + pad), QUADRANTS["top_right"], fill=TEXT, font=small, anchor="ra")
    canvas.text((left + pad, bottom - pad), QUADRANTS["bottom_left"], fill=TEXT, font=small, anchor="ld")
    canvas.text((right - pad, bottom - pad), QUADRANTS["bottom_right"], fill=TEXT, font=small, anchor="rd")
    canvas.text((cx, top / 2), "high arousal", fill=TEXT, font=label, anchor="mm")
    canvas.text((cx, bottom + (size - bottom) / 2), "low arousal", fill=TEXT, font=label, anchor="mm")
    for text, angle, middle in (("unpleasant", 90, left / 2), ("pleasant", 270, right + (size - right) / 2)):
        patch = _rotated(text, label, angle)
        image.paste(patch, (round(middle - patch.width / 2), round(cy - patch.height / 2)), patch)
    return image


def _path(canvas: ImageDraw.ImageDraw, path: Sequence[tuple[float, float]], size: int) -> None:
    """The strategy's road: a line through its target points, a dot at each, an arrowhead at the goal."""
    points = [to_pixel(v, a, size) for v, a in path]
    if len(points) < 2 or points[0] == points[-1]:
        return
    canvas.line(points, fill=PATH, width=3, joint="curve")
    for x, y in points:
        canvas.ellipse([x - 3, y - 3, x + 3, y + 3], fill=PATH)
    (x0, y0), (x1, y1) = points[-2], points[-1]
    dx, dy = x1 - x0, y1 - y0
    length = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    ux, uy = dx / length, dy / length
    head = 12
    base = (x1 - ux * head, y1 - uy * head)
    canvas.polygon([(x1, y1), (base[0] - uy * head / 2, base[1] + ux * head / 2),
                    (base[0] + uy * head / 2, base[1] - ux * head / 2)], fill=PATH)


def draw(picture: MoodPicture, size: int = SIZE) -> Image.Image:
    """The picture as a Pillow image: axes and quadrant words, the path, the songs, the reading on top.

    Words say where pleasant, unpleasant, high and low arousal are, so the picture reads without a legend.
    """
    image = _background(size).copy()
    canvas = ImageDraw.Draw(image)
    if picture.strategy != "match":
        _path(canvas, picture.path, size)
    number_font = _font(max(9, round(SONG_RADIUS * 1.2)))
    # Later songs first, so song 1 (the best fit, or the first step) is on top where two overlap.
    for number in range(len(picture.songs), 0, -1):
        point = picture.songs[number - 1]
        if point is None:
            continue
        x, y = to_pixel(point[0], point[1], size)
        canvas.ellipse([x - SONG_RADIUS, y - SONG_RADIUS, x + SONG_RADIUS, y + SONG_RADIUS], fill=SONG)
        _text_centered(canvas, (x, y), str(number), (255, 255, 255), number_font)
    x, y = to_pixel(picture.valence, picture.arousal, size)
    r = READING_RADIUS
    canvas.ellipse([x - r, y - r, x + r, y + r], outline=READING, width=READING_WIDTH)
    label_y = y - r - 9 if y - r - 9 > plot_box(size)[1] else y + r + 9
    _text_centered(canvas, (x, label_y), "you", READING, _font(max(10, size // 36)))
    return image


def render_png(picture: MoodPicture, size: int = SIZE) -> bytes:
    """The picture as a palette PNG: every colour drawn is in the web palette (text edges round to its
    greys), and a palette image encodes about ten times faster than RGB and is a third of the size."""
    buffer = io.BytesIO()
    draw(picture, size).convert("P", dither=Image.Dither.NONE).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


async def picture_png(result: ChatResult, size: int = SIZE) -> bytes:
    """A chat answer's picture as PNG bytes, drawn in a worker thread so a bot's event loop never waits on it."""
    return await asyncio.to_thread(render_png, picture_of(result), size)


def picture_switch(words: Sequence[str]) -> bool:
    """`on`/`off` (and their usual spellings, English or Korean) after `/strategy picture`, or a `UserError`.

    The bots read it from the command's words; a missing or unknown word gets the usage line, never a guess.
    """
    from moodtape.core.errors import UserError

    word = " ".join(words).strip().lower()
    if word in ("on", "yes", "true", "1", "켜기", "켜"):
        return True
    if word in ("off", "no", "false", "0", "끄기", "꺼"):
        return False
    shown = word[:20] + ("…" if len(word) > 20 else "")
    said = f" (not “{shown}”)" if word else ""
    raise UserError(f"Say /strategy picture on or /strategy picture off{said}.")
