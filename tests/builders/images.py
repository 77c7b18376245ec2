"""Benign synthetic pictures for tests; the generator lives in `himaya.demo.pictures` (the demo uses it too).

Different seeds give visually unrelated pictures (PDQ distance ~110-128), so a test can tell "a copy of
this picture" from "another picture".
"""

from __future__ import annotations

from himaya.demo.pictures import camera_exif, encode, photo_jpeg, photo_like

__all__ = ["camera_exif", "encode", "photo_jpeg", "photo_like"]
