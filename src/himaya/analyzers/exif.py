"""Camera facts from EXIF: who made the picture, with what body, when and where.

EXIF in seized material is often damaged, stripped or forged, so nothing here raises: every field is
read on its own and a field that cannot be read is left None while the others are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from PIL import Image

from himaya.analyzers.facts import ExifFacts

_MAKE, _MODEL, _ORIENTATION = 0x010F, 0x0110, 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL = 0x9003
_BODY_SERIAL = 0xA431  # EXIF 2.3 BodySerialNumber
_CAMERA_SERIAL = 0xC62F  # DNG CameraSerialNumber, written by some raw converters and older bodies
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

T = TypeVar("T")

# Longer values are garbage (or an attempt to stuff the case store), not a camera model.
_MAX_TEXT = 128


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value.replace("\x00", " ") if ch.isprintable()).strip()
    return cleaned[:_MAX_TEXT] or None


def _datetime(value: Any) -> str | None:
    text = _text(value)
    # Cameras without a set clock write zeros or blanks ("0000:00:00 00:00:00", "    :  :   ").
    if text is None or not text.strip("0: "):
        return None
    return text


def _coordinate(value: Any, ref: Any, hemispheres: str, limit: float) -> float | None:
    """Signed decimal degrees from (degrees, minutes, seconds) rationals and an N/S or E/W reference.

    A missing or unknown reference gives None rather than a guess: a coordinate in the wrong hemisphere
    is worse than none.
    """
    ref_text = (_text(ref) or "").upper()[:1]
    if len(ref_text) != 1 or ref_text not in hemispheres:  # hemispheres: "NS" or "EW", positive first
        return None
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    degrees = 0.0
    for part, unit in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        number = float(part)  # IFDRational with a zero denominator gives nan, caught below
        degrees += number / unit
    if not math.isfinite(degrees) or not 0.0 <= degrees <= limit:
        return None
    return -degrees if ref_text == hemispheres[1] else degrees


def _field(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except Exception:  # Pillow raises anything from struct.error to ZeroDivisionError on bad EXIF
        return None


def _ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    found = _field(lambda: exif.get_ifd(tag))
    return found if isinstance(found, Mapping) else {}


@contextmanager
def _quietly() -> Iterator[None]:
    # Pillow warns ("Corrupt EXIF data") for every damaged tag; on seized material that is routine
    # and would bury the scan log. What could not be read is simply None.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def read_exif(image: Image.Image) -> ExifFacts:
    with _quietly():
        return _read(image)


def _read(image: Image.Image) -> ExifFacts:
    facts = ExifFacts()
    exif = _field(image.getexif)
    if not isinstance(exif, Image.Exif):
        return facts
    facts.make = _field(lambda: _text(exif.get(_MAKE)))
    facts.model = _field(lambda: _text(exif.get(_MODEL)))
    exif_ifd = _ifd(exif, _EXIF_IFD)
    facts.datetime_original = _field(lambda: _datetime(exif_ifd.get(_DATETIME_ORIGINAL)))
    facts.body_serial = _field(
        lambda: (
            _text(exif_ifd.get(_BODY_SERIAL))
            or _text(exif.get(_CAMERA_SERIAL))
            or _text(exif_ifd.get(_CAMERA_SERIAL))
        )
    )
    gps = _ifd(exif, _GPS_IFD)
    facts.gps_lat = _field(lambda: _coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "NS", 90.0))
    facts.gps_lon = _field(lambda: _coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "EW", 180.0))
    return facts


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8); 1 when absent or unreadable."""
    with _quietly():
        value = _field(lambda: image.getexif().get(_ORIENTATION))
    return value if isinstance(value, int) and 1 <= value <= 8 else 1
