"""Benign synthetic pictures: smooth colour fields, shapes and noise, made with numpy + Pillow.

Different seeds give visually unrelated pictures (PDQ distance ~110-128 apart), so the demo and the tests
can tell "a copy of this picture" from "another picture". The same seed always gives the same pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def photo_like(seed: int, width: int = 640, height: int = 480, noise: float = 6.0) -> Image.Image:
    """A picture with the statistics of a photo: smooth regions, edges and sensor-like noise."""
    rng = np.random.default_rng(seed)
    # Low-frequency colour field: a tiny random image scaled up smoothly. PDQ sees mostly this and the
    # shapes, which is why copies survive resizing and recompression with only a few bits flipped.
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    field = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(field)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(width // 20, width // 3))
        y1 = y0 + int(rng.integers(height // 20, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    pixels = np.asarray(field).astype(np.int16)
    pixels += rng.normal(0, noise, size=pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG" and "quality" not in params:
        params["quality"] = 90
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def photo_jpeg(
    seed: int, width: int = 640, height: int = 480, quality: int = 90, exif: bytes | None = None
) -> bytes:
    image = photo_like(seed, width, height)
    if exif is not None:
        return encode(image, "JPEG", quality=quality, exif=exif)
    return encode(image, "JPEG", quality=quality)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def camera_exif(
    make: str = "TESTCAM",
    model: str = "Model T1",
    serial: str = "SN-TEST-0001",
    when: str = "2024:05:06 07:08:09",
    gps: tuple[float, float] | None = (36.2021, 37.1343),
) -> bytes:
    """EXIF bytes as a camera writes them: IFD0 make/model, Exif IFD date + body serial, GPS IFD."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = when
    ifd[0xA431] = serial
    if gps is not None:
        lat, lon = gps
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N" if lat >= 0 else "S"
        gps_ifd[2] = _dms(lat)
        gps_ifd[3] = "E" if lon >= 0 else "W"
        gps_ifd[4] = _dms(lon)
    return exif.tobytes()
