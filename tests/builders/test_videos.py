"""The test-video builders make what the video tests take them for: real files in each container and codec,
content that is a pure function of (seed, size, time), copies whose frames match the original's at the same
times, unrelated seeds that do not, and the damaged files the robustness tests need.

The PDQ bounds below come from measurements on these videos (noted beside each); they leave room for
encoder changes but fail if the content or a copy goes wrong (a wrong start, a scaled or shifted picture,
flat frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pdqhash
import pytest

from tests.builders import videos
from tests.builders.videos import (
    CLIP_SECONDS,
    CLIP_START,
    VideoCorpus,
    audio_only,
    clip,
    corrupt_middle,
    decoded_frames,
    frame_at,
    garbage_tail,
    letterbox,
    make_video,
    overlay_logo,
    reencode,
    truncated,
    with_metadata,
)

SIZE = (320, 240)
SAME = 20  # a frame and its encoded copy: measured 0-12 (x265 12, VP9 10, the rest ≤ 6)


def pdq(picture: np.ndarray) -> tuple[np.ndarray, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(picture))
    return bits, int(quality)


def distance(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a != b))


def hashes_per_second(path: Path) -> dict[int, tuple[np.ndarray, int]]:
    """PDQ of the frame shown at each whole second (from the first frame)."""
    found = {}
    for t, frame in decoded_frames(path):
        second = round(t)
        if abs(t - second) < 1e-3:
            found[second] = pdq(frame.to_ndarray(format="rgb24"))
    return found


@dataclass(frozen=True)
class Probe:
    format: str
    duration: float  # seconds, 0.0 when the container does not say
    video: str | None  # the first video stream's decoder
    size: tuple[int, int] | None
    audio: list[str]
    frames: int
    metadata: dict[str, str]


def probe(path: Path) -> Probe:
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        return Probe(
            format=container.format.name,
            duration=container.duration / av.time_base if container.duration else 0.0,
            video=video.codec_context.name if video else None,
            size=(video.codec_context.width, video.codec_context.height) if video else None,
            audio=[s.codec_context.name for s in container.streams.audio],
            frames=sum(1 for _ in container.decode(video=0)) if video else 0,
            metadata=dict(container.metadata),
        )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="module")
def source(folder: Path) -> Path:
    """12 s of seed 1 with sound, the input of the copy builders."""
    return make_video(folder / "source.mp4", seconds=12, seed=1, audio=True)


# Content ------------------------------------------------------------------------------------------------


def test_frame_at_is_a_pure_function_of_seed_size_and_time() -> None:
    first = frame_at(1, SIZE, 7.3)
    videos._scene.cache_clear()  # recomputed from scratch, not served from the cache
    assert np.array_equal(frame_at(1, SIZE, 7.3), first)
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    # A start offset plus a frame time lands on the same picture as the plain time, scene edges included.
    assert np.array_equal(frame_at(1, SIZE, 40 + 20 / 10), frame_at(1, SIZE, 42.0))
    assert np.array_equal(frame_at(1, SIZE, 0.1 + 0.2), frame_at(1, SIZE, 0.3))
    assert not np.array_equal(frame_at(1, SIZE, 7.3), frame_at(2, SIZE, 7.3))
    assert not np.array_equal(frame_at(1, SIZE, 7.3), frame_at(1, SIZE, 7.4))
    # Another size is about the same picture scaled (positions are rounded to its pixels), not another one.
    # Measured median / max over 60 s: 240x180 12 / 20, 640x480 6 / 18.
    assert frame_at(1, (640, 480), 7.3).shape == (480, 640, 3)
    for size in ((240, 180), (640, 480)):
        near = [
            distance(pdq(frame_at(1, size, t))[0], pdq(frame_at(1, SIZE, t))[0])
            for t in np.arange(0, 30, 1.3)
        ]
        assert np.median(near) <= 16 and max(near) <= 31


def test_frames_are_textured_and_change_every_second_but_not_every_frame() -> None:
    # Measured on seeds 1-8 over 120 s: quality ≥ 93; 1 s apart ≥ 60 (1 % under 80); 0.1 s apart median 16.
    for seed in (1, 2, 3):
        hashes = [pdq(frame_at(seed, SIZE, n / 10)) for n in range(0, 400)]
        assert min(quality for _, quality in hashes) >= 80
        seconds_apart = [distance(hashes[n][0], hashes[n + 10][0]) for n in range(0, 390, 10)]
        assert min(seconds_apart) > 31
        frame_apart = [distance(hashes[n][0], hashes[n + 1][0]) for n in range(0, 399)]
        assert np.median(frame_apart) <= 24
        assert np.mean(np.array(frame_apart) <= 31) >= 0.85  # the rest are scene changes


def test_other_seeds_are_unrelated() -> None:
    # Measured: min 92, 1st percentile 108 over all pairs of times.
    ones = [pdq(frame_at(1, SIZE, t))[0] for t in np.arange(0, 60, 2.3)]
    for seed in (2, 3, 4):
        others = [pdq(frame_at(seed, SIZE, t))[0] for t in np.arange(0, 60, 1.9)]
        pairs = np.array([distance(a, b) for a in ones for b in others])
        assert pairs.min() > 60
        assert np.mean(pairs > 80) >= 0.99


# Containers and codecs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "decoder", "audio"),
    [
        ("h264.mp4", "libx264", "h264", "aac"),
        ("h264.mov", "libx264", "h264", "aac"),
        ("h264.3gp", "libx264", "h264", None),
        ("vp9.mkv", "libvpx-vp9", "vp9", "aac"),
        ("hevc.mkv", "libx265", "hevc", None),
        ("vp8.webm", "libvpx", "vp8", "opus"),
        ("vp9.webm", "libvpx-vp9", "vp9", None),
        ("mpeg4.avi", "mpeg4", "mpeg4", "mp2"),
        ("mjpeg.avi", "mjpeg", "mjpeg", None),
        ("wmv2.wmv", "wmv2", "wmv2", "wmav2"),
        ("flv1.flv", "flv", "flv", "aac"),
        ("h264.ts", "libx264", "h264", "aac"),
        ("mpeg2.ts", "mpeg2video", "mpeg2video", None),
    ],
)
def test_each_container_and_codec_opens_with_the_content(
    folder: Path, name: str, codec: str, decoder: str, audio: str | None
) -> None:
    path = make_video(folder / name, seconds=3, seed=5, codec=codec, audio=audio is not None)
    info = probe(path)
    assert info.video == decoder
    assert info.size == SIZE
    assert info.frames == 30
    assert info.audio == ([audio] if audio else [])
    assert abs(info.duration - 3.0) <= 0.5
    for t, frame in decoded_frames(path):
        bits, quality = pdq(frame.to_ndarray(format="rgb24"))
        assert quality >= 50
        assert distance(bits, pdq(frame_at(5, SIZE, t))[0]) <= SAME, f"{name} at {t:.1f} s"


def test_size_rate_and_key_frame_interval(folder: Path) -> None:
    path = make_video(folder / "small.mp4", seconds=4, size=(240, 180), fps=25, gop=20, crf=30, seed=3)
    info = probe(path)
    assert info.size == (240, 180) and info.frames == 100
    with av.open(str(path)) as container:
        keys = [p.pts for p in container.demux(video=0) if p.is_keyframe]
        stream = container.streams.video[0]
        assert stream.average_rate == 25
        key_times = sorted(float(pts * stream.time_base) for pts in keys)
    assert key_times == pytest.approx([0.0, 0.8, 1.6, 2.4, 3.2])  # every 20 frames, none at scene changes


def test_bad_arguments_say_what_to_do(folder: Path) -> None:
    with pytest.raises(ValueError, match="no container for the suffix"):
        make_video(folder / "x.xyz", seconds=1)
    with pytest.raises(ValueError, match="pass a bitrate"):
        make_video(folder / "x.avi", seconds=1, codec="mpeg4", crf=20)
    with pytest.raises(ValueError, match="even"):
        make_video(folder / "x.mp4", seconds=1, size=(321, 240))


def test_start_offset_gives_the_later_part_of_the_same_video(folder: Path, source: Path) -> None:
    later = make_video(folder / "later.mp4", seconds=3, seed=1, start_offset=6.0)
    original, offset = hashes_per_second(source), hashes_per_second(later)
    assert sorted(offset) == [0, 1, 2]
    for second, (bits, _) in offset.items():
        assert distance(bits, original[second + 6][0]) <= SAME


# Copies -------------------------------------------------------------------------------------------------


def test_clip_shows_the_original_from_its_start(folder: Path, source: Path) -> None:
    cut = clip(source, folder / "cut.mp4", start=4.0, seconds=5.0)
    info = probe(cut)
    assert info.frames == 50 and abs(info.duration - 5.0) <= 0.5
    original, copy = hashes_per_second(source), hashes_per_second(cut)
    assert sorted(copy) == [0, 1, 2, 3, 4]
    # Measured 0-4: the same frames, re-encoded once more. A clip one second off would be ≥ 60 away.
    for second, (bits, _) in copy.items():
        assert distance(bits, original[second + 4][0]) <= SAME
        assert distance(bits, original[second + 5][0]) > 31


@pytest.mark.parametrize(
    ("name", "kwargs", "decoder", "size", "frames"),
    [
        ("smaller.mp4", {"size": (240, 180), "crf": 35}, "h264", (240, 180), 120),
        ("mpeg4.avi", {"codec": "mpeg4"}, "mpeg4", SIZE, 120),
        ("wmv2.wmv", {"codec": "wmv2", "bitrate": 300_000}, "wmv2", SIZE, 120),
        ("vp9.webm", {"codec": "libvpx-vp9"}, "vp9", SIZE, 120),
        ("fewer-frames.mp4", {"fps": 5}, "h264", SIZE, 60),
        ("more-frames.mkv", {"fps": 25, "size": (160, 120)}, "h264", (160, 120), 300),
    ],
)
def test_reencoded_copies_keep_the_content(
    folder: Path,
    source: Path,
    name: str,
    kwargs: dict[str, Any],
    decoder: str,
    size: tuple[int, int],
    frames: int,
) -> None:
    copy = reencode(source, folder / name, **kwargs)
    info = probe(copy)
    assert info.video == decoder and info.size == size and info.frames == frames
    assert info.audio == []
    original, copied = hashes_per_second(source), hashes_per_second(copy)
    assert sorted(copied) == list(range(12))
    # Measured: ≤ 6 at the same size; 240x180 at CRF 35 4-30 (median 14) over 120 s.
    distances = [distance(bits, original[second][0]) for second, (bits, _) in copied.items()]
    assert max(distances) <= 31
    assert min(quality for _, quality in copied.values()) >= 50


def test_logo_is_painted_in_its_corner(folder: Path, source: Path) -> None:
    branded = overlay_logo(source, folder / "logo.mp4", corner="bottom-left", scale=0.2)
    frame = next(decoded_frames(branded))[1].to_ndarray(format="rgb24")
    # 64x26 at 10 px from the left and bottom: white with a black H.
    box = frame[240 - 10 - 26 + 3 : 240 - 10 - 3, 10 + 3 : 10 + 64 - 3].astype(int)
    assert (box > 200).all(axis=2).mean() > 0.5 and (box < 60).all(axis=2).mean() > 0.15
    original = next(decoded_frames(source))[1].to_ndarray(format="rgb24")
    assert np.abs(frame[:100, 200:].astype(int) - original[:100, 200:]).mean() < 8  # elsewhere untouched
    with pytest.raises(ValueError, match="corner"):
        overlay_logo(source, folder / "x.mp4", corner="middle")


@pytest.mark.parametrize("bars", ["horizontal", "vertical"])
def test_letterbox_adds_black_bars_around_the_squeezed_picture(folder: Path, source: Path, bars: str) -> None:
    boxed = letterbox(source, folder / f"letterbox-{bars}.mp4", bars=bars, share=0.125)
    assert probe(boxed).size == SIZE
    original, copied = hashes_per_second(source), hashes_per_second(boxed)
    for second, frame in [(round(t), f) for t, f in decoded_frames(boxed) if abs(t - round(t)) < 1e-3]:
        picture = frame.to_ndarray(format="rgb24")
        if bars == "horizontal":
            bar_1, bar_2, inside = picture[:28], picture[-28:], picture[32:-32]
        else:
            bar_1, bar_2, inside = picture[:, :38], picture[:, -38:], picture[:, 42:-42]
        assert bar_1.max() < 40 and bar_2.max() < 40
        assert inside.mean() > 40
        # The picture between the bars is the original's (measured 2-10 once the bars are cut off).
        assert distance(pdq(inside)[0], original[second][0]) <= 31
        assert distance(copied[second][0], original[second][0]) > 31  # the bars alone do change PDQ


def test_metadata_is_written_as_phones_write_it(folder: Path, source: Path) -> None:
    tagged = with_metadata(
        source,
        folder / "phone.mov",
        creation_time="2024-05-01T10:20:30.000000Z",
        make="Apple",
        model="iPhone 12",
        location="+31.9539+035.9106+000.000/",
    )
    metadata = probe(tagged).metadata
    assert metadata["creation_time"] == "2024-05-01T10:20:30.000000Z"
    assert metadata["com.apple.quicktime.make"] == "Apple"
    assert metadata["com.apple.quicktime.model"] == "iPhone 12"
    assert metadata["com.apple.quicktime.location.ISO6709"] == "+31.9539+035.9106+000.000/"
    assert metadata["location"] == "+31.9539+035.9106/"  # FFmpeg reads ©xyz back without the altitude

    android = with_metadata(source, folder / "phone.mp4", location="+31.9539+035.9106/")
    assert probe(android).metadata["location"] == "+31.9539+035.9106/"

    # Packets are copied, not re-encoded: the same video and audio packets in the same order.
    def packets(path: Path) -> list[tuple[str, bytes]]:
        with av.open(str(path)) as container:
            return [(p.stream.type, bytes(p)) for p in container.demux() if p.size]

    assert sorted(packets(tagged)) == sorted(packets(source))
    with pytest.raises(ValueError, match=r"\.mp4 or \.mov"):
        with_metadata(source, folder / "x.mkv", make="Apple")


# Bad inputs ---------------------------------------------------------------------------------------------


def test_damaged_files(folder: Path, source: Path) -> None:
    data = source.read_bytes()

    half = truncated(source, folder / "half.mp4")
    assert half.read_bytes() == data[: len(data) // 2]
    assert truncated(source, folder / "tenth.mp4", keep=0.1).stat().st_size == int(len(data) * 0.1)

    tail = garbage_tail(source, folder / "tail.mp4", nbytes=100_000).read_bytes()
    assert len(tail) == len(data) + 100_000 and tail.startswith(data) and tail[len(data) :] != bytes(100_000)
    assert probe(folder / "tail.mp4").frames == 120  # still plays

    broken = corrupt_middle(source, folder / "broken.mp4").read_bytes()
    assert len(broken) == len(data)
    changed = np.flatnonzero(np.frombuffer(broken, np.uint8) != np.frombuffer(data, np.uint8))
    assert len(changed) > len(data) // 40
    assert len(data) * 0.4 < changed.min() and changed.max() < len(data) * 0.6


def test_audio_only(folder: Path) -> None:
    for name in ("voice.m4a", "music.mp4"):
        info = probe(audio_only(folder / name, seconds=3))
        assert info.video is None and info.audio == ["aac"]
        assert abs(info.duration - 3.0) <= 0.5


# The corpus ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_corpus(video_corpus: VideoCorpus) -> None:
    corpus = video_corpus  # built once per session (tests/conftest.py), shared with the matching tests
    expected = {
        corpus.original: ("h264", SIZE, 120.0),
        corpus.second: ("vp9", SIZE, 30.0),
        corpus.reencoded: ("h264", (240, 180), 120.0),
        corpus.other_codec: ("mpeg4", SIZE, 120.0),
        corpus.clip: ("h264", SIZE, CLIP_SECONDS),
        corpus.logo: ("h264", SIZE, 120.0),
        corpus.letterboxed: ("h264", SIZE, 120.0),
    }
    expected.update(
        {
            path: (codec, SIZE, 20.0)
            for path, codec in zip(corpus.unrelated, ("h264", "vp8", "flv"), strict=True)
        }
    )
    for path, (codec, size, seconds) in expected.items():
        info = probe(path)
        assert (info.video, info.size) == (codec, size), path.name
        assert abs(info.duration - seconds) <= 0.5, path.name
    assert [p.suffix for p in corpus.unrelated] == [".3gp", ".webm", ".flv"]

    original = hashes_per_second(corpus.original)
    assert sorted(original) == list(range(120))
    copies = {
        path: hashes_per_second(path)
        for path in (corpus.clip, corpus.other_codec, corpus.reencoded, corpus.logo, corpus.letterboxed)
    }
    for path, hashes in [(corpus.original, original), *copies.items()]:
        assert min(quality for _, quality in hashes.values()) >= 50, path.name  # measured ≥ 90

    def distances(path: Path, shift: int = 0) -> np.ndarray:
        return np.array([distance(bits, original[s + shift][0]) for s, (bits, _) in copies[path].items()])

    # Measured over 120 s: clip 0-4, other codec 0-6, smaller 6-30 (median 14), logo 4-38 (median 14).
    assert len(copies[corpus.clip]) == CLIP_SECONDS
    assert distances(corpus.clip, shift=int(CLIP_START)).max() <= SAME
    assert distances(corpus.other_codec).max() <= SAME
    assert distances(corpus.reencoded).max() <= 31
    logo = distances(corpus.logo)
    assert np.median(logo) <= 24 and np.mean(logo <= 31) >= 0.8
    assert np.mean(distances(corpus.letterboxed) > 31) >= 0.95  # the bars are for the analyzer to cut off
    for other in (corpus.second, *corpus.unrelated):
        far = np.array(
            [distance(a, b[0]) for a, _ in hashes_per_second(other).values() for b in original.values()]
        )
        assert far.min() > 60 and np.mean(far > 80) >= 0.99, other.name
