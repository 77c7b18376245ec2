"""Benign synthetic videos for the demo: moving shapes over a drifting colour field, encoded with PyAV.

The same seed always gives the same frames, and FFmpeg's own MPEG-4 Part 2 encoder (as older phones and
3GP files use) gives the same bytes from the same PyAV build (pinned in pyproject.toml), so the demo's
golden export holds on any machine that installs it. libx264 does not: even on one thread, its
macroblock-tree rate control gave different bytes for the same frames from one run to the next.
A new colour scheme every 3 seconds keeps hashed frames one second apart clearly different, as in a
real video, so a clip of the original matches it frame by frame and nothing else.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

FPS = 10
SCENE_SECONDS = 3


def frame_at(seed: int, size: tuple[int, int], t: float) -> np.ndarray:
    """The frame of video `seed` at `t` seconds: height x width x RGB."""
    width, height = size
    scene = int(t // SCENE_SECONDS)
    rng = np.random.default_rng(seed * 1000 + scene)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    fx, fy, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
    pixels = np.empty((height, width, 3), np.float32)
    drift = t * 0.8
    pixels[..., 0] = 128 + 100 * np.sin(fx * xx / width * 6.28 + phase + drift)
    pixels[..., 1] = 128 + 100 * np.cos(fy * yy / height * 6.28 - phase + drift)
    pixels[..., 2] = 128 + 100 * np.sin((xx + yy) / (width + height) * 6.28 * fx + drift)
    for shape in range(4):
        colour = rng.integers(0, 256, size=3)
        speed = rng.uniform(0.2, 0.6, size=2)
        cx = int(width * (0.5 + 0.4 * np.sin(t * speed[0] * 6.28 / 3 + shape)))
        cy = int(height * (0.5 + 0.4 * np.cos(t * speed[1] * 6.28 / 3 + 2 * shape)))
        half_w, half_h = width // 8, height // 7
        pixels[max(0, cy - half_h) : cy + half_h, max(0, cx - half_w) : cx + half_w] = colour
    return np.clip(pixels, 0, 255).astype(np.uint8)


def encode_video(
    frames: list[np.ndarray], *, bit_rate: int = 250_000, fps: int = FPS, creation_time: str | None = None
) -> bytes:
    """MPEG-4 Part 2 in MP4, a key frame every 2 s, one encoder thread (same bytes every time)."""
    buffer = io.BytesIO()
    height, width = frames[0].shape[:2]
    with av.open(buffer, "w", format="mp4") as container:
        if creation_time:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.thread_count = 1
        stream.codec_context.bit_rate = bit_rate
        stream.codec_context.gop_size = 2 * fps
        for number, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = number  # without timestamps the wrapper makes some up, and the bytes vary
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def demo_video(
    seed: int,
    seconds: float,
    size: tuple[int, int] = (320, 240),
    *,
    start: float = 0.0,
    bit_rate: int = 250_000,
    creation_time: str | None = None,
) -> bytes:
    """`seconds` of video `seed` from `start`, at `size` (a clip or a smaller copy when they differ)."""
    count = round(seconds * FPS)
    frames = [frame_at(seed, size, start + n / FPS) for n in range(count)]
    return encode_video(frames, bit_rate=bit_rate, creation_time=creation_time)
