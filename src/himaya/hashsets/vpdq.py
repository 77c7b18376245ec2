"""Meta's vPDQ hash files: a known video as the PDQ hashes of one frame a second, a frame a line.

`vpdq-hash-video` (facebook/ThreatExchange, vpdq/) writes `frame_number,quality,pdq_hex,seconds` with the
seconds to 3 decimals; older files have the seconds unrounded (`0.0319`, `0`), and other tools (Meta's
own Python example among them) write `frame,hash,quality,time`. The order is read per file: from a
header row when there is one, else from where the 64-hex hash stands in the first row. Meta's reader
takes exactly four comma-separated fields a line, and so does this one: anything else refuses the file
with its line, and the importer then refuses the whole folder, so a set is never missing a video.

A video is ONE entry of hash type "vpdq". Its value is the SHA-256 of its frames in canonical text
(Meta's output form, `format_vpdq`), so the same video twice is one entry, and re-importing a folder of
unchanged videos changes nothing; its details hold that text, from which matching rebuilds the frames
(`frames_of_entry`) and export writes the file back (`write_vpdq_folder`).
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import json
import math
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from himaya.errors import HashSetFormatError, UsageError
from himaya.hashsets.entries import ParsedEntry

__all__ = [
    "FrameLike",
    "VpdqFrame",
    "file_names",
    "format_vpdq",
    "frames_of_entry",
    "iter_vpdq",
    "looks_like_vpdq",
    "parse_vpdq_lines",
    "read_vpdq_file",
    "vpdq_files",
    "write_vpdq_folder",
]

MAX_MEDIA_ID = 200  # HashEntry.media_id is String(200)
# Bounds no real video reaches (a frame number of 15 digits, 30,000 years), so that whatever is read can
# be written back and read again, and int() never meets a thousand-digit number.
MAX_FRAME_NUMBER = 10**15 - 1
MAX_SECONDS = 1e12
# A frame line is about 80 bytes; reading a stray video or archive in the folder stops at its first
# "line" instead of loading gigabytes looking for a newline.
MAX_LINE_BYTES = 1024
NOT_VPDQ_HINT = (
    "a vPDQ hash file holds one frame a line as frame,quality,hash,seconds (as vpdq-hash-video writes it); "
    "take other files out of the folder"
)


class VpdqFrame(NamedTuple):
    frame_number: int
    quality: int  # PDQ quality, 0 (featureless) to 100
    pdq: str  # 64 lower-case hex digits
    timestamp: float  # seconds from the start of the video


class FrameLike(Protocol):
    """What `format_vpdq` needs of a frame: `VpdqFrame`, or the video analyzer's `VideoFrame`."""

    @property
    def frame_number(self) -> int: ...
    @property
    def quality(self) -> int: ...
    @property
    def pdq(self) -> str: ...
    @property
    def timestamp(self) -> float: ...


# Where each column stands: (frame, quality, hash, seconds). Both orders met in the wild keep the frame
# first and the seconds last, so a header-less file is told by where its hash stands.
_Order = tuple[int, int, int, int]
META_ORDER: _Order = (0, 1, 2, 3)
HASH_SECOND_ORDER: _Order = (0, 2, 1, 3)
_ROLES = ("frame", "quality", "hash", "seconds")
# Header names, lower-cased with everything but letters and digits removed ("Timestamp (sec)").
_HEADER_NAMES = {
    **dict.fromkeys(("frame", "framenumber", "frameno", "framenum", "frameindex"), "frame"),
    **dict.fromkeys(("quality", "pdqquality"), "quality"),
    **dict.fromkeys(("hash", "pdq", "pdqhash", "hex"), "hash"),
    **dict.fromkeys(("time", "timestamp", "timestampsec", "timestampseconds", "seconds", "sec"), "seconds"),
}
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_WHOLE = re.compile(r"[0-9]{1,15}")  # more digits than that is no frame number (and would slow int())
_SECONDS = re.compile(r"(?:[0-9]{1,15}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][+-]?[0-9]{1,3})?")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]')  # separators, controls, and what Windows refuses


class _Parser:
    """Frames from the lines of one file, fed in order; raises on the first line it cannot read."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.order: _Order | None = None
        self.header = False
        self.frames: list[VpdqFrame] = []

    def feed(self, line_no: int, text: str) -> None:
        if not text.strip():
            return
        fields = [field.strip() for field in text.split(",")]
        if len(fields) != 4:
            raise HashSetFormatError(
                self.source,
                line_no,
                f"{len(fields)} comma-separated fields, but a vPDQ line has 4 (frame,quality,hash,seconds)",
                NOT_VPDQ_HINT,
            )
        if self.order is None:
            self.order = self._header_order(fields, line_no)
            if self.order is not None:
                self.header = True
                return
            self.order = self._data_order(fields, line_no)
        self.frames.append(self._frame(fields, self.order, line_no))

    def _header_order(self, fields: list[str], line_no: int) -> _Order | None:
        roles = [_HEADER_NAMES.get(re.sub(r"[^a-z0-9]", "", field.lower())) for field in fields]
        if not any(roles) or any(_HEX64.fullmatch(field) for field in fields):
            return None  # a data row
        if None in roles or len(set(roles)) != 4:
            raise HashSetFormatError(
                self.source,
                line_no,
                f"the header row {','.join(fields)[:80]!r} does not name the columns frame, quality, hash "
                "and timestamp once each",
                "name them like frame_number,quality,hash,timestamp, or leave the header out",
            )
        return (roles.index("frame"), roles.index("quality"), roles.index("hash"), roles.index("seconds"))

    def _data_order(self, fields: list[str], line_no: int) -> _Order:
        if _HEX64.fullmatch(fields[2]):
            return META_ORDER
        if _HEX64.fullmatch(fields[1]):
            return HASH_SECOND_ORDER
        raise HashSetFormatError(
            self.source,
            line_no,
            "neither the second nor the third field is a PDQ hash (64 hex digits)",
            NOT_VPDQ_HINT,
        )

    def _frame(self, fields: list[str], order: _Order, line_no: int) -> VpdqFrame:
        frame, quality, pdq, seconds = (fields[index] for index in order)
        if not _WHOLE.fullmatch(frame):
            raise self._error(line_no, f"frame number {frame[:40]!r} is not a whole number of 0 or more")
        if not _WHOLE.fullmatch(quality) or int(quality) > 100:
            raise self._error(line_no, f"quality {quality[:40]!r} is not a whole number from 0 to 100")
        if not _HEX64.fullmatch(pdq):
            raise self._error(line_no, f"hash {pdq[:80]!r} is not a PDQ hash (64 hex digits)")
        timestamp = float(seconds) if _SECONDS.fullmatch(seconds) else math.nan
        if not timestamp < MAX_SECONDS:  # NaN and infinity fail too
            raise self._error(line_no, f"timestamp {seconds[:40]!r} is not a number of seconds of 0 or more")
        return VpdqFrame(int(frame), int(quality), pdq.lower(), timestamp)

    def _error(self, line_no: int, problem: str) -> HashSetFormatError:
        hint = NOT_VPDQ_HINT
        if self.header or self.frames:
            named = "the header" if self.header else "the first line"
            hint = f"every line must follow the column order of {named}"
        return HashSetFormatError(self.source, line_no, problem, hint)

    def result(self) -> list[VpdqFrame]:
        if not self.frames:
            raise HashSetFormatError(
                self.source, None, "no frames", "a vPDQ hash file holds at least one frame line"
            )
        return self.frames


def parse_vpdq_lines(lines: Iterable[str], source: str) -> list[VpdqFrame]:
    """The frames of a vPDQ text given as lines (line ends allowed); `source` names it in errors."""
    parser = _Parser(source)
    for line_no, text in enumerate(lines, start=1):
        parser.feed(line_no, text)
    return parser.result()


def looks_like_vpdq(lines: Iterable[str]) -> bool:
    """Whether sniffed lines start as a vPDQ file: a vPDQ header, or a first row that reads as a frame.

    Only the start decides, so that a bad line further on gets the vPDQ reader's message, not the plain
    reader's.
    """
    parser = _Parser("sniffed")
    for line_no, text in enumerate(lines, start=1):
        try:
            parser.feed(line_no, text)
        except HashSetFormatError:
            return False
        if parser.frames:
            return True
    return parser.header


def read_vpdq_file(path: Path) -> list[VpdqFrame]:
    """The frames of one vPDQ hash file; `HashSetFormatError` naming the line on the first problem."""
    source = str(path)
    parser = _Parser(source)
    with path.open("rb") as handle:
        line_no = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            line_no += 1
            if len(raw) > MAX_LINE_BYTES:
                raise HashSetFormatError(
                    source, line_no, f"a line longer than {MAX_LINE_BYTES} bytes", NOT_VPDQ_HINT
                )
            if line_no == 1:
                if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise HashSetFormatError(source, 1, "UTF-16 text", "save the file as UTF-8 (or ASCII)")
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise HashSetFormatError(
                    source, line_no, "not text (not valid UTF-8)", NOT_VPDQ_HINT
                ) from None
            parser.feed(line_no, text)
    return parser.result()


def vpdq_files(folder: Path) -> list[Path]:
    """The files a folder import reads, by name: regular files, not hidden ones, not sub-folders."""
    return sorted(
        (path for path in folder.iterdir() if not path.name.startswith(".") and path.is_file()),
        key=lambda path: path.name,
    )


def iter_vpdq(path: Path) -> Iterator[ParsedEntry]:
    """One entry per video: of the file `path`, or of each file in the folder `path` (see `vpdq_files`)."""
    files = vpdq_files(path) if path.is_dir() else [path]
    if not files:
        raise HashSetFormatError(
            str(path), None, "no files in this folder", "a vPDQ folder holds one hash file per video"
        )
    for ordinal, file in enumerate(files, start=1):
        yield video_entry(file.name, read_vpdq_file(file), ordinal)


def video_entry(name: str, frames: Sequence[FrameLike], line: int = 1) -> ParsedEntry:
    """The entry of a known video whose hash file is called `name`."""
    text = format_vpdq(frames)
    details = {
        "frames": text,
        "name": name,
        "frame_count": len(frames),
        # As the canonical text has it, so that details and frames never disagree.
        "duration": float(f"{frames[-1].timestamp + 0.0:.3f}") if frames else None,
    }
    return ParsedEntry(
        hash_type="vpdq",
        value=hashlib.sha256(text.encode("ascii")).hexdigest(),
        category=None,
        series=None,
        line=line,
        media_id=Path(name).stem[:MAX_MEDIA_ID],
        details=json.dumps(details, sort_keys=True),
    )


def format_vpdq(frames: Iterable[FrameLike]) -> str:
    """Frames as Meta's tool writes them, in the given order: `frame,quality,hash,seconds` lines, the
    seconds to 3 decimals. Raises `ValueError` for a frame no vPDQ reader would take back."""
    lines = []
    for frame in frames:
        number, quality = operator.index(frame.frame_number), operator.index(frame.quality)
        timestamp = float(frame.timestamp) + 0.0  # + 0.0 turns -0.0 into 0.0, which prints without '-'
        if not 0 <= number <= MAX_FRAME_NUMBER or not 0 <= quality <= 100 or not _HEX64.fullmatch(frame.pdq):
            raise ValueError(f"not a vPDQ frame: {number},{quality},{frame.pdq!r}")
        if not 0 <= timestamp < MAX_SECONDS:
            raise ValueError(f"frame {number}: timestamp {timestamp} is not a number of seconds of 0 or more")
        lines.append(f"{number},{quality},{frame.pdq.lower()},{timestamp:.3f}\n")
    return "".join(lines)


def frames_of_entry(details: str | None) -> list[VpdqFrame]:
    """The frames of a vPDQ entry, from its details (as `iter_vpdq` wrote them)."""
    try:
        data = json.loads(details) if details else None
    except json.JSONDecodeError:
        data = None
    frames = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(frames, str):
        raise ValueError("this entry's details hold no vPDQ frames; import the video's vPDQ file again")
    return parse_vpdq_lines(frames.split("\n"), "vPDQ entry")


def file_names(videos: Iterable[tuple[str | None, str]]) -> list[str]:
    """A file name for each (media id, value): the media id made safe, + ".txt", unique in one folder.

    Unique ignoring case, since exports go to Windows and macOS disks too; a clash or an empty name takes
    the value's first 16 hex digits.
    """
    names: list[str] = []
    taken: set[str] = set()
    for media_id, value in videos:
        stem = _safe_stem(media_id or "")
        short = f"{stem}-{value[:16]}" if stem else value[:16]
        candidates = itertools.chain(
            [stem] if stem else [], [short], (f"{short}-{n}" for n in itertools.count(2))
        )
        name = next(f"{c}.txt" for c in candidates if f"{c}.txt".casefold() not in taken)
        taken.add(name.casefold())
        names.append(name)
    return names


def _safe_stem(media_id: str) -> str:
    stem = _UNSAFE_NAME.sub("_", media_id).strip(" .")  # a leading dot would hide it from re-import
    encoded = stem.encode("utf-8")[:200]  # file names are at most 255 bytes
    return encoded.decode("utf-8", errors="ignore").rstrip(" .")


def write_vpdq_folder(folder: Path, videos: Iterable[tuple[str, Sequence[FrameLike]]]) -> int:
    """Write each (file name, frames) as a vPDQ hash file in `folder` (created if missing).

    Never overwrites: a name already there raises `UsageError`; a file cut short by an error is removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, frames in videos:
        target = folder / name
        text = format_vpdq(frames)
        try:
            handle = target.open("x", encoding="ascii", newline="")
        except FileExistsError:
            raise UsageError(
                f"{target} exists already; export into an empty folder, or move that file away"
            ) from None
        with handle:
            try:
                handle.write(text)
            except BaseException:
                handle.close()
                target.unlink(missing_ok=True)
                raise
        written += 1
    return written
