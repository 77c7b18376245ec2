"""Memory of hashing a video stays flat with its length: a 10-minute and a 4-hour video, same stream.

    .venv/bin/python bench/bench_video_memory.py [--hours 4] [--size 128x96] [--fps 5]

Makes two benign videos of the same generated content (moving shapes, MPEG-4 Part 2, a key frame every
2 s) in bench/out/, 10 minutes and HOURS long, then hashes each in a fresh process (one frame a second,
contact sheet on, the scan's defaults) and reports the process's peak resident memory (ru_maxrss) and
the frames hashed. Small frames keep the encode quick; what grows with length is the per-frame state
(hashes, the contact-sheet cells, the packets of a group of pictures), not the frame size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"

_HASH = """
import resource, sys, time
from himaya.analyzers.video import analyze_video
from himaya.config import ImageLimits, VideoSettings

class Sink:
    def put(self, data):
        return "x"

started = time.monotonic()
facts, media = analyze_video(sys.argv[1], settings=VideoSettings(), limits=ImageLimits(), thumbnails=Sink())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{len(facts.frames)} {facts.duration} {peak:.1f} {time.monotonic() - started:.1f} {facts.incomplete}")
"""


def make(path: Path, minutes: float, size: tuple[int, int], fps: int) -> None:
    if path.exists():
        return
    import av
    import numpy as np

    from himaya.demo.videos import frame_at

    width, height = size
    scenes = [frame_at(seed, size, 0.0) for seed in range(1, 9)]
    partial = path.with_name(path.name + ".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        stream.codec_context.bit_rate = 100_000
        for number in range(int(minutes * 60 * fps)):
            base = scenes[(number // (3 * fps)) % len(scenes)]
            shift = number % width
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(base, shift, axis=1)), "rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--size", default="128x96")
    parser.add_argument("--fps", type=int, default=5)
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    OUT.mkdir(exist_ok=True)
    for minutes in (10.0, args.hours * 60):
        path = OUT / f"video-{width}x{height}-{minutes:g}min.mp4"
        started = time.monotonic()
        make(path, minutes, (width, height), args.fps)
        made = time.monotonic() - started
        result = subprocess.run(
            [sys.executable, "-c", _HASH, str(path)], capture_output=True, text=True, check=True
        )
        frames, duration, peak, seconds, *_ = result.stdout.split()
        print(
            f"{path.name}: {float(duration) / 60:.0f} min, {path.stat().st_size / 1e6:.0f} MB "
            f"(made in {made:.0f} s): {frames} frames hashed in {seconds} s, peak memory {peak} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
