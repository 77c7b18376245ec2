"""Frame hashes of a 10-minute 1080p H.264 video, one core: the naive loop against Himaya's analyzer.

    .venv/bin/python bench/make_video.py bench/out/video-1080p-10min-keyint60.mp4 --keyint 60
    .venv/bin/python bench/make_video.py bench/out/video-1080p-10min-keyintdefault.mp4 --keyint default
    .venv/bin/python bench/bench_video.py [--repeats 3] [VIDEO ...]

(the two videos are what make_video.py writes: benign moving shapes over panning gradients, libx264
preset veryfast, CRF 23, 30 frames/s, yuv420p; one with a key frame every 2 s, one with x264's default
key-frame placement, keyint 250 + scene cuts). For each video, alternately, REPEATS times:

  (a) the naive loop: PyAV decodes every frame (one thread), every 30th frame (vPDQ's one a second) is
      converted to RGB at full size and hashed with pdqhash.compute, as Meta's vpdq-hash-video does;
  (b) Himaya, `analyze_video` with the scan's defaults (frames to hash and the frames they depend on
      only, scaled to a short side of 360 before PDQ, border-trimmed hash, no contact sheet);
  (c) Himaya with full-size frames (`frame_short_side = 0`): the same bits as (a), to show what the
      decoding choices alone save;
  (d) with --keyframes, also Himaya's triage sampling (`--video-sampling keyframes`): a group of
      pictures at most 2 s long is sampled by its key frame alone, so fewer frames are hashed.

With --floor, three lower bounds on what any program hashing vPDQ's frames must spend are timed in the
same run (nothing is hashed in them, and their frames are not checked: they measure work, not results):

  (e) floor-ip: per group of pictures, the key frame, then only the frames that are not B-frames up to
      each frame to hash, then that frame: the least decoding that can give an exact frame when P-frames
      refer only to the P- or I-frame before them (the best case for any decoder; B-frames that other
      frames refer to are skipped although a full decode would need some of them);
  (f) floor-keys: the key frames alone (every one of them is a frame to hash with a key frame every 2 s);
  (g) decode-all: the naive loop's decoding without its conversion and hashing.

The process is pinned to one CPU and OpenMP to one thread. It checks that (c) hashes the same frames
to the same bits as (a), and reports how far (b)'s scaled hashes drift from the full-size ones.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import av
import pdqhash

from himaya.analyzers import video as video_module
from himaya.analyzers.pdq import bits_to_hex
from himaya.analyzers.video import analyze_video
from himaya.config import ImageLimits, VideoSettings

OUT = Path(__file__).parent / "out"
DEFAULT_VIDEOS = (OUT / "video-1080p-10min-keyint60.mp4", OUT / "video-1080p-10min-keyintdefault.mp4")


def naive(path: Path) -> tuple[float, dict[int, str], int]:
    started = time.perf_counter()
    hashes: dict[int, str] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.codec_context.thread_count = 1
        every = max(1, int(stream.average_rate))
        count = 0
        for count, frame in enumerate(container.decode(stream), start=1):
            if (count - 1) % every == 0:
                bits, _quality = pdqhash.compute(frame.to_ndarray(format="rgb24"))
                hashes[count - 1] = bits_to_hex(bits)
    return time.perf_counter() - started, hashes, count


HASHING: list[float] = []  # seconds each Himaya run spent hashing decoded frames (scale, PDQ, borders)


def himaya(path: Path, short_side: int, sampling: str = "exact") -> tuple[float, dict[int, str], int]:
    real = video_module._Sampler._hash
    spent = 0.0

    def timed(sampler: Any, frame: Any, pts: float) -> None:
        nonlocal spent
        began = time.perf_counter()
        real(sampler, frame, pts)
        spent += time.perf_counter() - began

    video_module._Sampler._hash = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        facts, _media = analyze_video(
            str(path),
            settings=VideoSettings(frame_short_side=short_side, contact_sheet=False, sampling=sampling),
            limits=ImageLimits(),
            thumbnails=None,
        )
    finally:
        video_module._Sampler._hash = real  # type: ignore[method-assign]
    if short_side and sampling == "exact":
        HASHING.append(spent)
    return (
        time.perf_counter() - started,
        {frame.frame_number: frame.pdq for frame in facts.frames},
        facts.frames_decoded,
    )


def _groups(container: Any, stream: Any) -> list[list[Any]]:
    groups: list[list[Any]] = []
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.is_keyframe or not groups:
            groups.append([])
        groups[-1].append(packet)
    return groups


def floor(path: Path, kind: str) -> tuple[float, dict[int, str], int]:
    """Decoding only (see (e), (f), (g) above): the packets are demuxed before the clock starts."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        context = stream.codec_context
        context.thread_count = 1
        frame = float(1 / (stream.average_rate * stream.time_base))
        every = max(1, int(stream.average_rate)) * frame
        groups = _groups(container, stream)
        decoded = 0
        started = time.perf_counter()
        if kind == "decode-all":
            for group in groups:
                for packet in group:
                    decoded += len(context.decode(packet))
            decoded += len(context.decode(None))
            return time.perf_counter() - started, {}, decoded
        start = groups[0][0].pts
        for group in groups:
            if kind == "floor-keys":
                decoded += len(context.decode(group[0])) + len(context.decode(None))
                context.flush_buffers()
                continue
            first, last = group[0].pts, max(p.pts for p in group)
            # the frames to hash in this group: vPDQ's grid from the video's first frame
            n = math.ceil((first - start - frame / 2) / every)
            targets = []
            while start + n * every <= last + frame / 2:
                targets.append(start + n * every)
                n += 1
            # packets are sent in decoding order until the last frame to hash has been sent, then the
            # decoder is drained: nothing after it is decoded
            pending = list(targets)
            for packet in group:
                if not pending:
                    break
                due = pending[0] - frame / 2
                context.skip_frame = "DEFAULT" if packet.is_keyframe or packet.pts >= due else "BIDIR"
                decoded += len(context.decode(packet))
                pending = [t for t in pending if abs(packet.pts - t) >= frame / 2]
            decoded += len(context.decode(None))
            context.flush_buffers()
            context.skip_frame = "DEFAULT"
        return time.perf_counter() - started, {}, decoded


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", nargs="*", type=Path, default=list(DEFAULT_VIDEOS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keyframes", action="store_true", help="also time --video-sampling keyframes")
    parser.add_argument("--only", nargs="*", default=None, help="time only these variants (with naive)")
    parser.add_argument("--floor", action="store_true", help="also time the lower bounds (e), (f), (g)")
    args = parser.parse_args()
    missing = [str(video) for video in args.videos if not video.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: make them with bench/make_video.py (see this file's doc)")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    codec = av.library_versions["libavcodec"]
    print(f"PyAV {av.__version__}, FFmpeg libavcodec {codec}, one CPU", flush=True)
    for video in args.videos:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            packets = [p for p in container.demux(stream) if p.size]
            keys = sum(p.is_keyframe for p in packets)
            print(
                f"\n{video.name}: {stream.codec_context.width}x{stream.codec_context.height}, "
                f"{float(stream.average_rate):g} frames/s, {len(packets)} frames, {keys} key frames, "
                f"{video.stat().st_size / 1e6:.0f} MB",
                flush=True,
            )
        variants = ["naive", "himaya", "himaya-full"] + (["himaya-keyframes"] if args.keyframes else [])
        variants += ["floor-ip", "floor-keys", "decode-all"] if args.floor else []
        if args.only is not None:
            variants = ["naive", *args.only]
        times: dict[str, list[float]] = {name: [] for name in variants}
        results: dict[str, tuple[dict[int, str], int]] = {}
        for _ in range(args.repeats):
            for name in variants:
                if name == "naive":
                    seconds, hashes, decoded = naive(video)
                elif name in ("floor-ip", "floor-keys", "decode-all"):
                    seconds, hashes, decoded = floor(video, name)
                else:
                    side = 0 if name == "himaya-full" else VideoSettings().frame_short_side
                    sampling = "keyframes" if name == "himaya-keyframes" else "exact"
                    seconds, hashes, decoded = himaya(video, side, sampling)
                times[name].append(seconds)
                results[name] = (hashes, decoded)
                print(f"  {name:12s} {seconds:7.2f} s  ({len(hashes)} hashes, {decoded} decoded)", flush=True)
        base = statistics.median(times["naive"])
        for name in variants[1:]:
            median = statistics.median(times[name])
            print(f"  median {name:16s} {median:7.2f} s vs naive {base:7.2f} s: {base / median:.2f}x")
        reference = results["naive"][0]
        if "himaya-full" in results:
            full = results["himaya-full"][0]
            same = sorted(reference) == sorted(full) and all(reference[n] == full[n] for n in reference)
            print(f"  full-size frames: same frames and bits as the naive loop: {same}")
        if "himaya-keyframes" in results:
            keys = results["himaya-keyframes"][0]
            on_grid = sum(n in reference for n in keys)
            print(f"  key-frame sampling: {len(keys)} frames hashed, {on_grid} of them on vPDQ's frames")
        hashing = statistics.median(HASHING) if HASHING else 0.0
        if HASHING:
            print(f"  of Himaya's time, hashing the frames (scale, PDQ, borders): median {hashing:.2f} s")
        if "floor-ip" in times:
            floor_ip = statistics.median(times["floor-ip"])
            print(
                "  the most any exact decoder could reach here (floor-ip, nothing hashed): "
                f"{base / floor_ip:.2f}x; with Himaya's hashing of the same frames added: "
                f"{base / (floor_ip + hashing):.2f}x"
            )
        HASHING.clear()
        scaled = results["himaya"][0] if "himaya" in results else {}
        drift = [distance(reference[n], scaled[n]) for n in reference if n in scaled]
        if drift:
            print(
                f"  scaled (short side 360) vs full-size PDQ: median {statistics.median(drift):g} bits, "
                f"max {max(drift)} over {len(drift)} frames"
            )


if __name__ == "__main__":
    main()
