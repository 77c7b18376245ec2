"""Videos: container facts, one frame hash a second (vPDQ-compatible) and a key-frame contact sheet.

Frame choice follows Meta's `vpdq-hash-video`: frames are numbered at the stream's average frame rate and
every `int(seconds_per_hash * fps)`-th is hashed with PDQ (frame 0, 30, 60, ... at 30 frames/s), written
as `frame,quality,pdq,seconds`. Numbers come from timestamps rather than from counting decoded frames,
which is the same thing for a constant frame rate and stays right when frames are skipped.

Speed: decode only what the hashed frames need.

- The demuxed packets of a group of pictures (from one key frame to the next) are held before any is
  decoded, so that a group with no frame to hash is not decoded at all, and a group is left as soon as
  the packets of its frames to hash have been sent: the decoder is then drained for them instead of being
  fed further packets until its reorder delay lets them out. With a key frame every 2 s and a hash every
  second, the second half of every group is never decoded.
- Frames nothing refers to (H.264's non-reference B-frames) are skipped by the decoder unless one of them
  could be the frame to hash (its timestamp is at or past the next target), so the frame that is hashed
  is exactly the one a full decode gives, and the frames leading to it are decoded as the codec needs.
- The hashed frame is scaled down by a whole factor (area average, in FFmpeg's swscale) to a short side
  of at least `VideoSettings.frame_short_side` (360) before PDQ, which reduces every picture to 64x64
  anyway: PDQ of a full 1080p frame in pdqhash takes ~70 ms, of the scaled one ~4 ms. The drift from a
  full-resolution hash is a handful of bits (docs/performance.md); `frame_short_side = 0` hashes full
  frames, as Meta's tool does. The pipeline name on the facts says which.

The frame is hashed as decoded (no rotation from the container's display matrix), as vPDQ does. Each
hashed frame also gets the hash of what lies inside uniform borders (letterbox bars, a frame), found by
`himaya.analyzers.borders.content_box` as for pictures, so a copy with bars matches its source.

Hostile input: FFmpeg reads through a Python file object (no protocol is ever opened: a file named
`http://...` or a playlist cannot make it fetch anything), only container demuxers Himaya expects are
allowed (no HLS, concat or image sequences), frames over the picture limit are refused before decoding,
and a time and frame budget bounds an endless or broken stream. A stream that breaks part-way keeps the
frames hashed so far and says where it stopped; so does a file cut short, which Matroska and MP4 with
its index in front end without an error: its packets then hold seconds less than its container declares.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO

import av
import av.error
import numpy as np
import pdqhash
from av.video.reformatter import VideoReformatter
from PIL import Image

from himaya.analyzers.borders import content_box
from himaya.analyzers.facts import MediaFacts, VideoFacts, VideoFrame
from himaya.analyzers.pdq import bits_to_hex
from himaya.analyzers.thumbnail import ThumbnailSink, make_contact_sheet
from himaya.config import ImageLimits, VideoSettings
from himaya.errors import EvidenceError

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoError",
    "analyze_video",
    "is_video",
    "video_pipeline",
]

# Container demuxers FFmpeg may use on evidence (names as FFmpeg lists them; one matches a family:
# "mov" is mov/mp4/m4a/3gp/3g2/mj2, "matroska" is mkv/webm). Playlists (hls, dash), concat lists and
# image sequences are left out: they open other files or URLs.
_DEMUXERS = "mov,matroska,avi,asf,flv,mpegts,mpeg,mpegvideo,h264,hevc,m4v,ogg,rm,mxf,nut,dv,ivf,obu"

VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".wmv", ".asf",
        ".flv", ".f4v", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".vob", ".ogv", ".rm", ".rmvb", ".mxf",
    }
)  # fmt: skip
# libmagic's names for containers that are not under video/ (or that it reports as generic data).
_VIDEO_MIMES = frozenset(
    {"application/vnd.ms-asf", "application/x-matroska", "application/vnd.rn-realmedia", "application/mxf"}
)
_GENERIC_MIMES = frozenset({"application/octet-stream", "application/x-iso9660-image"})

# Packets of one group of pictures held before decoding it; past these the group is decoded as it comes
# (a stream with rare or no key frames), which only loses the chance to skip its tail.
_MAX_GROUP_PACKETS = 1200
_MAX_GROUP_BYTES = 256 * 1024 * 1024
_MAX_BAD_PACKETS = 200  # decoding errors in a row before the stream is called broken
_SHEET_CELLS = 9
# Counter-clockwise display rotations (a phone held upright records landscape frames turned by 90 or 270).
_TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
# Video a file's packets may lack against the length its container declares before it is called cut short
# (a last frame shown longer, an edit list, an estimate from the bit rate are well under this).
_MISSING_SECONDS = 2.0
# How often a long video says how far its decoding has come (`analyze_video`'s on_progress).
PROGRESS_EVERY_S = 1.0

# Seconds of the video read so far, and how long the container says it is (None: it does not say).
VideoProgress = Callable[[float, float | None], None]


class VideoError(EvidenceError):
    """A video that cannot be opened at all: corrupt, truncated before its index, not a video."""


def is_video(mime: str | None, name: str) -> bool:
    """Is this file a video to decode? By its content type, or by its name when libmagic cannot tell."""
    mime = (mime or "").lower()
    if mime.startswith("video/") or mime in _VIDEO_MIMES:
        return True
    return mime in _GENERIC_MIMES and os.path.splitext(name.lower())[1] in VIDEO_EXTENSIONS


def video_pipeline(settings: VideoSettings) -> str:
    """What a court needs to reproduce the frame hashes: frame choice, scale rule and hasher version."""
    scale = f"s{settings.frame_short_side}" if settings.frame_short_side else "full"
    step = "" if settings.seconds_per_hash == 1.0 else f"-every{settings.seconds_per_hash:g}s"
    keys = "-keyframes" if settings.sampling == "keyframes" else ""
    return f"vpdq-{scale}{step}{keys}/1"


@dataclass
class _Sheet:
    """Up to 2 x _SHEET_CELLS frames spread over the video, kept as small pictures for the contact sheet.

    The length is not always known in advance, so every `stride`-th hashed frame is kept and, when the
    list is full, every other one is dropped and the stride doubled: the kept frames stay evenly spread.
    """

    cells: list[Image.Image] = field(default_factory=list)
    stride: int = 1
    seen: int = 0

    def offer(self, rgb: np.ndarray, rotation: int = 0) -> None:
        """`rotation`: the container's display rotation, counter-clockwise degrees (FFmpeg's reading of
        the display matrix); people see the frame turned, the hash does not (as vPDQ)."""
        index = self.seen
        self.seen += 1
        if index % self.stride:
            return
        picture = Image.fromarray(rgb)
        turn = _TURNS.get(int(rotation) % 360)
        if turn is not None:
            picture = picture.transpose(turn)
        picture.thumbnail((256, 256), Image.Resampling.BILINEAR, reducing_gap=2.0)
        self.cells.append(picture)
        if len(self.cells) >= 2 * _SHEET_CELLS:
            self.cells = self.cells[::2]
            self.stride *= 2

    def chosen(self) -> list[Image.Image]:
        if len(self.cells) <= _SHEET_CELLS:
            return self.cells
        step = len(self.cells) / _SHEET_CELLS
        return [self.cells[int(n * step)] for n in range(_SHEET_CELLS)]


def analyze_video(
    source: str | BinaryIO,
    *,
    settings: VideoSettings,
    limits: ImageLimits,
    thumbnails: ThumbnailSink | None,
    threads: int = 1,
    on_progress: VideoProgress | None = None,
) -> tuple[VideoFacts, MediaFacts]:
    """Container facts, frame hashes and (with a sink) the contact sheet of one video.

    `source` is a path (opened here, in Python) or a seekable binary file object. Raises VideoError when
    the file cannot be opened as a video at all; a stream that breaks or runs over the budget part-way
    gives the frames hashed until then, with `VideoFacts.incomplete` saying why. `on_progress`, if given,
    is called about every PROGRESS_EVERY_S while the video decodes (a 4-hour film takes minutes).
    """
    handle: BinaryIO = open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115
    try:
        try:
            container = av.open(
                handle,
                mode="r",
                options={"format_whitelist": _DEMUXERS, "protocol_whitelist": "file"},
                metadata_errors="replace",
            )
        except (av.error.FFmpegError, ValueError, OSError, EOFError) as error:
            # FFmpeg's message quotes the file name: the examiner's own path has no place in a record.
            cause = getattr(error, "strerror", None) or type(error).__name__
            raise VideoError(
                f"not a readable video (corrupt, truncated or another format): {cause}"
            ) from None
        except MemoryError:
            raise VideoError("video header needs more memory than this worker has") from None
        with container:
            return _analyze(container, settings, limits, thumbnails, threads, on_progress)
    finally:
        if isinstance(source, str):
            handle.close()


def _analyze(
    container: Any,
    settings: VideoSettings,
    limits: ImageLimits,
    thumbnails: ThumbnailSink | None,
    threads: int,
    on_progress: VideoProgress | None = None,
) -> tuple[VideoFacts, MediaFacts]:
    facts = VideoFacts(pipeline=video_pipeline(settings))
    _read_metadata(container, facts)
    media = MediaFacts(width=facts.width or 0, height=facts.height or 0)
    if not container.streams.video:
        facts.incomplete = "no video stream" + (" (audio only)" if container.streams.audio else "")
        return facts, media
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width and height and width * height > limits.max_pixels:
        raise VideoError(
            f"video frames are {width}x{height} = {width * height:,} pixels, over the "
            f"{limits.max_pixels / 1_000_000:g} MP limit; raise --max-pixels to decode them"
        )
    sheet = _Sheet() if thumbnails is not None and settings.contact_sheet else None
    sampler = _Sampler(stream, settings, limits, sheet)
    if on_progress is not None:
        sampler.watch(on_progress, _declared_seconds(container, stream))
    try:
        sampler.run(container, threads)
    except av.error.FFmpegError as error:
        cause = getattr(error, "strerror", None) or type(error).__name__
        sampler.stop(f"the stream could not be read further ({cause})")
    except MemoryError:
        sampler.stop("decoding needed more memory than this worker has")
    if sampler.incomplete is None and sampler.frames:
        sampler.check_length(_declared_seconds(container, stream))
    facts.frames = sampler.frames
    facts.frames_decoded = sampler.decoded
    facts.incomplete = sampler.incomplete
    if not facts.frames and facts.incomplete is None:
        facts.incomplete = "no frame could be decoded"
    if sheet is not None and thumbnails is not None and sheet.cells:
        sharp, blurred = make_contact_sheet(sheet.chosen())
        media.thumbnail_blob, media.blurred_blob = thumbnails.put(sharp), thumbnails.put(blurred)
    return facts, media


class _Sampler:
    """Chooses, decodes and hashes the frames to hash, one group of pictures at a time."""

    def __init__(self, stream: Any, settings: VideoSettings, limits: ImageLimits, sheet: _Sheet | None):
        self.stream = stream
        self.settings = settings
        self.limits = limits
        self.sheet = sheet
        rate = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or 25)
        # A hostile header may claim any rate or time base: outside sane ranges, assume common ones.
        self.fps = rate if 0 < rate <= 1000 else Fraction(25)
        base = Fraction(stream.time_base or Fraction(1, 1000))
        self.time_base = base if base > 0 else Fraction(1, 1000)
        # pts units per frame, and between two hashed frames (vPDQ: a whole number of frames).
        self.frame_pts = float(1 / (self.fps * self.time_base))
        self.every = max(1, int(settings.seconds_per_hash * self.fps))
        self.step_pts = self.every * self.frame_pts
        self.tolerance = self.frame_pts / 2  # a frame within half a frame of a target is that frame
        self.start: float | None = None  # pts of the first frame out of the decoder
        self.next_target = -math.inf  # pts at or after which the next frame to hash lies
        self.target_index = 0
        self.frames: list[VideoFrame] = []
        self.decoded = 0
        self.incomplete: str | None = None
        self.last_pts: float | None = None
        self.last_kept: int | None = None  # the last kept frame's hash as an int, for pruning
        self.began = time.monotonic()
        self.bad_packets = 0
        self.sent_since_flush = False
        # The first and last packet timestamps demuxed: how much video the file holds, decoded or not.
        self.packet_span: tuple[int, int] | None = None
        self.key_frames_only = settings.sampling == "keyframes"
        self.force = False  # hash the next frame out of the decoder whatever its time (a sampled key frame)
        # One scaler for the whole video: FFmpeg's swscale set-up costs ten times the scaling itself.
        self.scaler = VideoReformatter()
        self.on_progress: VideoProgress | None = None
        self.declared: float | None = None
        self.reported = time.monotonic()

    def watch(self, on_progress: VideoProgress, declared: float | None) -> None:
        self.on_progress, self.declared = on_progress, declared

    def _report(self) -> None:
        """How far the demuxer has come, at most every PROGRESS_EVERY_S (decoding lags it by a group)."""
        now = time.monotonic()
        if now - self.reported < PROGRESS_EVERY_S or self.on_progress is None or self.packet_span is None:
            return
        self.reported = now
        low, high = self.packet_span
        self.on_progress(float((high - low) * self.time_base), self.declared)

    # ------------------------------------------------------------------ the loop

    def run(self, container: Any, threads: int) -> None:
        context = self.stream.codec_context
        context.thread_count = threads
        if threads <= 1:
            self.stream.thread_type = "NONE"
        # A whole group waits for the next one: if that one opens with leading pictures (an open GOP, whose
        # first frames refer back into this group), this group is decoded to its end, never cut short.
        waiting: list[Any] | None = None
        group: list[Any] = []
        group_bytes = 0
        for packet in container.demux(self.stream):
            if self.incomplete is not None:
                return
            if packet.size == 0:  # the demuxer's end-of-stream marker; the decoder is drained below
                continue
            if packet.pts is not None:
                low, high = self.packet_span or (packet.pts, packet.pts)
                self.packet_span = (min(low, packet.pts), max(high, packet.pts))
                if self.on_progress is not None:
                    self._report()
            if packet.is_keyframe and group:
                if waiting is not None:
                    self._decode_group(waiting, whole=True, keep_going=_has_leading(group))
                waiting, group, group_bytes = group, [], 0
            group.append(packet)
            group_bytes += packet.size
            if len(group) >= _MAX_GROUP_PACKETS or group_bytes >= _MAX_GROUP_BYTES:
                if waiting is not None:
                    self._decode_group(waiting, whole=True, keep_going=True)
                    waiting = None
                self._decode_group(group, whole=False)
                group, group_bytes = [], 0
        if waiting is not None and self.incomplete is None:
            self._decode_group(waiting, whole=True, keep_going=_has_leading(group))
        if group and self.incomplete is None:
            self._decode_group(group, whole=True)
        if self.incomplete is None and self.sent_since_flush:
            self._take(self._decode(None))

    def stop(self, reason: str) -> None:
        if self.incomplete is None:
            at = f" at {self.last_pts_seconds():.1f} s" if self.last_pts is not None else ""
            self.incomplete = f"{reason}{at}; the {len(self.frames)} frames hashed before are kept"

    def check_length(self, declared: float | None) -> None:
        """A file cut short ends without an error (Matroska, for one, just stops): compare the video its
        packets hold with the length its container declares, and say so when seconds are missing."""
        if declared is None or self.packet_span is None:
            return
        low, high = self.packet_span
        held = (high - low) * float(self.time_base) + self.frame_pts * float(self.time_base)
        if declared - held > max(_MISSING_SECONDS, 2 * self.settings.seconds_per_hash):
            self.incomplete = (
                f"the video stream ends at {held:.1f} s of the {declared:.1f} s its container declares "
                f"(the file is cut short or damaged); the {len(self.frames)} frames hashed are kept"
            )

    def last_pts_seconds(self) -> float:
        if self.last_pts is None or self.start is None:
            return 0.0
        return (self.last_pts - self.start) * float(self.time_base)

    def _decode_group(self, packets: list[Any], whole: bool, keep_going: bool = False) -> None:
        """Decode what a group of pictures must give: nothing if no frame to hash lies in it, and only up
        to its last frame to hash when the whole group is known (`whole`) and the next group needs none of
        its frames (not `keep_going`)."""
        stamps = [p.pts for p in packets if p.pts is not None]
        unknown = len(stamps) < len(packets)
        last = max(stamps) if stamps else None
        whole = whole and not keep_going
        if whole and not unknown and last is not None and last < self.next_target - self.tolerance:
            self._drain()
            return
        if (
            self.key_frames_only
            and whole
            and not unknown
            and last is not None
            and self._key_only(packets, last)
        ):
            return
        context = self.stream.codec_context
        plan = self._plan(packets, last) if whole and not unknown and last is not None else None
        last_wanted = max(plan) if plan is not None else -1
        stopped = False
        for index, packet in enumerate(packets):
            if self.incomplete is not None:
                return
            if whole and not unknown and last is not None and self.next_target - self.tolerance > last:
                stopped = True  # every frame to hash in this group has come out
                break
            if plan is not None:
                wanted = packet.is_keyframe or index in plan
            else:
                due = self.next_target - self.tolerance
                wanted = packet.pts is None or packet.is_keyframe or packet.pts >= due
            context.skip_frame = "DEFAULT" if wanted else "NONREF"
            self._take(self._decode(packet))
            self._check_budget()
            if index == last_wanted:
                # Every frame to hash in this group has been sent: drain the decoder for them rather than
                # decode more packets until its reorder delay lets them out.
                self._drain()
                return
        if stopped:
            self._reset()

    def _plan(self, packets: list[Any], last: float) -> set[int] | None:
        """The packets (by index) holding this group's frames to hash, when the grid is known: for each
        target time, the packet with the earliest timestamp at or after it (as `_take` chooses frames).
        None where that cannot be said before decoding (the first frame, and so the grid, is not out yet)."""
        if self.start is None:
            return None
        chosen: set[int] = set()
        order = sorted(range(len(packets)), key=lambda n: packets[n].pts)
        index = self.target_index
        target = self.start + index * self.step_pts
        at = 0
        while target - self.tolerance <= last:
            while at < len(order) and packets[order[at]].pts < target - self.tolerance:
                at += 1
            if at == len(order):
                break
            pts = packets[order[at]].pts
            if self.last_pts is None or pts > self.last_pts - self.tolerance:
                chosen.add(order[at])
            index = self._index_after(index, pts)
            target = self.start + index * self.step_pts
        return chosen or None

    def _key_only(self, packets: list[Any], last: float) -> bool:
        """Key-frame sampling: a group at most two hash intervals long stands for its key frame alone, the
        one frame that decodes without any other. False: a longer group, sampled exactly."""
        key = packets[0]
        if not key.is_keyframe or last - key.pts + self.frame_pts > 2 * self.step_pts + self.tolerance:
            return False
        self._drain()
        if self.start is not None and key.pts < self.next_target - self.step_pts / 2:
            return True  # too near the frame hashed before it (a scene-cut key frame): nothing to hash
        self.stream.codec_context.skip_frame = "DEFAULT"
        self.force = True
        self._take(self._decode(key))
        self._take(self._decode(None))  # out of the decoder's reorder delay
        self.force = False
        self._reset()
        self._check_budget()
        return True

    def _drain(self) -> None:
        """Take what the decoder still holds (frames to hash among them) and reset it for a jump."""
        if self.sent_since_flush:
            self._take(self._decode(None))
            self._reset()

    def _decode(self, packet: Any) -> Iterable[Any]:
        self.sent_since_flush = packet is not None
        try:
            frames: list[Any] = self.stream.codec_context.decode(packet)
        except av.error.InvalidDataError:
            # A damaged packet: the decoder conceals and goes on; a long run of them is a broken stream.
            self.bad_packets += 1
            if self.bad_packets >= _MAX_BAD_PACKETS:
                self.stop(f"{_MAX_BAD_PACKETS} damaged packets in a row")
            return ()
        self.bad_packets = 0
        return frames

    def _reset(self) -> None:
        """Drop what the decoder holds (frames after the last one to hash) before jumping to a key frame."""
        self.stream.codec_context.flush_buffers()
        self.sent_since_flush = False

    def _check_budget(self) -> None:
        if self.decoded >= self.settings.max_frames:
            self.stop(f"stopped after {self.decoded:,} decoded frames (video frame budget)")
        elif time.monotonic() - self.began > self.settings.max_seconds:
            self.stop(f"stopped after {self.settings.max_seconds:g} s of decoding (video time budget)")

    # ------------------------------------------------------------------ frames

    def _take(self, frames: Iterable[Any]) -> None:
        for frame in frames:
            self.decoded += 1
            pts = frame.pts
            if pts is None:  # no timestamp: assume the frame follows the last one
                pts = (self.last_pts + self.frame_pts) if self.last_pts is not None else 0.0
            pts = float(pts)
            if self.last_pts is not None and pts <= self.last_pts - self.tolerance:
                continue  # out of order (a damaged stream, or leading frames after a jump): not ours
            self.last_pts = pts
            if self.start is None:
                self.start = pts
                self.next_target = pts
            if pts < self.next_target - self.tolerance and not self.force:
                continue
            self.force = False
            self._hash(frame, pts)
            self.target_index = self._index_after(self.target_index, pts)
            self.next_target = self.start + self.target_index * self.step_pts

    def _index_after(self, index: int, pts: float) -> int:
        """The grid index of the next target once the frame at `pts` stood for target `index`: a frame may
        stand for several targets across a gap. `_take` and `_plan` must agree on it."""
        assert self.start is not None
        # Key-frame sampling: a key frame off the grid stands for the nearest target, so that the next
        # hash does not come a moment later.
        slack = self.step_pts / 2 if self.key_frames_only else self.tolerance
        passed = math.floor((pts - self.start + slack) / self.step_pts) + 1
        return max(index + 1, passed)

    def _hash(self, frame: Any, pts: float) -> None:
        width, height = frame.width, frame.height
        if width * height > self.limits.max_pixels:
            self.stop(f"a frame of {width}x{height} is over the picture limit")
            return
        factor = 1
        if self.settings.frame_short_side:
            factor = max(1, min(width, height) // self.settings.frame_short_side)
        rgb = self.scaler.reformat(
            frame,
            width=max(1, width // factor),
            height=max(1, height // factor),
            format="rgb24",
            interpolation="AREA",
        ).to_ndarray()
        bits, quality = pdqhash.compute(rgb)
        pdq = bits_to_hex(bits)
        number = round((pts - (self.start or 0.0)) / self.frame_pts)
        timestamp = (pts - (self.start or 0.0)) * float(self.time_base)
        if self.sheet is not None:
            self.sheet.offer(rgb, getattr(frame, "rotation", 0) or 0)
        value = int(pdq, 16)
        prune = self.settings.prune_distance
        if prune > 0 and self.last_kept is not None and (value ^ self.last_kept).bit_count() <= prune:
            return
        self.last_kept = value
        hashed = VideoFrame(frame_number=number, timestamp=round(timestamp, 6), pdq=pdq, quality=int(quality))
        picture = Image.fromarray(rgb)
        box = content_box(picture)
        if box is not None:
            inner_bits, inner_quality = pdqhash.compute(np.asarray(picture.crop(box)))
            hashed.trimmed, hashed.trimmed_quality = bits_to_hex(inner_bits), int(inner_quality)
        self.frames.append(hashed)


# ---------------------------------------------------------------------- metadata

_DURATION_TAG = re.compile(r"^(\d+):([0-5]\d):(\d+(?:\.\d+)?)$")
_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")
_MAKE_KEYS = ("com.apple.quicktime.make", "make", "manufacturer", "com.android.manufacturer")
_MODEL_KEYS = ("com.apple.quicktime.model", "model", "com.android.model")
_LOCATION_KEYS = ("com.apple.quicktime.location.ISO6709", "location", "location-eng")


def _has_leading(group: list[Any]) -> bool:
    """Does this group open with leading pictures: frames shown before its key frame, decoded after it,
    that may refer to frames of the group before (an open GOP)?"""
    if not group or group[0].pts is None:
        return bool(group)  # no timestamps to tell by: assume so
    key = group[0].pts
    return any(packet.pts is None or packet.pts < key for packet in group[1:])


def _read_metadata(container: Any, facts: VideoFacts) -> None:
    facts.container = str(container.format.name)[:80] if container.format is not None else None
    if container.duration is not None and container.duration > 0:
        facts.duration = round(container.duration / av.time_base, 3)
    tags: dict[str, str] = {}
    for stream in container.streams:
        tags.update({k: v for k, v in _clean(stream.metadata) if k not in tags})
    tags.update(dict(_clean(container.metadata)))  # the container's own tags win
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is not None:
        context = video.codec_context
        facts.video_codec = _name(context)
        facts.width, facts.height = (context.width or None), (context.height or None)
        rate = video.average_rate or video.guessed_rate
        facts.frame_rate = round(float(rate), 3) if rate else None
        if facts.duration is None and video.duration is not None and video.time_base is not None:
            facts.duration = round(float(video.duration * video.time_base), 3)
    if audio is not None:
        facts.audio_codec = _name(audio.codec_context)
    lowered = {key.lower(): value for key, value in tags.items()}
    facts.creation_time = lowered.get("creation_time") or lowered.get("date") or None
    if facts.creation_time is not None:
        facts.creation_time = facts.creation_time[:40]
    facts.make = _first(lowered, _MAKE_KEYS)
    facts.model = _first(lowered, _MODEL_KEYS)
    location = _first(lowered, _LOCATION_KEYS)
    if location:
        facts.gps_lat, facts.gps_lon = _iso6709(location)


def _declared_seconds(container: Any, stream: Any) -> float | None:
    """How long the container says the video stream is: its own duration, Matroska's per-stream DURATION
    tag, or, with no other stream to make it longer, the container's duration."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = _DURATION_TAG.match(str((stream.metadata or {}).get("DURATION", "")))
    if tag:
        hours, minutes, seconds = tag.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if len(container.streams) == 1 and container.duration and container.duration > 0:
        return float(container.duration / av.time_base)
    return None


def _clean(tags: Any) -> Iterator[tuple[str, str]]:
    for key, value in dict(tags or {}).items():
        text = str(value).replace("\x00", "").strip()
        if text:
            yield str(key), text[:1000]


def _first(tags: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = tags.get(key.lower())
        if value:
            return value
    return None


def _name(context: Any) -> str | None:
    name = getattr(context, "name", None)
    return str(name)[:40] if name else None


def _iso6709(text: str) -> tuple[float | None, float | None]:
    """ISO 6709 as phones write it ("+31.9539+035.9106+000.000/"), in decimal degrees."""
    found = _ISO6709.match(text)
    if not found:
        return None, None
    lat, lon = float(found.group(1)), float(found.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return lat, lon
