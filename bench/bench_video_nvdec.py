"""NVIDIA's hardware decoder (NVDEC, through PyAV's hwaccel "cuda") against FFmpeg's software decoder on
one core: the same pictures? how fast? Needs a machine with an NVIDIA GPU; not a scan option (yet).

    .venv/bin/python bench/make_video.py /tmp/v.mp4 --minutes 1 --keyint 60
    .venv/bin/python bench/bench_video_nvdec.py /tmp/v.mp4

Decoding only, no hashing. For each way: (a) every frame, (b) the frames vPDQ hashes (one a second) and
what they need, as Himaya decodes them: per group of pictures the key frame, the packets up to the last
frame to hash with non-reference frames skipped, then a drain. Every 30th frame's pixels (as yuv420p) are
compared with the software decoder's full decode. NVDEC also runs with frames left on the GPU
(`is_hw_owned`), which shows what the copy back to memory costs.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Any

import av
from av.codec.hwaccel import HWAccel

EVERY = 30


def _digest(frame: Any) -> str:
    return hashlib.md5(b"".join(bytes(p) for p in frame.reformat(format="yuv420p").planes)).hexdigest()


def _open(path: str, gpu: bool, owned: bool = False) -> Any:
    if not gpu:
        container = av.open(path)
        container.streams.video[0].thread_type = "NONE"
        container.streams.video[0].codec_context.thread_count = 1
        return container
    return av.open(
        path, hwaccel=HWAccel(device_type="cuda", allow_software_fallback=False, is_hw_owned=owned)
    )


def every_frame(path: str, gpu: bool, owned: bool = False) -> tuple[float, int, dict[int, str]]:
    started, count, pictures = time.perf_counter(), 0, {}
    with _open(path, gpu, owned) as container:
        for count, frame in enumerate(container.decode(video=0), start=1):
            if (count - 1) % EVERY == 0 and not owned:
                pictures[count - 1] = _digest(frame)
    return time.perf_counter() - started, count, pictures


def frames_to_hash(path: str, gpu: bool) -> tuple[float, int, dict[int, str]]:
    started, out, pictures = time.perf_counter(), 0, {}
    with _open(path, gpu) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        step = float(1 / (stream.average_rate * stream.time_base))
        groups: list[list[Any]] = []
        for packet in container.demux(stream):
            if packet.size:
                if packet.is_keyframe or not groups:
                    groups.append([])
                groups[-1].append(packet)
        start = groups[0][0].pts

        def take(frames: list[Any]) -> None:
            nonlocal out
            for frame in frames:
                out += 1
                number = round((frame.pts - start) / step)
                if number % EVERY == 0:
                    pictures[number] = _digest(frame)

        for group in groups:
            last = max(p.pts for p in group)
            k = max(0, int((group[0].pts - start - step / 2) // (EVERY * step)))
            targets = []
            while start + k * EVERY * step <= last + step / 2:
                if start + k * EVERY * step >= group[0].pts - step / 2:
                    targets.append(start + k * EVERY * step)
                k += 1
            wanted = {i for i, p in enumerate(group) if any(abs(p.pts - t) < step / 2 for t in targets)}
            for i, packet in enumerate(group):
                if not wanted:
                    break
                context.skip_frame = "DEFAULT" if packet.is_keyframe or i in wanted else "NONREF"
                take(context.decode(packet))
                if i == max(wanted):
                    take(context.decode(None))
                    context.flush_buffers()
                    break
    return time.perf_counter() - started, out, pictures


def main() -> None:
    path = sys.argv[1]
    results: dict[str, tuple[float, int, dict[int, str]]] = {}
    for name, run in (
        ("nvdec, every frame", lambda: every_frame(path, True)),
        ("nvdec, every frame left on the GPU", lambda: every_frame(path, True, owned=True)),
        ("nvdec, vPDQ's frames", lambda: frames_to_hash(path, True)),
    ):
        try:
            results[name] = run()
        except Exception as error:  # no GPU, no driver, a sandbox without the video engine
            print(f"{name}: failed: {type(error).__name__}: {error}", flush=True)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    results["software, one core, every frame"] = every_frame(path, False)
    results["software, one core, vPDQ's frames"] = frames_to_hash(path, False)
    reference = results["software, one core, every frame"][2]
    for name, (seconds, count, pictures) in results.items():
        same = sum(1 for n, digest in pictures.items() if reference.get(n) == digest)
        check = f", {same} of {len(reference)} sampled pictures identical" if pictures else ""
        print(
            f"{name}: {seconds:.2f} s, {count} frames out, {count / seconds:.0f} frames/s{check}", flush=True
        )


if __name__ == "__main__":
    main()
