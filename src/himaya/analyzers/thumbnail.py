"""Review thumbnails: a small picture and a heavily blurred one, made in memory, stored encrypted.

Reviewers open the blurred copy by default and reveal the sharp one only when they must decide: limiting
exposure to abuse material is a welfare duty of the unit. Both leave this module only through a
`ThumbnailSink` (the encrypted blob store); picture bytes are never written anywhere else.
"""

from __future__ import annotations

import io
from typing import Protocol

from PIL import Image, ImageFilter

THUMBNAIL_MAX_SIDE = 256
# Radius as a fraction of the long side: at 1/16 (16 px on 256) shapes and colours stay, people and
# acts do not.
_BLUR_FRACTION = 1 / 16

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ThumbnailSink(Protocol):
    """Where thumbnails go; returns an id to keep in the case store (the blob store encrypts)."""

    def put(self, data: bytes) -> str: ...


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def make_thumbnails(rgb: Image.Image, orientation: int = 1) -> tuple[bytes, bytes]:
    """(thumbnail JPEG, blurred JPEG), long side at most THUMBNAIL_MAX_SIDE, shown upright.

    Unlike the PDQ hash, thumbnails honour EXIF orientation: they are for people, who should see the
    picture as the camera meant it.
    """
    scale = min(1.0, THUMBNAIL_MAX_SIDE / max(rgb.size))
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    # reducing_gap: box-reduce first, then filter: 11 ms instead of LANCZOS's 96 ms from a 12 MP full
    # decode, and no visible difference at this size.
    small = rgb.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0) if size != rgb.size else rgb
    transpose = _UPRIGHT.get(orientation)
    if transpose is not None:
        small = small.transpose(transpose)
    blurred = small.filter(ImageFilter.GaussianBlur(radius=max(small.size) * _BLUR_FRACTION))
    return _jpeg(small, quality=80), _jpeg(blurred, quality=60)


def store_thumbnails(rgb: Image.Image, sink: ThumbnailSink, orientation: int = 1) -> tuple[str, str]:
    """Make both thumbnails and put them through `sink`; returns (thumbnail id, blurred id)."""
    thumbnail, blurred = make_thumbnails(rgb, orientation)
    return sink.put(thumbnail), sink.put(blurred)


SHEET_COLUMNS = 3


def make_contact_sheet(cells: list[Image.Image]) -> tuple[bytes, bytes]:
    """(sheet JPEG, blurred sheet JPEG) of a video's key frames, three to a row, in time order.

    Each cell is blurred on its own, at the same fraction of its size as a picture's thumbnail, so a
    sheet is no clearer than the thumbnails beside it in the gallery.
    """
    if not cells:
        raise ValueError("a contact sheet needs at least one frame")
    cell_w = max(cell.width for cell in cells)
    cell_h = max(cell.height for cell in cells)
    columns = min(SHEET_COLUMNS, len(cells))
    rows = -(-len(cells) // columns)
    sharp = Image.new("RGB", (columns * cell_w, rows * cell_h))
    blurred = Image.new("RGB", sharp.size)
    for n, cell in enumerate(cells):
        x = (n % columns) * cell_w + (cell_w - cell.width) // 2
        y = (n // columns) * cell_h + (cell_h - cell.height) // 2
        sharp.paste(cell, (x, y))
        blurred.paste(cell.filter(ImageFilter.GaussianBlur(radius=max(cell.size) * _BLUR_FRACTION)), (x, y))
    return _jpeg(sharp, quality=80), _jpeg(blurred, quality=60)
