"""Benign synthetic videos for the video-hashing tests, encoded with PyAV (its bundled FFmpeg).

Every frame is a pure function of (seed, size, time), `frame_at`: a smooth two-wave colour field that pans
slowly, with three to five flat rectangles and ellipses drifting over it, and a new colour scheme, wave
pattern and set of shapes every `SCENE_SECONDS`. Nothing comes from a camera. The content is built for PDQ,
so that matching tests can tell "the same moment" from "another moment" and "another video":

- every frame is textured (PDQ quality ≥ 93 over seeds 1-8 and 120 s, ≥ 90 after the corpus's encodings;
  PDQ's quality counts luminance steps in its 64x64 downsample, so a plain linear gradient scores under
  50 and its hash flips with the encoder's noise);
- frames one second apart differ (PDQ distance ≥ 60, 99 % ≥ 80, median 122: the field pans 4-8 % of the
  width a second and the shapes drift 2-5 %, and every third second the scene changes), while frames
  0.1 s apart stay close (median 16, 90 % ≤ 24), so a copy sampled a frame off still matches;
- other seeds are unrelated (PDQ distance ≥ 90, 99 % ≥ 108, at any pair of times).

Encoding costs almost nothing: a frame and its encoded copy are 0-6 apart (x265 and VP9 up to 12).

Derived copies re-share a video the way videos get re-shared: re-encoded smaller or with another codec
(`reencode`), cut (`clip`), branded (`overlay_logo`), letterboxed (`letterbox`), or re-muxed with a phone's
container metadata (`with_metadata`). They decode the source and encode again, so they carry generation
loss as real copies do (except `with_metadata`, which copies the packets). Their video starts at time 0;
audio is not carried over. `truncated`, `garbage_tail`, `corrupt_middle` and `audio_only` make the damaged
or odd files that robustness tests need.

`build_corpus` makes the set of related and unrelated videos the matching tests use (14 s on one core of
the 2-core test machine, 12 MB); build it once per session.
"""

from __future__ import annotations

import functools
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

__all__ = [
    "CLIP_SECONDS",
    "CLIP_START",
    "CONTAINERS",
    "CORPUS_LOGO_SCALE",
    "SCENE_SECONDS",
    "VideoCorpus",
    "audio_only",
    "build_corpus",
    "clip",
    "corrupt_middle",
    "decoded_frames",
    "frame_at",
    "garbage_tail",
    "letterbox",
    "make_video",
    "overlay_logo",
    "reencode",
    "truncated",
    "with_metadata",
]

SCENE_SECONDS = 3.0  # a new colour scheme, wave pattern and set of shapes this often

# File suffix -> FFmpeg muxer. `.wmv` is ASF; `.m4a` (audio only) is the iPod flavour of MP4.
CONTAINERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".3gp": "3gp",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".wmv": "asf",
    ".asf": "asf",
    ".flv": "flv",
    ".ts": "mpegts",
    ".m4a": "ipod",
}

# The audio codec each container takes without complaint (phones: AAC; WebM: Opus; AVI: MP2; ASF: WMA).
_AUDIO_CODECS = {"webm": "libopus", "avi": "mp2", "asf": "wmav2"}

_PAN = (0.04, 0.08)  # field pan speed, share of the width per second
_DRIFT = (0.02, 0.05)  # shape speed, share of the width per second
_WAVES = (2.5, 4.5)  # field wave frequency, cycles per width
_LOGO_ASPECT = 0.4  # logo height / width, a broadcaster's "bug"
_CRF_CODECS = {"libx264", "libx265", "libvpx", "libvpx-vp9"}


# Content ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    width: int
    height: int
    colour: np.ndarray  # uint8 RGB
    mask: np.ndarray | None  # an ellipse inside its box; None for a rectangle
    phase: tuple[float, float]  # start position on the bounce path (0-2, see _bounce)
    velocity: tuple[float, float]  # share of the width per second, signed


@dataclass(frozen=True)
class _Scene:
    field: np.ndarray  # uint8 HxWx3, larger than the frame by the pan it needs
    pan: tuple[float, float]  # pixels per second
    shapes: tuple[_Shape, ...]


def _bounce(x: float) -> float:
    """A triangle wave 0 → 1 → 0 with period 2: a shape bounces off the frame's edges instead of leaving."""
    x %= 2.0
    return x if x < 1.0 else 2.0 - x


@functools.lru_cache(maxsize=8)
def _scene(seed: int, size: tuple[int, int], index: int) -> _Scene:
    width, height = size
    rng = np.random.default_rng([seed, index])
    margin = math.ceil(_PAN[1] * SCENE_SECONDS * width) + 2
    ys, xs = np.mgrid[0 : height + margin, 0 : width + margin].astype(np.float32)
    # Both axes in widths, so that the pattern keeps its shape at any size and a scaled copy matches.
    xs /= width
    ys /= width
    waves = []
    for _ in range(2):
        angle, phase = rng.uniform(0, 2 * np.pi, 2).tolist()
        cycles = float(rng.uniform(*_WAVES))
        waves.append(
            0.5 + 0.5 * np.sin(2 * np.pi * cycles * (np.cos(angle) * xs + np.sin(angle) * ys) + phase)
        )
    # One dark and one light colour, so the field has luminance contrast whatever the hues (PDQ sees luma).
    dark, light = rng.uniform(0, 100, 3).astype(np.float32), rng.uniform(155, 255, 3).astype(np.float32)
    if rng.random() < 0.5:
        dark, light = light, dark
    tint = rng.uniform(0, 255, 3).astype(np.float32)
    mix = 0.7 * waves[0] + 0.3 * waves[1]
    field = dark + mix[..., None] * (light - dark) + (waves[1][..., None] - 0.5) * 0.4 * (tint - 128)
    pan = rng.uniform(*_PAN, 2) * width
    shapes = []
    for _ in range(int(rng.integers(3, 6))):
        box_w = int(rng.uniform(0.12, 0.3) * width)
        box_h = min(int(rng.uniform(0.12, 0.3) * width), height - 2)
        colour = rng.integers(0, 256, 3).astype(np.uint8)
        mask = None
        if rng.random() < 0.5:
            yy, xx = np.mgrid[0:box_h, 0:box_w]
            mask = ((xx + 0.5 - box_w / 2) / (box_w / 2)) ** 2 + (
                (yy + 0.5 - box_h / 2) / (box_h / 2)
            ) ** 2 <= 1
        phase_x, phase_y = rng.uniform(0, 2, 2)
        speed = rng.uniform(*_DRIFT, 2) * rng.choice([-1, 1], 2)
        shapes.append(
            _Shape(
                box_w,
                box_h,
                colour,
                mask,
                (float(phase_x), float(phase_y)),
                (float(speed[0]), float(speed[1])),
            )
        )
    return _Scene(np.clip(field, 0, 255).astype(np.uint8), (float(pan[0]), float(pan[1])), tuple(shapes))


def frame_at(seed: int, size: tuple[int, int], t: float) -> np.ndarray:
    """The content of video `seed` at `t` seconds: an HxWx3 uint8 RGB array, size given as (width, height).

    A pure function: the same arguments always give the same pixels, at any frame rate or start offset.
    """
    width, height = size
    if width < 16 or height < 16:
        raise ValueError(f"frame size {size} is too small; use at least 16x16")
    # The epsilon keeps t = 40 + 2 / 10 (a start offset plus a frame time) in the same scene as t = 42.0.
    index = math.floor(t / SCENE_SECONDS + 1e-9)
    local = max(0.0, t - index * SCENE_SECONDS)
    scene = _scene(seed, (width, height), index)
    x0, y0 = round(scene.pan[0] * local), round(scene.pan[1] * local)
    frame = scene.field[y0 : y0 + height, x0 : x0 + width].copy()
    for shape in scene.shapes:
        room_x, room_y = width - shape.width, height - shape.height
        x = round(_bounce(shape.phase[0] + shape.velocity[0] * width * local / room_x) * room_x)
        y = round(_bounce(shape.phase[1] + shape.velocity[1] * width * local / room_y) * room_y)
        box = frame[y : y + shape.height, x : x + shape.width]
        if shape.mask is None:
            box[...] = shape.colour
        else:
            box[shape.mask] = shape.colour
    return frame


def _tone(seed: int, t: np.ndarray) -> np.ndarray:
    """A quiet benign tone whose pitch changes with the scene (so audio, like the picture, has content)."""
    scene = np.floor(t / SCENE_SECONDS + 1e-9)
    pitch = 220.0 * 2 ** (((seed * 7 + scene * 5) % 24) / 12)
    wave: np.ndarray = (0.2 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
    return wave


# Encoding -----------------------------------------------------------------------------------------------


def _container_format(path: Path) -> str:
    try:
        return CONTAINERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"no container for the suffix {path.suffix!r} of {path.name}; use one of {', '.join(CONTAINERS)}"
        ) from None


class _Writer:
    """One video stream (and optionally a tone) written to a file; frames are RGB arrays or decoded frames."""

    def __init__(
        self,
        path: Path,
        *,
        codec: str,
        size: tuple[int, int],
        fps: int | Fraction,
        gop: int | None = None,
        crf: int | None = None,
        bitrate: int | None = None,
        audio_seed: int | None = None,
    ) -> None:
        if crf is not None and bitrate is not None:
            raise ValueError("give crf or bitrate, not both")
        if crf is not None and codec not in _CRF_CODECS:
            raise ValueError(
                f"{codec} has no CRF; pass a bitrate instead (CRF works for {sorted(_CRF_CODECS)})"
            )
        width, height = size
        if width % 2 or height % 2:
            raise ValueError(f"frame size {size} must be even in both directions (4:2:0 chroma)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self.fps = Fraction(fps)
        self.count = 0
        self._reformatter = VideoReformatter()
        self.container = av.open(str(path), "w", format=_container_format(path))
        try:
            self.video = cast(VideoStream, self.container.add_stream(codec, rate=fps))
            self.video.width, self.video.height = width, height
            formats = [f.name for f in (self.video.codec_context.codec.video_formats or [])]
            # The encoder's own first choice: yuv420p, except MJPEG's full-range yuvj420p (it refuses
            # limited-range yuv420p unless told to be non-standard).
            self.pix_fmt = formats[0] if formats else "yuv420p"
            self.video.pix_fmt = self.pix_fmt
            if gop is not None:
                self.video.codec_context.gop_size = gop
            # One thread: the suite runs an xdist worker per core, and libvpx's worker threads spin-wait
            # (30 VP8 frames took 0.06 s on one thread and up to 2.6 s on two on a busy 2-core machine).
            self.video.codec_context.thread_count = 1
            self.video.options = self._options(codec, crf, gop)
            if codec not in _CRF_CODECS or codec == "libvpx" or bitrate is not None:
                # MPEG-4 part 2, WMV, FLV1, VP8: FFmpeg's default 200 kbit/s blurs this textured content.
                self.video.bit_rate = bitrate or max(200_000, width * height * int(self.fps) // 2)
            self.audio: Any = None
            self.audio_seed = audio_seed
            if audio_seed is not None:
                self._add_audio()
        except BaseException:
            self.container.close()
            raise

    @staticmethod
    def _options(codec: str, crf: int | None, gop: int | None) -> dict[str, object]:
        options: dict[str, object] = {}
        if codec == "libx264":
            options["preset"] = "superfast"  # still B-frames (reordered timestamps), unlike ultrafast
            if gop is not None:
                options["sc_threshold"] = "0"  # a fixed interval: no extra key frames at scene changes
        elif codec == "libx265":
            params = "log-level=error" + (":scenecut=0" if gop is not None else "")
            options.update({"preset": "ultrafast", "x265-params": params})
        elif codec == "libvpx-vp9":
            options.update({"deadline": "realtime", "cpu-used": "8", "b": "0"})  # b=0: constant quality
            if crf is None:
                crf = 32
        elif codec == "libvpx":
            # VP8 takes a CRF only under a bitrate cap (the bit_rate set below); cpu-used 16 is its fastest.
            options.update({"deadline": "good", "cpu-used": "16"})
        if crf is not None:
            options["crf"] = str(crf)
        return options

    def _add_audio(self) -> None:
        name = _AUDIO_CODECS.get(self.container.format.name, "aac")
        # Low rates: AAC encoding of a 44.1 kHz tone took longer than the x264 encoding of the picture.
        rate = 24_000 if name == "libopus" else 22_050
        self.audio = self.container.add_stream(name, rate=rate)
        self.audio.layout = "mono"
        self.audio.bit_rate = 64_000  # WMA refuses FFmpeg's default for mono
        self.audio.format = self.audio.codec_context.codec.audio_formats[0].name
        self.audio_rate = rate
        self.audio_samples = 0

    def _write_audio_until(self, seconds: float) -> None:
        assert self.audio_seed is not None
        chunk = self.audio.codec_context.frame_size or 1024
        while self.audio_samples < seconds * self.audio_rate:
            t = (self.audio_samples + np.arange(chunk)) / self.audio_rate
            samples = _tone(self.audio_seed, t)
            if self.audio.format.name.startswith("s16"):
                samples = (samples * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples[None, :], format=self.audio.format.name, layout="mono")
            frame.sample_rate = self.audio_rate
            frame.pts = self.audio_samples
            frame.time_base = Fraction(1, self.audio_rate)
            self.audio_samples += chunk
            for packet in self.audio.encode(frame):
                self.container.mux(packet)

    def write(self, picture: np.ndarray | av.VideoFrame) -> None:
        if isinstance(picture, np.ndarray):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        else:
            frame = picture
        width, height = self.size
        frame = self._reformatter.reformat(frame, width=width, height=height, format=self.pix_fmt)
        frame.pts = self.count
        frame.time_base = 1 / self.fps
        self.count += 1
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        if self.audio is not None:
            self._write_audio_until(float(self.count / self.fps))

    def close(self) -> None:
        try:
            for packet in self.video.encode():
                self.container.mux(packet)
            if self.audio is not None:
                for packet in self.audio.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self.close()
        else:  # flushing a failed encoder would only raise again and hide the first error
            self.container.close()


def make_video(
    path: Path,
    *,
    seconds: float = 10,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    seed: int = 0,
    codec: str = "libx264",
    gop: int | None = None,
    crf: int | None = None,
    audio: bool = False,
    start_offset: float = 0.0,
) -> Path:
    """Encode `seconds` of video `seed` into `path`; the container comes from the suffix (see CONTAINERS).

    The frame at time n / fps shows frame_at(seed, size, start_offset + n / fps), so a video made with
    start_offset=40 has the content of the full video from 40 s on. `codec` is an FFmpeg encoder name that
    the container takes (WebM: libvpx or libvpx-vp9; FLV: flv or libx264; 3GP: libx264 or mpeg4). `crf` is
    for libx264 / libx265 / libvpx / libvpx-vp9 only; other encoders get a bitrate of 0.5 bit per pixel.
    `audio` adds a mono tone (AAC; Opus in WebM, MP2 in AVI, WMA in WMV). `gop` is the key-frame interval
    in frames (for libx264 / libx265 exactly that: no extra key frames at scene changes).
    """
    path = Path(path)
    frames = round(seconds * fps)
    with _Writer(
        path, codec=codec, size=size, fps=fps, gop=gop, crf=crf, audio_seed=seed if audio else None
    ) as out:
        for n in range(frames):
            out.write(frame_at(seed, size, start_offset + n / fps))
    return path


# Derived copies -----------------------------------------------------------------------------------------


def decoded_frames(path: Path) -> Iterator[tuple[float, av.VideoFrame]]:
    """(seconds from the first frame, frame) for each frame of the first video stream, in display order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first: float | None = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            if first is None:
                first = frame.time
            yield frame.time - first, frame


def _rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise ValueError(f"{path.name} has no frame rate; give reencode an fps")
        return Fraction(rate)


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height


def _derive(
    src: Path,
    dst: Path,
    *,
    codec: str = "libx264",
    size: tuple[int, int] | None = None,
    fps: int | Fraction | None = None,
    crf: int | None = None,
    bitrate: int | None = None,
    start: float = 0.0,
    seconds: float | None = None,
    paint: Callable[[av.VideoFrame], np.ndarray] | None = None,
) -> Path:
    """Decode src, keep [start, start + seconds), repaint or rescale, encode to dst from time 0.

    A frame rate change repeats or drops frames: output frame k shows the source frame on screen at k / fps.
    `paint` turns a decoded frame into the RGB picture to encode (it converts the frame itself, so that a
    scale and the conversion to RGB take one pass).
    """
    src, dst = Path(src), Path(dst)
    source_fps = _rate(src)
    out_fps = Fraction(fps) if fps is not None else source_fps
    out_fps_arg: int | Fraction = int(out_fps) if out_fps.denominator == 1 else out_fps
    out_size = size or _size(src)
    eps = 1e-3
    with _Writer(dst, codec=codec, size=out_size, fps=out_fps_arg, crf=crf, bitrate=bitrate) as out:
        for t, frame in decoded_frames(src):
            local = t - start
            if local < -eps:
                continue
            if seconds is not None and local >= seconds - eps:
                break
            picture: np.ndarray | av.VideoFrame = frame
            if paint is not None:
                picture = paint(frame)
            # This frame stays on screen until the next one, 1 / source_fps later (our sources are constant
            # rate), so it fills every output time before that.
            while out.count / out_fps < local + 1 / source_fps - eps and (
                seconds is None or out.count / out_fps < seconds - eps
            ):
                out.write(picture)
    return dst


def reencode(
    src: Path,
    dst: Path,
    *,
    size: tuple[int, int] | None = None,
    codec: str = "libx264",
    crf: int | None = None,
    bitrate: int | None = None,
    fps: int | None = None,
) -> Path:
    """A re-encoded copy of src's video: another codec or container (dst's suffix), size, quality or rate."""
    return _derive(src, dst, codec=codec, size=size, fps=fps, crf=crf, bitrate=bitrate)


def clip(src: Path, dst: Path, *, start: float, seconds: float) -> Path:
    """A cut of src from `start` for `seconds`, re-encoded (libx264 or by dst's container) from time 0."""
    return _derive(src, dst, codec=_default_codec(Path(dst)), start=start, seconds=seconds)


def _default_codec(path: Path) -> str:
    return {"webm": "libvpx-vp9", "avi": "mpeg4", "asf": "wmv2", "flv": "flv"}.get(
        _container_format(path), "libx264"
    )


def _paint_logo(frame: np.ndarray, corner: str, scale: float) -> np.ndarray:
    vertical, _, horizontal = corner.partition("-")
    height, width = frame.shape[:2]
    box_w = max(8, round(width * scale))
    box_h = max(6, round(box_w * _LOGO_ASPECT))
    margin = round(width * 0.03)
    x = margin if horizontal == "left" else width - margin - box_w
    y = margin if vertical == "top" else height - margin - box_h
    logo = np.full((box_h, box_w, 3), 255, np.uint8)
    # An "H": two stems and a bar, drawn in box fractions so the logo looks the same at any size.
    stem, pad_x, pad_y = max(1, box_w // 8), box_w // 4, box_h // 6
    logo[pad_y : box_h - pad_y, pad_x : pad_x + stem] = 0
    logo[pad_y : box_h - pad_y, box_w - pad_x - stem : box_w - pad_x] = 0
    logo[box_h // 2 - stem // 2 : box_h // 2 - stem // 2 + stem, pad_x : box_w - pad_x] = 0
    frame[y : y + box_h, x : x + box_w] = logo
    return frame


def overlay_logo(src: Path, dst: Path, *, corner: str = "top-right", scale: float = 0.2) -> Path:
    """src with an opaque "logo" in a corner: a white box `scale` of the width wide with a black "H" in it.

    PDQ notices such a box: at scale 0.2 frames of these videos move ~55 bits from the original (photo-like
    pictures ~48), at 0.08 ~14 (90 % of frames within 31), so the corpus uses CORPUS_LOGO_SCALE.
    """
    vertical, _, horizontal = corner.partition("-")
    if vertical not in ("top", "bottom") or horizontal not in ("left", "right"):
        raise ValueError(f"corner {corner!r}: use top-left, top-right, bottom-left or bottom-right")
    rgb = VideoReformatter()

    def paint(frame: av.VideoFrame) -> np.ndarray:
        return _paint_logo(rgb.reformat(frame, format="rgb24").to_ndarray(), corner, scale)

    return _derive(src, dst, codec=_default_codec(Path(dst)), paint=paint)


def letterbox(src: Path, dst: Path, *, bars: str = "horizontal", share: float = 0.125) -> Path:
    """src with black bars of `share` of the frame on two sides, the picture squeezed to fit between them.

    "horizontal" puts bars at the top and bottom (the picture keeps its width), "vertical" at the left and
    right. The output has the input's size, as when a wide video is shown in a 4:3 frame.
    """
    if bars not in ("horizontal", "vertical"):
        raise ValueError(f"bars {bars!r}: use horizontal or vertical")
    if not 0 < share < 0.5:
        raise ValueError(f"share {share}: each bar must take between 0 and half of the frame")
    scaler = VideoReformatter()

    def paint(frame: av.VideoFrame) -> np.ndarray:
        width, height = frame.width, frame.height
        out = np.zeros((height, width, 3), np.uint8)
        if bars == "horizontal":
            bar = round(height * share)
            out[bar : height - bar] = scaler.reformat(
                frame, width=width, height=height - 2 * bar, format="rgb24"
            ).to_ndarray()
        else:
            bar = round(width * share)
            out[:, bar : width - bar] = scaler.reformat(
                frame, width=width - 2 * bar, height=height, format="rgb24"
            ).to_ndarray()
        return out

    return _derive(src, dst, codec=_default_codec(Path(dst)), paint=paint)


def with_metadata(
    src: Path,
    dst: Path,
    *,
    creation_time: str | None = None,
    make: str | None = None,
    model: str | None = None,
    location: str | None = None,
) -> Path:
    """src re-muxed (packets copied, not re-encoded) into a .mp4 or .mov with a phone's container metadata.

    What is written, and read back by av.open(dst).metadata (checked with this PyAV's FFmpeg):
    - `creation_time` (ISO 8601, e.g. "2024-05-01T10:20:30.000000Z") as "creation_time" (mvhd, and each
      stream's tkhd / mdhd);
    - `make` / `model` as "com.apple.quicktime.make" / "com.apple.quicktime.model" (mdta keys, as an iPhone);
    - `location` (ISO 6709, given as is) both as "com.apple.quicktime.location.ISO6709" (iPhone) and as
      "location" (the udta ©xyz atom, as Android). FFmpeg reads ©xyz back reformatted as latitude and
      longitude only ("+31.9539+035.9106/", any altitude dropped), under "location" and "location-eng".
    The mdta keys need the muxer's movflags=use_metadata_tags (without it FFmpeg drops them silently).
    """
    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() not in (".mp4", ".mov"):
        raise ValueError(f"{dst.name}: with_metadata writes .mp4 or .mov")
    tags: dict[str, str] = {}
    if creation_time is not None:
        tags["creation_time"] = creation_time
    if make is not None:
        tags["com.apple.quicktime.make"] = make
    if model is not None:
        tags["com.apple.quicktime.model"] = model
    if location is not None:
        tags["com.apple.quicktime.location.ISO6709"] = location
        tags["location"] = location
    dst.parent.mkdir(parents=True, exist_ok=True)
    with (
        av.open(str(src)) as source,
        av.open(
            str(dst), "w", format=_container_format(dst), options={"movflags": "use_metadata_tags"}
        ) as out,
    ):
        streams = {
            s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")
        }
        out.metadata.update(tags)
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


# Bad inputs ---------------------------------------------------------------------------------------------


def truncated(src: Path, dst: Path, keep: float = 0.5) -> Path:
    """The first `keep` share of src's bytes (a download or a carve that stopped early)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def garbage_tail(src: Path, dst: Path, nbytes: int = 200_000) -> Path:
    """src, still valid, followed by `nbytes` of random bytes (as carved files often are)."""
    shutil.copyfile(src, dst)
    with open(dst, "ab") as out:
        out.write(np.random.default_rng(nbytes).bytes(nbytes))
    return Path(dst)


def corrupt_middle(src: Path, dst: Path) -> Path:
    """src with random bytes over a block in its middle: 1/20 of the file, at least 4 KiB, at most 1/4."""
    data = bytearray(Path(src).read_bytes())
    block = min(max(4096, len(data) // 20), len(data) // 4)
    start = (len(data) - block) // 2
    data[start : start + block] = np.random.default_rng(len(data)).bytes(block)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def audio_only(path: Path, seconds: float = 3) -> Path:
    """A valid .m4a (or .mp4) holding one AAC stream and no video, as a voice message or a music file."""
    path = Path(path)
    if path.suffix.lower() not in (".m4a", ".mp4"):
        raise ValueError(f"{path.name}: audio_only writes .m4a or .mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    rate, chunk = 44_100, 1024
    with av.open(str(path), "w", format=_container_format(path)) as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        stream.format = "fltp"
        for start in range(0, round(seconds * rate), chunk):
            frame = av.AudioFrame.from_ndarray(
                _tone(0, (start + np.arange(chunk)) / rate)[None, :], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# The matching corpus ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoCorpus:
    """Related and unrelated videos for matching tests; all 320x240 at 10 frames/s unless said otherwise.

    PDQ distance to the original's frame at the same time, measured on the frames at whole seconds:
    clip 0-4, other_codec 0-6, reencoded 6-30 (median 14), logo 4-38 (median 14, 95 % ≤ 31),
    letterboxed 54-134 as it is and 2-10 once the bars are cut off; second and unrelated ≥ 94 at any time.
    """

    original: Path  # 120 s, seed 1, libx264 .mp4 with an AAC tone
    second: Path  # 30 s, seed 2, VP9 .mkv with an AAC tone
    reencoded: Path  # original at 240x180, CRF 35 (blockier, smaller), .mp4
    other_codec: Path  # original as MPEG-4 part 2 in .avi
    clip: Path  # original from 40 s to 60 s, .mp4
    logo: Path  # original with a white "H" logo top right, CORPUS_LOGO_SCALE (8 %) of the width
    letterboxed: Path  # original squeezed between black bars of 12.5 % at top and bottom
    unrelated: tuple[Path, ...]  # 20 s each: seed 3 libx264 .3gp, seed 4 VP8 .webm, seed 5 FLV1 .flv


CLIP_START, CLIP_SECONDS = 40.0, 20.0
# A channel "bug" of 8 % of the width: at overlay_logo's 20 % PDQ moves every frame out of match range.
CORPUS_LOGO_SCALE = 0.08


def build_corpus(folder: Path) -> VideoCorpus:
    """Encode the matching corpus into `folder` (14 s on one core, 12 MB; PDQ distances in VideoCorpus)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    original = make_video(folder / "original.mp4", seconds=120, seed=1, audio=True)
    unrelated = (
        make_video(folder / "unrelated-3.3gp", seconds=20, seed=3),
        make_video(folder / "unrelated-4.webm", seconds=20, seed=4, codec="libvpx"),
        make_video(folder / "unrelated-5.flv", seconds=20, seed=5, codec="flv"),
    )
    return VideoCorpus(
        original=original,
        second=make_video(folder / "second.mkv", seconds=30, seed=2, codec="libvpx-vp9", audio=True),
        reencoded=reencode(original, folder / "reencoded.mp4", size=(240, 180), crf=35),
        other_codec=reencode(original, folder / "other-codec.avi", codec="mpeg4"),
        clip=clip(original, folder / "clip.mp4", start=CLIP_START, seconds=CLIP_SECONDS),
        logo=overlay_logo(original, folder / "logo.mp4", scale=CORPUS_LOGO_SCALE),
        letterboxed=letterbox(original, folder / "letterboxed.mp4"),
        unrelated=unrelated,
    )
