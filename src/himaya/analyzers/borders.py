"""Uniform borders around a picture: frames, letterbox bars, the margins of a screenshot.

A picture re-shared with a frame added, with black bars to fit 16:9 or 4:3, or as a screenshot of a
viewer (the picture on a plain canvas) hashes to a PDQ far from the original's. `content_box` finds
the picture inside such borders so that the content can be hashed as well (see `himaya.analyzers.image`).

The rule, on each colour channel (a band is flat in all three; a hue gradient is not, even where its
luma is), for each side in turn:

1. The outermost line (row or column) must be uniform: standard deviation <= `MAX_LINE_STD` (2 of 255)
   in every channel. JPEG and video codecs leave a flat band flat; camera noise and texture are above.
2. The band grows inwards over every line that is uniform in the same way and whose mean colour stays
   within `MAX_MEAN_DRIFT` (2 of 255, per channel) of the outermost line's. A smooth gradient therefore
   cannot pass for a band for long: its lines drift away from the first one.
3. The band must end at an edge: within the next `EDGE_LINES` (16) lines or `EDGE_SHARE` (1%) of the
   side, whichever is more, some line must be textured (a channel's standard deviation > `EDGE_STD`,
   6) or clearly off the band's colour (a channel's mean off by > `EDGE_MEAN`, 12) by a step (>
   `EDGE_STEP`, 4, from the line before). A gradient drifts away a little at a time: no step, no edge,
   no border. The lines before the edge (JPEG's ringing, a little off the band's colour) are border.
4. A band counts only if its flat part (before the ringing) is at least `MIN_BAND_SHARE` (2%) of the
   side. Once one band does, thinner bands (from 1 line) of the same colour are trimmed too, as an
   off-centre screenshot has them on its canvas; thin bands of another colour are content.
5. What remains must be at least `MIN_CONTENT_SHARE` (20%) of each side and `MIN_CONTENT_PIXELS`;
   if any band reaches that far the picture is (nearly) all band (a flat picture, a small thumbnail on
   a large canvas) and nothing is trimmed.

Large pictures are examined reduced (box-averaged) to a short side of `DETECTION_SHORT_SIDE` (512) to
`2 * DETECTION_SHORT_SIDE`, the scale of the reduced JPEG decode, so a draft decode and the full decode
of one file see the same noise and take the same decision; the box is scaled back (to within the
reduction factor, a few pixels, which PDQ's 64x64 grid does not see).

Bands of different colours (black bars, then a white frame inside them) are found by running the sides
twice, each time inside what the previous pass left; the inner band is kept if it is significant itself.

What this cannot tell apart: content that is itself perfectly flat up to a sharp edge (a synthetic
graphic with a plain sky, a scanned page's white margin) is trimmed like a border. That costs nothing
in matching: the untrimmed hash is always matched as well, and the trimmed one is the content's own.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# (left, top, right, bottom) in pixels, as Image.crop takes it.
Box = tuple[int, int, int, int]

MAX_LINE_STD = 2.0
MAX_MEAN_DRIFT = 2.0
EDGE_MEAN = 12.0
EDGE_STD = 6.0
EDGE_STEP = 4.0
EDGE_SHARE = 0.01
EDGE_LINES = 16  # JPEG rings up to a 16-pixel chroma block around an edge
MIN_BAND_SHARE = 0.02
MIN_CONTENT_SHARE = 0.2
MIN_CONTENT_PIXELS = 16
DETECTION_SHORT_SIDE = 512
_PASSES = 2
_CHUNK = 64  # lines examined at a time; an ordinary picture stops after its first line on each side


def content_box(rgb: Image.Image) -> Box | None:
    """The box of the picture inside its uniform borders, or None when it has none worth trimming."""
    if rgb.mode != "RGB":
        raise ValueError(f"borders are found on an RGB picture, not mode {rgb.mode}")
    scale = max(1, min(rgb.size) // DETECTION_SHORT_SIDE)
    if scale == 1:
        return _content_box(np.asarray(rgb))
    box = _content_box(np.asarray(rgb.reduce(scale)))
    if box is None:
        return None
    left, top, right, bottom = box
    return (left * scale, top * scale, min(right * scale, rgb.width), min(bottom * scale, rgb.height))


class _Band(NamedTuple):
    flat: int  # lines of the flat band itself
    lines: int  # up to the edge: the flat band and the ringing after it
    colour: NDArray[np.float32]  # mean RGB of its outermost line


def _content_box(pixels: NDArray[np.uint8]) -> Box | None:
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_CONTENT_PIXELS:
        return None
    min_width = max(MIN_CONTENT_PIXELS, int(np.ceil(MIN_CONTENT_SHARE * width)))
    min_height = max(MIN_CONTENT_PIXELS, int(np.ceil(MIN_CONTENT_SHARE * height)))
    lengths = (width, height, width, height)
    # The bands found on each side (left, top, right, bottom), outermost first.
    found: list[list[_Band]] = [[], [], [], []]
    for _ in range(_PASSES):
        for side in range(4):
            left, top, right, bottom = _inside(found, width, height)
            if side in (1, 3):  # rows, across the columns still in the box
                region = pixels[top:bottom, left:right]
                lines = region if side == 1 else region[::-1]
                room = (bottom - top) - min_height
            else:  # columns, across the rows still in the box
                region = pixels[top:bottom, left:right].transpose(1, 0, 2)
                lines = region if side == 0 else region[::-1]
                room = (right - left) - min_width
            band = _band(lines, room, lengths[side])
            if band is None:
                return None
            if band.lines:
                found[side].append(band)
    # Keep the significant bands, and thin ones of a significant band's colour (a screenshot's canvas
    # around an off-centre picture); on each side, stop at the first band that is neither.
    significant = [
        band.colour
        for side in range(4)
        for band in found[side]
        if band.flat >= MIN_BAND_SHARE * lengths[side]
    ]
    if not significant:
        return None
    for side in range(4):
        for n, band in enumerate(found[side]):
            thick = band.flat >= MIN_BAND_SHARE * lengths[side]
            if not thick and not any(np.abs(band.colour - c).max() <= MAX_MEAN_DRIFT for c in significant):
                del found[side][n:]
                break
    box = _inside(found, width, height)
    if box[2] - box[0] < min_width or box[3] - box[1] < min_height:  # the ringing ran into the minimum
        return None
    return box


def _inside(found: list[list[_Band]], width: int, height: int) -> Box:
    left, top, right, bottom = (sum(band.lines for band in bands) for bands in found)
    return (left, top, width - right, height - bottom)


def _band(lines: NDArray[np.uint8], room: int, side_length: int) -> _Band | None:
    """The uniform band at the start of `lines` (lines x pixels x RGB), if it ends at an edge.

    A band of 0 lines if there is none; None if the band leaves less than the minimum content (the
    picture is nearly all band).
    """
    if room <= 0 or not len(lines):
        return _Band(0, 0, np.zeros(3, np.float32))
    first_means, first_stds = _stats(lines[:1])
    colour = first_means[0]
    none = _Band(0, 0, colour)
    if float(first_stds[0]) > MAX_LINE_STD:
        return none
    band = 0
    limit = min(room, len(lines))
    while band < limit:
        means, stds = _stats(lines[band : min(band + _CHUNK, limit)])
        outside = (stds > MAX_LINE_STD) | (np.abs(means - colour).max(axis=1) > MAX_MEAN_DRIFT)
        if outside.any():
            band += int(np.argmax(outside))
            break
        band += len(means)
    else:
        return None  # uniform up to the minimum content
    # The edge: a textured line, or a line clearly off the band's colour reached by a step (a gradient
    # drifts off it a little at a time). Start one line early so the first line after the band has a
    # predecessor to step from.
    look = max(EDGE_LINES, int(np.ceil(EDGE_SHARE * side_length)))
    means, stds = _stats(lines[band - 1 : band + look])
    steps = np.abs(np.diff(means, axis=0)).max(axis=1)
    means, stds = means[1:], stds[1:]
    clear = (stds > EDGE_STD) | ((np.abs(means - colour).max(axis=1) > EDGE_MEAN) & (steps > EDGE_STEP))
    if not clear.any():
        return none
    # The lines between the flat band and the edge are the codec's ringing around the edge: border too.
    return _Band(band, band + int(np.argmax(clear)), colour)


def _stats(lines: NDArray[np.uint8]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per line: its mean colour (lines x 3) and its largest per-channel standard deviation (lines)."""
    # Channels first, each line's pixels contiguous: numpy reduces a contiguous last axis ~10x faster.
    values = np.ascontiguousarray(lines.transpose(0, 2, 1), dtype=np.float32)
    return values.mean(axis=2), values.std(axis=2).max(axis=1)
