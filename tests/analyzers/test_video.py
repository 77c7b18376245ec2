"""Videos on real files: frame choice and hashes (checked against a plain full decode), the decoding the
analyzer skips, container facts and metadata, the contact sheet, and damaged, odd and hostile files.

The videos are small (160x120, a few seconds) and made here with tests.builders.videos, so each is cheap;
what the analyzer must get right does not depend on their size.
"""

from __future__ import annotations

import io
import itertools
import shutil
import socket
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pdqhash
import pytest
from av.video.reformatter import VideoReformatter
from PIL import Image

from himaya.analyzers.facts import MediaFacts, VideoFacts
from himaya.analyzers.pdq import bits_to_hex
from himaya.analyzers.video import VideoError, analyze_video, is_video, video_pipeline
from himaya.config import ImageLimits, VideoSettings
from himaya.matching.pdq_index import hamming
from tests.builders.videos import (
    audio_only,
    corrupt_middle,
    frame_at,
    garbage_tail,
    letterbox,
    make_video,
    reencode,
    truncated,
    with_metadata,
)

SIZE = (160, 120)
FPS = 10
SEED = 11
SAME = 20  # a frame and its encoded copy: measured 0-12 in tests/builders/test_videos.py
LIMITS = ImageLimits()


class DictSink:
    """Stands in for the encrypted blob store: keeps what it is given, in memory."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        blob_id = f"blob-{len(self.blobs)}"
        self.blobs[blob_id] = data
        return blob_id


def analyze(
    source: str | Path | io.BytesIO,
    settings: VideoSettings | None = None,
    limits: ImageLimits = LIMITS,
    sink: DictSink | None = None,
) -> tuple[VideoFacts, MediaFacts]:
    return analyze_video(
        str(source) if isinstance(source, Path) else source,
        settings=settings or VideoSettings(),
        limits=limits,
        thumbnails=sink,
    )


def pdq_hex(rgb: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return bits_to_hex(bits), int(quality)


def naive_frames(path: Path, settings: VideoSettings) -> list[tuple[int, str, int]]:
    """(frame number, PDQ, quality) as vpdq-hash-video picks them: decode every frame in display order and
    hash every int(seconds_per_hash * fps)-th, scaled by the analyzer's own rule and reformat call."""
    found = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        every = max(1, int(settings.seconds_per_hash * Fraction(stream.average_rate)))
        scaler = VideoReformatter()
        for number, frame in enumerate(container.decode(stream)):
            if number % every:
                continue
            factor = 1
            if settings.frame_short_side:
                factor = max(1, min(frame.width, frame.height) // settings.frame_short_side)
            rgb = scaler.reformat(
                frame,
                width=max(1, frame.width // factor),
                height=max(1, frame.height // factor),
                format="rgb24",
                interpolation="AREA",
            ).to_ndarray()
            found.append((number, *pdq_hex(rgb)))
    return found


def decoded_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def has_reordered_frames(path: Path) -> bool:
    """Whether packets come out of the demuxer out of display order (B-frames)."""
    with av.open(str(path)) as container:
        stamps = [p.pts for p in container.demux(video=0) if p.pts is not None]
    return any(b < a for a, b in itertools.pairwise(stamps))


def still_video(path: Path, seconds: int = 4) -> Path:
    """One picture (seed 12 at 0 s) shown for `seconds`, encoded as any camera would: a still scene."""
    picture = av.VideoFrame.from_ndarray(frame_at(12, SIZE, 0.0), format="rgb24").reformat(format="yuv420p")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for n in range(seconds * FPS):
            picture.pts = n
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def remux(src: Path, dst: Path, tags: dict[str, str] | None = None, faststart: bool = False) -> Path:
    """src's video packets in a new .mp4 with only `tags` as container metadata (an Android phone's
    "location", written as the udta ©xyz atom, without the Apple keys that with_metadata adds), and with
    `faststart` its index (moov) in front, as phones and web uploads often have it."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4", options=options) as out:
        video = out.add_stream_from_template(source.streams.video[0])
        out.metadata.update(tags or {})
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = video
            out.mux(packet)
    return dst


def laplacian_energy(jpeg: bytes) -> float:
    """Mean absolute Laplacian of the luminance: how much fine detail a picture holds."""
    grey = np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"), dtype=np.float64)
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(np.abs(laplacian).mean())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-analyzer")


@pytest.fixture(scope="module")
def source(folder: Path) -> Path:
    """10 s of seed 11 with sound, libx264 in .mp4: the input of the copy and damage tests."""
    return make_video(folder / "source.mp4", seconds=10, size=SIZE, fps=FPS, seed=SEED, audio=True)


@pytest.fixture(scope="module")
def source_facts(source: Path) -> VideoFacts:
    return analyze(source)[0]


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A local TCP port that records whether anything connected: FFmpeg's own sockets are C code, out of
    the suite's Python-level guard, so a URL that points here shows whether any was opened."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server, server.getsockname()[1]
    finally:
        server.close()


def assert_never_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


# Containers and codecs ----------------------------------------------------------------------------------

MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"


@pytest.mark.parametrize(
    ("name", "codec", "decoder", "audio", "container"),
    [
        ("h264.mp4", "libx264", "h264", "aac", MP4_FAMILY),
        ("h264.mov", "libx264", "h264", "aac", MP4_FAMILY),
        ("h264.3gp", "libx264", "h264", None, MP4_FAMILY),
        ("vp9.mkv", "libvpx-vp9", "vp9", "aac", "matroska,webm"),
        ("hevc.mkv", "libx265", "hevc", None, "matroska,webm"),
        ("vp8.webm", "libvpx", "vp8", "opus", "matroska,webm"),
        ("vp9.webm", "libvpx-vp9", "vp9", None, "matroska,webm"),
        ("mpeg4.avi", "mpeg4", "mpeg4", "mp2", "avi"),
        ("mjpeg.avi", "mjpeg", "mjpeg", None, "avi"),
        ("wmv2.wmv", "wmv2", "wmv2", "wmav2", "asf"),
        ("flv1.flv", "flv", "flv", "aac", "flv"),
        ("h264.ts", "libx264", "h264", "aac", "mpegts"),
        ("mpeg2.ts", "mpeg2video", "mpeg2video", None, "mpegts"),
    ],
)
def test_each_container_and_codec_hashes_one_frame_a_second(
    folder: Path, name: str, codec: str, decoder: str, audio: str | None, container: str
) -> None:
    path = make_video(
        folder / name, seconds=4, size=SIZE, fps=FPS, seed=5, codec=codec, audio=audio is not None
    )
    facts, media = analyze(path)
    assert (facts.container, facts.video_codec, facts.audio_codec) == (container, decoder, audio)
    assert (facts.width, facts.height, media.width, media.height) == (*SIZE, *SIZE)
    assert facts.frame_rate == FPS
    assert facts.duration == pytest.approx(4.0, abs=0.15)  # measured 4.0-4.09 (audio runs a little on)
    assert facts.incomplete is None
    assert facts.pipeline == video_pipeline(VideoSettings()) == "vpdq-s360/1"
    assert [f.frame_number for f in facts.frames] == [0, FPS, 2 * FPS, 3 * FPS]
    assert [round(f.timestamp, 3) for f in facts.frames] == [0.0, 1.0, 2.0, 3.0]
    assert all(abs(f.timestamp - round(f.timestamp, 3)) < 1e-9 for f in facts.frames)
    for second, frame in enumerate(facts.frames):
        assert frame.quality >= 50, f"{name} at {second} s"
        # The moment hashed is the one at that second of the content, not a neighbour (≥ 60 away).
        assert hamming(frame.pdq, pdq_hex(frame_at(5, SIZE, float(second)))[0]) <= SAME, f"{name} {second} s"
    assert 0 < facts.frames_decoded <= 4 * FPS


# Exactness: the frames the skipping picks are the frames a full decode picks -----------------------------


@pytest.mark.parametrize(
    ("name", "codec", "fps", "gop"),
    [
        ("gop-2s.mp4", "libx264", 10, 20),  # a key frame every 2 s: the second half of each group is skipped
        ("x264-default.mp4", "libx264", 25, None),  # x264's own key frames (scene cuts included)
        ("b-frames-ntsc.mkv", "libx264", Fraction(30000, 1001), 60),  # 29.97 frames/s: a hash every 29
        ("mpeg4.avi", "mpeg4", 10, None),
    ],
)
def test_frames_and_hashes_equal_a_full_decode(
    folder: Path, name: str, codec: str, fps: int | Fraction, gop: int | None
) -> None:
    path = make_video(folder / name, seconds=8, size=SIZE, fps=fps, gop=gop, codec=codec, seed=7)
    if codec == "libx264":
        assert has_reordered_frames(path)  # B-frames: decode order is not display order
    for settings in (
        VideoSettings(),
        VideoSettings(frame_short_side=50),  # scaled by 2 before PDQ (80x60)
        VideoSettings(seconds_per_hash=2.0),
        VideoSettings(seconds_per_hash=0.5),
        # several frames to hash inside one run of B-frames, whose packets come out of display order: the
        # group is left only once the packets of all of them have been sent
        VideoSettings(seconds_per_hash=0.2),
    ):
        facts, _ = analyze(path, settings)
        expected = naive_frames(path, settings)
        assert [(f.frame_number, f.pdq, f.quality) for f in facts.frames] == expected, settings
        every = max(1, int(settings.seconds_per_hash * Fraction(fps)))
        assert [f.timestamp for f in facts.frames] == pytest.approx(
            [n * every / float(fps) for n in range(len(expected))], abs=1e-3
        )
        assert facts.incomplete is None


def test_open_gop_streams_hash_the_frames_a_full_decode_gives(folder: Path) -> None:
    """Leading pictures of an open GOP refer back into the group before: that group is decoded whole."""
    path = folder / "open-gop.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.codec_context.thread_count = 1
        params = "open-gop=1:keyint=13:min-keyint=13:scenecut=0"
        stream.options = {"preset": "veryfast", "x264-params": params}
        for number in range(12 * FPS):
            frame = av.VideoFrame.from_ndarray(frame_at(SEED, SIZE, number / FPS), format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert has_reordered_frames(path)
    facts, _ = analyze(path)
    assert [(f.frame_number, f.pdq, f.quality) for f in facts.frames] == naive_frames(path, VideoSettings())


def test_full_frames_hash_as_pdqhash_on_the_whole_rgb_frame(folder: Path) -> None:
    size = (960, 720)  # scaled by 2 under the default frame_short_side of 360
    path = make_video(folder / "hd.mp4", seconds=3, size=size, fps=5, seed=8)
    with av.open(str(path)) as container:
        whole = [
            pdq_hex(f.to_ndarray(format="rgb24"))
            for n, f in enumerate(container.decode(video=0))
            if n % 5 == 0
        ]
    full, _ = analyze(path, VideoSettings(frame_short_side=0))
    assert full.pipeline == "vpdq-full/1"
    assert [(f.pdq, f.quality) for f in full.frames] == whole
    scaled, _ = analyze(path)
    assert scaled.pipeline == "vpdq-s360/1"
    assert [(f.pdq, f.quality) for f in scaled.frames] == [h[1:] for h in naive_frames(path, VideoSettings())]
    # The scale does change some bits, a few.
    assert [f.pdq for f in scaled.frames] != [pdq for pdq, _ in whole]
    assert max(hamming(a.pdq, b.pdq) for a, b in zip(scaled.frames, full.frames, strict=True)) <= SAME


def test_groups_after_the_last_frame_to_hash_are_not_decoded(folder: Path) -> None:
    path = make_video(folder / "gop-skip.mp4", seconds=10, size=SIZE, fps=FPS, gop=2 * FPS, seed=9)
    facts, _ = analyze(path)
    total = decoded_count(path)
    assert total == 10 * FPS and len(facts.frames) == 10
    assert facts.frames_decoded <= 0.6 * total  # measured 35 of 100
    every_other, _ = analyze(path, VideoSettings(seconds_per_hash=2.0))
    assert every_other.frames_decoded <= 0.1 * total  # one key frame per group: measured 5


def test_key_frame_sampling_hashes_short_groups_by_their_key_frame_alone(folder: Path) -> None:
    path = make_video(folder / "keys.mp4", seconds=10, size=SIZE, fps=FPS, gop=2 * FPS, seed=12)
    exact, _ = analyze(path)
    keys, _ = analyze(path, VideoSettings(sampling="keyframes"))
    assert keys.pipeline == "vpdq-s360-keyframes/1"
    # One key frame every 2 s: each group is stood for by its key frame, the only frame decoded.
    assert [f.frame_number for f in keys.frames] == [0, 20, 40, 60, 80]
    assert keys.frames_decoded == 5
    # The same frames as the exact sampling gives at those numbers, to the bit.
    by_number = {f.frame_number: f.pdq for f in exact.frames}
    assert [f.pdq for f in keys.frames] == [by_number[f.frame_number] for f in keys.frames]
    assert keys.incomplete is None


def test_key_frame_sampling_samples_long_groups_exactly(folder: Path) -> None:
    path = make_video(folder / "long-groups.mp4", seconds=12, size=SIZE, fps=FPS, gop=6 * FPS, seed=13)
    exact, _ = analyze(path)
    keys, _ = analyze(path, VideoSettings(sampling="keyframes"))
    # Groups of 6 s are longer than two intervals: vPDQ's frames, as the exact sampling takes them.
    assert [(f.frame_number, f.pdq) for f in keys.frames] == [(f.frame_number, f.pdq) for f in exact.frames]


def test_a_copy_sampled_by_key_frames_still_matches_its_known_video(folder: Path) -> None:
    from himaya.matching.video import ActiveVideo, VideoIndex, match_video

    original = make_video(folder / "known.mp4", seconds=20, size=SIZE, fps=FPS, gop=2 * FPS, seed=14)
    copy = reencode(original, folder / "copy.mp4", size=(120, 90))
    known, _ = analyze(original)  # what a partner's vPDQ file holds: every second
    index = VideoIndex.build([(41, [(f.pdq, f.quality, f.timestamp) for f in known.frames])])
    videos = ActiveVideo(9, "TEST-VIDEOS", "alert", threshold=31, min_quality=50, frames=index)
    sampled, _ = analyze(copy, VideoSettings(sampling="keyframes"))
    assert len(sampled.frames) < len(known.frames)
    [hit] = match_video(sampled.frames, [videos])
    assert (hit.entry_id, hit.method, hit.details["query_percent"]) == (41, "vpdq", 100.0)


def test_seconds_per_hash_and_pruning(folder: Path, source: Path, source_facts: VideoFacts) -> None:
    two, _ = analyze(source, VideoSettings(seconds_per_hash=2.0))
    assert [f.frame_number for f in two.frames] == [0, 20, 40, 60, 80]
    assert [f.timestamp for f in two.frames] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert [f.pdq for f in two.frames] == [f.pdq for f in source_facts.frames[::2]]
    assert two.pipeline == "vpdq-s360-every2s/1"

    still = still_video(folder / "still.mp4", seconds=4)
    kept_all, _ = analyze(still, VideoSettings(prune_distance=0))
    assert len(kept_all.frames) == 4
    assert max(hamming(f.pdq, kept_all.frames[0].pdq) for f in kept_all.frames) <= 10  # truly still
    pruned, _ = analyze(still, VideoSettings(prune_distance=10))
    assert [(f.frame_number, f.pdq) for f in pruned.frames] == [(0, kept_all.frames[0].pdq)]
    # A moving video loses nothing to the same pruning: its frames a second apart are ≥ 60 apart.
    moving, _ = analyze(source, VideoSettings(prune_distance=10))
    assert [f.pdq for f in moving.frames] == [f.pdq for f in source_facts.frames]


def test_letterboxed_frames_carry_the_hash_inside_the_bars(
    folder: Path, source: Path, source_facts: VideoFacts
) -> None:
    boxed, _ = analyze(letterbox(source, folder / "letterboxed.mp4"))
    assert len(boxed.frames) == len(source_facts.frames) == 10
    for frame, original in zip(boxed.frames, source_facts.frames, strict=True):
        assert frame.timestamp == original.timestamp
        assert frame.trimmed is not None and frame.trimmed_quality is not None and frame.trimmed_quality >= 50
        assert hamming(frame.trimmed, original.pdq) <= 31, frame.timestamp
    # The bars alone move PDQ out of reach: the trimmed hash is what makes the copy match.
    pairs = zip(boxed.frames, source_facts.frames, strict=True)
    assert sum(hamming(f.pdq, o.pdq) > 31 for f, o in pairs) >= 8
    assert all(f.trimmed is None for f in source_facts.frames)  # no bars, nothing to trim


# Metadata -----------------------------------------------------------------------------------------------


def test_phone_metadata(folder: Path, source: Path, source_facts: VideoFacts) -> None:
    apple, _ = analyze(
        with_metadata(
            source,
            folder / "iphone.mov",
            creation_time="2024-05-01T10:20:30.000000Z",
            make="Apple",
            model="iPhone 12",
            location="+31.9539+035.9106+000.000/",
        )
    )
    assert (apple.creation_time, apple.make, apple.model) == (
        "2024-05-01T10:20:30.000000Z",
        "Apple",
        "iPhone 12",
    )
    assert (apple.gps_lat, apple.gps_lon) == (pytest.approx(31.9539), pytest.approx(35.9106))
    assert [f.pdq for f in apple.frames] == [f.pdq for f in source_facts.frames]  # the same packets

    android, _ = analyze(remux(source, folder / "android.mp4", {"location": "-33.8568+151.2153/"}))
    with av.open(str(folder / "android.mp4")) as container:
        assert "com.apple.quicktime.location.ISO6709" not in container.metadata  # only Android's key
    assert (android.gps_lat, android.gps_lon) == (pytest.approx(-33.8568), pytest.approx(151.2153))
    assert (android.make, android.model) == (None, None)

    assert source_facts.creation_time is None and source_facts.gps_lat is None and source_facts.make is None


# Contact sheet ------------------------------------------------------------------------------------------


def test_contact_sheet_is_stored_sharp_and_blurred(folder: Path, source: Path) -> None:
    sink = DictSink()
    facts, media = analyze(source, sink=sink)
    assert len(sink.blobs) == 2
    assert media.thumbnail_blob in sink.blobs and media.blurred_blob in sink.blobs
    assert media.thumbnail_blob != media.blurred_blob
    sharp_bytes, blurred_bytes = sink.blobs[media.thumbnail_blob], sink.blobs[media.blurred_blob]
    sharp, blurred = Image.open(io.BytesIO(sharp_bytes)), Image.open(io.BytesIO(blurred_bytes))
    assert sharp.format == blurred.format == "JPEG"
    # 10 frames hashed, 9 spread over them: 3 columns of 160x120 cells, in time order.
    assert sharp.size == blurred.size == (3 * SIZE[0], 3 * SIZE[1])
    cells = np.asarray(sharp.convert("RGB"))
    first, last = cells[: SIZE[1], : SIZE[0]], cells[2 * SIZE[1] :, 2 * SIZE[0] :]
    assert hamming(pdq_hex(first)[0], facts.frames[0].pdq) <= 31
    assert hamming(pdq_hex(last)[0], facts.frames[8].pdq) <= 31
    assert hamming(pdq_hex(last)[0], facts.frames[0].pdq) > 31
    # The blurred sheet shows the same layout without the detail (measured 5x less Laplacian energy).
    assert laplacian_energy(blurred_bytes) < 0.5 * laplacian_energy(sharp_bytes)
    assert np.abs(np.asarray(blurred.convert("RGB"), dtype=int) - cells).mean() > 5

    short = make_video(folder / "short.mp4", seconds=4, size=SIZE, fps=FPS, seed=3)
    short_sink = DictSink()
    _, short_media = analyze(short, sink=short_sink)
    assert Image.open(io.BytesIO(short_sink.blobs[short_media.thumbnail_blob or ""])).size == (480, 240)

    none_sink = DictSink()
    _, without = analyze(source, VideoSettings(contact_sheet=False), sink=none_sink)
    assert none_sink.blobs == {} and without.thumbnail_blob is None and without.blurred_blob is None


def test_contact_sheet_cells_are_turned_as_the_container_says_and_hashes_are_not(folder: Path) -> None:
    """A phone held upright stores landscape frames and a display rotation: people see them upright."""
    plain, turned = folder / "upright.mp4", folder / "turned.mp4"
    for path, rotation in ((plain, 0), (turned, 90)):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mpeg4", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
            if rotation:
                stream.set_display_rotation(rotation)
            for number in range(3 * FPS):
                pixels = frame_at(SEED, SIZE, number / FPS)
                pixels[:, : SIZE[0] // 2] = 255  # the left half white: where it ends up tells the turn
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = number
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    sheets: dict[Path, np.ndarray] = {}
    hashes: dict[Path, list[str]] = {}
    for path in (plain, turned):
        sink = DictSink()
        facts, media = analyze(path, sink=sink)
        sheet = Image.open(io.BytesIO(sink.blobs[media.thumbnail_blob or ""]))
        sheets[path] = np.asarray(sheet.convert("RGB"))
        hashes[path] = [f.pdq for f in facts.frames]
    assert hashes[plain] == hashes[turned]  # the hash is of the frame as stored, as vPDQ's
    width, height = SIZE
    assert sheets[plain].shape[:2] == (height, 3 * width)
    assert sheets[turned].shape[:2] == (width, 3 * height)  # portrait cells
    cell = sheets[turned][:, :height]
    # Turned 90 degrees counter-clockwise: the frame's left edge is now at the bottom.
    assert cell[width * 3 // 4 :].mean() > 200 and cell[: width // 4].mean() < 200


# Damaged and odd files ----------------------------------------------------------------------------------


def test_files_that_are_no_video_are_refused(folder: Path) -> None:
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    text = folder / "notes.mp4"
    text.write_text("TEST not a video, only text named like one\n" * 50)
    for path in (empty, text):
        with pytest.raises(VideoError, match="not a readable video"):
            analyze(path)


def test_truncated_files(folder: Path, source: Path) -> None:
    # MP4 keeps its index (moov) at the end: the first half has none, and cannot be opened at all.
    with pytest.raises(VideoError, match="not a readable video") as caught:
        analyze(truncated(source, folder / "half.mp4"))
    assert str(folder) not in str(caught.value)  # the examiner's path is no part of the record
    # Matroska, and MP4 with its index in front, play until the bytes run out and say nothing: the length
    # the container declares tells.
    mkv = make_video(folder / "source.mkv", seconds=10, size=SIZE, fps=FPS, seed=SEED, audio=True)
    faststart = remux(source, folder / "faststart.mp4", faststart=True)
    assert faststart.read_bytes()[:64].find(b"moov") > 0
    for whole_file in (mkv, faststart):
        whole, _ = analyze(whole_file)
        half, _ = analyze(truncated(whole_file, folder / f"half-{whole_file.name}"))
        assert 0 < len(half.frames) < len(whole.frames) and half.incomplete is not None, whole_file.name
        assert "cut short" in half.incomplete and "of the 10.0 s" in half.incomplete
        assert [f.pdq for f in half.frames] == [f.pdq for f in whole.frames[: len(half.frames)]]
        assert whole.incomplete is None


def test_garbage_after_the_end_changes_nothing(folder: Path, source: Path, source_facts: VideoFacts) -> None:
    facts, _ = analyze(garbage_tail(source, folder / "tail.mp4"))
    assert facts.frames == source_facts.frames
    assert facts.incomplete is None


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".ts"])
def test_corrupt_middle_keeps_what_decodes(folder: Path, suffix: str) -> None:
    clean = make_video(folder / f"clean{suffix}", seconds=10, size=SIZE, fps=FPS, seed=SEED)
    whole, _ = analyze(clean)
    facts, _ = analyze(corrupt_middle(clean, folder / f"corrupt{suffix}"))  # no exception at all
    # What decodes before the damage is hashed as in the clean file, and the stream goes on after it
    # (measured: 6 to 10 of 10 frames).
    assert facts.frames[:2] == whole.frames[:2]
    assert len(facts.frames) >= 4 and facts.frames[-1].timestamp >= 5.0
    assert all(0 <= f.timestamp < 10 for f in facts.frames)
    times = [f.timestamp for f in facts.frames]
    assert times == sorted(set(times))


def test_audio_only_file_has_facts_and_no_frames(folder: Path) -> None:
    facts, media = analyze(audio_only(folder / "voice.m4a", seconds=3))
    assert facts.frames == [] and facts.video_codec is None and facts.audio_codec == "aac"
    assert facts.incomplete is not None and "audio" in facts.incomplete
    assert facts.duration == pytest.approx(3.0, abs=0.1)
    assert (media.width, media.height) == (0, 0)


def test_budgets_stop_early_and_keep_the_frames(source: Path, source_facts: VideoFacts) -> None:
    counted, _ = analyze(source, VideoSettings(max_frames=5))
    assert counted.incomplete is not None and "budget" in counted.incomplete
    assert 1 <= len(counted.frames) < len(source_facts.frames)
    assert counted.frames == source_facts.frames[: len(counted.frames)]
    assert 5 <= counted.frames_decoded < 10
    timed, _ = analyze(source, VideoSettings(max_seconds=0))
    assert timed.incomplete is not None and "time budget" in timed.incomplete
    assert timed.frames_decoded < 5 and len(timed.frames) <= 1


def test_frames_over_the_picture_limit_are_refused(source: Path) -> None:
    refusal = r"160x120 = 19,200 pixels, over the 0\.001 MP limit; raise --max-pixels"
    with pytest.raises(VideoError, match=refusal):
        analyze(source, limits=ImageLimits(max_pixels=1000))
    facts, _ = analyze(source, limits=ImageLimits(max_pixels=160 * 120))  # exactly at the limit: decoded
    assert len(facts.frames) == 10


def test_a_file_object_gives_the_same_frames(source: Path, source_facts: VideoFacts) -> None:
    facts, _ = analyze(io.BytesIO(source.read_bytes()))
    assert facts.frames == source_facts.frames


# Hostile names and playlists ----------------------------------------------------------------------------


def test_names_that_look_like_ffmpeg_urls_open_only_the_file(
    folder: Path,
    source: Path,
    source_facts: VideoFacts,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    listener: tuple[socket.socket, int],
) -> None:
    server, port = listener
    monkeypatch.chdir(tmp_path)
    other = make_video(tmp_path / "other.mp4", seconds=2, size=SIZE, fps=FPS, seed=4)
    for name in ("a", "b"):
        shutil.copyfile(other, tmp_path / name)  # what FFmpeg's concat: protocol would read instead
    # "http://127.0.0.1:PORT/x.mp4" is also a relative path: folders "http:" and "127.0.0.1:PORT".
    url_like = tmp_path / "http:" / f"127.0.0.1:{port}" / "x.mp4"
    url_like.parent.mkdir(parents=True)
    for name in ("http:__evil", "concat:a|b", "file:source.mp4"):
        shutil.copyfile(source, tmp_path / name)
    shutil.copyfile(source, url_like)
    for name in ("http:__evil", "concat:a|b", "file:source.mp4", f"http://127.0.0.1:{port}/x.mp4"):
        facts, _ = analyze(name)  # relative, as given: the file of that name in this folder
        assert facts.frames == source_facts.frames, name
    assert_never_connected(server)
    with pytest.raises(FileNotFoundError):
        analyze(f"concat:{other}|{other}")  # no such file: opened by Python, not read through FFmpeg


def test_playlists_and_concat_lists_are_refused_without_a_connection(
    tmp_path: Path, source: Path, listener: tuple[socket.socket, int]
) -> None:
    server, port = listener
    playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{url}\n#EXT-X-ENDLIST\n"
    concat = "ffconcat version 1.0\nfile '{url}'\nfile '" + str(source) + "'\n"
    made = []
    # Loopback canaries only: FFmpeg's sockets are C sockets, out of reach of the suite's Python guard, so
    # a URL off this machine would be a real packet if the analyzer were broken.
    for url in (f"http://127.0.0.1:{port}/x.ts", f"tcp://127.0.0.1:{port}"):
        for template, name in ((playlist, "list.m3u8"), (playlist, "list.mp4"), (concat, "list.ffconcat")):
            path = tmp_path / f"{len(made)}-{name}"
            path.write_text(template.format(url=url))
            made.append(path)
    for path in made:
        with pytest.raises(VideoError, match="not a readable video"):
            analyze(path)
        with pytest.raises(VideoError, match="not a readable video"):
            analyze(io.BytesIO(path.read_bytes()))
    assert_never_connected(server)


# Which files are videos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "name", "expected"),
    [
        ("video/mp4", "IMG_0001.MOV", True),
        ("video/x-matroska", "a", True),
        ("video/webm", "clip.bin", True),
        ("application/vnd.ms-asf", "movie.wmv", True),
        ("application/octet-stream", "carved.mp4", True),
        ("application/octet-stream", "CARVED.MP4", True),
        ("image/jpeg", "photo.mp4", False),
        ("application/octet-stream", "notes.txt", False),
        ("application/octet-stream", "no-extension", False),
        (None, "movie.mp4", False),
        ("audio/mp4", "voice.m4a", False),
    ],
)
def test_is_video(mime: str | None, name: str, expected: bool) -> None:
    assert is_video(mime, name) is expected
