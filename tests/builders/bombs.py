"""Decompression bombs in miniature: files that declare far more than they hold."""

from __future__ import annotations

import struct
import zlib


def png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring `width` x `height` that holds a few bytes of pixels: a decompression bomb's shape.

    Well formed up to the first pixel row (signature, IHDR, a short IDAT, IEND), so a decoder reaches its
    size check; a few hundred bytes on disk whatever the dimensions.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
