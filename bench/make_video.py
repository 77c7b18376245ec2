"""Benign 1080p H.264 test videos for bench/bench_video.py: moving shapes over a panning gradient.

    .venv/bin/python bench/make_video.py OUT.mp4 [--minutes 10] [--keyint 60|default] [--preset veryfast]

Nothing here comes from a camera: every frame is a smooth colour field (a large precomputed picture,
panned a few pixels a frame, so that encoders see real motion) with four moving rectangles and a new
colour scheme every 5 seconds (scene changes). 30 frames/s, yuv420p, libx264 with the given preset and
CRF 23 (x264's default). `--keyint 60` forces a key frame every 2 s (keyint=min-keyint=60, no scene-cut
key frames); `--keyint default` leaves x264's defaults (keyint 250, min-keyint 25, scene-cut 40).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS = 1920, 1080, 30
PAN = 400  # the background is this much larger than the frame on each axis


def background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = HEIGHT + PAN, WIDTH + PAN
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.empty((h, w, 3), np.float32)
    a, b, c = rng.uniform(150, 450, 3)
    field[..., 0] = 127 + 90 * np.sin(xx / a + seed)
    field[..., 1] = 127 + 90 * np.cos(yy / b - seed)
    field[..., 2] = 127 + 90 * np.sin((xx + yy) / c)
    field += rng.normal(0, 3, (h, w, 1)).astype(np.float32)  # fine texture, as a camera's noise
    return np.clip(field, 0, 255).astype(np.uint8)


def frames(minutes: float):
    scenes = [background(seed) for seed in range(6)]
    total = int(minutes * 60 * FPS)
    for n in range(total):
        scene = n // (FPS * 5)
        t = n / FPS
        base = scenes[scene % len(scenes)]
        x = int((PAN / 2) + (PAN / 2 - 1) * np.sin(t * 0.3 + scene))
        y = int((PAN / 2) + (PAN / 2 - 1) * np.cos(t * 0.2 + scene))
        frame = base[y : y + HEIGHT, x : x + WIDTH].copy()
        for k in range(4):
            cx = int(WIDTH / 2 + WIDTH / 3 * np.sin(t * (0.5 + 0.3 * k) + k))
            cy = int(HEIGHT / 2 + HEIGHT / 3 * np.cos(t * (0.4 + 0.2 * k) + 2 * k))
            frame[max(0, cy - 80) : cy + 80, max(0, cx - 120) : cx + 120] = (
                (60 * k + 30 * scene) % 256,
                (200 - 40 * k) % 256,
                (70 * scene) % 256,
            )
        yield frame


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--keyint", default="60")
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    partial = args.out.with_name(args.out.name + ".partial.mp4")
    started = time.monotonic()
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        options = {"preset": args.preset, "crf": "23"}
        if args.keyint != "default":
            options.update({"g": args.keyint, "keyint_min": args.keyint, "sc_threshold": "0"})
        stream.options = options
        for frame in frames(args.minutes):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(args.out)
    print(f"{args.out}: {args.minutes:g} min encoded in {time.monotonic() - started:.0f} s ({options})")


if __name__ == "__main__":
    main()
