"""Limits that keep a hostile archive (zip bomb, quine, million-member listing) from exhausting the machine.

Declared sizes are checked before a member is opened, but they can lie, so every byte that comes out of
a decompressor is also counted as it is read:

* ratio: once more than `ratio_min_size` bytes came out, output above `max_ratio` times the compressed
  input is a bomb. Formats that record a compressed size per member (zip) are judged per member; solid or
  wrapped formats (tar.gz, 7z, rar) are judged over the whole archive against its size on its container.
* budget: one `ExtractionBudget` is shared by every layer of one top-level archive, so a zip of zips of
  zips cannot multiply its way past the total-bytes or member-count limit.

Library errors on damaged input come in many types (zlib.error, BadZipFile, LZMAError, ArchiveError,
struct.error, IndexError from a bad header...). They are turned into `ArchiveReadError`, an
`EvidenceError`, so one broken archive is recorded on its file and the scan goes on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from himaya.config import ArchiveLimits
from himaya.errors import EvidenceError, HimayaError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_SIZE = 64 * 1024


class Readable(Protocol):
    """What a member stream needs from the library object underneath it."""

    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class ArchiveBombError(EvidenceError):
    """An archive broke one of the `ArchiveLimits`; the message names the limit and how to raise it."""


class ArchiveReadError(EvidenceError):
    """An archive or member could not be read (damaged, truncated, encrypted, or unsupported)."""


class ExtractionBudget:
    """Uncompressed bytes and members taken out of one top-level archive, all nesting layers together."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.bytes_read = 0
        self.members = 0
        self.tripped: ArchiveBombError | None = None

    @property
    def bytes_left(self) -> int:
        return max(0, self.limits.max_total_bytes - self.bytes_read)

    def take_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            self.tripped = ArchiveBombError(
                f"the archive holds more than {self.limits.max_members:,} members (all nesting layers "
                "together), the limit for one archive; the rest were not listed. If this is genuine "
                "evidence, raise it with --max-archive-members and re-run the scan"
            )
            raise self.tripped

    def take_bytes(self, count: int) -> None:
        self.bytes_read += count
        if self.bytes_read > self.limits.max_total_bytes:
            self.tripped = ArchiveBombError(
                f"the archive expanded to more than {self.limits.max_total_bytes:,} bytes (all nesting "
                "layers together), the limit for one archive; reading stopped. If this is genuine "
                "evidence, raise it with --max-archive-bytes and re-run the scan"
            )
            raise self.tripped


def too_expanded(produced: int, compressed: int, limits: ArchiveLimits) -> bool:
    # Below ratio_min_size any ratio is allowed: small text files compress 1000:1 legitimately.
    return produced > limits.ratio_min_size and produced > max(compressed, 1) * limits.max_ratio


@dataclass
class RatioScope:
    """Output counted against one compressed size: a zip member's, or a whole solid archive's."""

    compressed: int
    produced: int = 0
    tripped: ArchiveBombError | None = None

    def take(self, count: int, limits: ArchiveLimits) -> None:
        self.produced += count
        if too_expanded(self.produced, self.compressed, limits):
            self.tripped = ArchiveBombError(
                f"expands more than {limits.max_ratio:g}:1 ({self.produced:,} bytes out of "
                f"{self.compressed:,} compressed), a likely zip bomb; reading stopped. If this is genuine "
                "evidence, raise it with --max-archive-ratio and re-run the scan"
            )
            raise self.tripped


_STALE_STREAM = (
    "member stream used after the archive moved on to the next member; read each member before asking "
    "for the next one"
)


def stop_if_tripped(budget: ExtractionBudget, ratio: RatioScope | None = None) -> None:
    """Raise again, at archive level, a limit a member stream tripped: the archive is read no further."""
    for tripped in (budget.tripped, ratio.tripped if ratio else None):
        if tripped is not None:
            raise tripped


class Cursor:
    """Which member a sequential archive (compressed tar, 7z, RAR) is at.

    Those formats hand out a member's bytes only while the archive sits on that member; a stream kept
    from earlier would silently read the next member's bytes, so it is stopped with a clear error.
    """

    def __init__(self) -> None:
        self.position = -1

    def at(self, position: int) -> bool:
        return self.position == position

    def require(self, position: int) -> None:
        if self.position != position:
            raise ArchiveReadError(_STALE_STREAM)


def refusal(size: int | None, compressed: int | None, budget: ExtractionBudget) -> str | None:
    """Why a member is refused on its declared sizes alone, before a byte is decompressed; None if not."""
    limits = budget.limits
    if size is None:
        return None
    if size > budget.bytes_left:
        return (
            f"not read: declares {size:,} bytes, more than the {budget.bytes_left:,} bytes left of this "
            "archive's extraction budget; raise it with --max-archive-bytes to read it"
        )
    if compressed is not None and too_expanded(size, compressed, limits):
        return (
            f"not read: declares {size:,} bytes from {compressed:,} compressed "
            f"({size / max(compressed, 1):,.0f}:1, limit {limits.max_ratio:g}:1), a likely zip bomb; "
            "raise it with --max-archive-ratio to read it"
        )
    return None


DAMAGED = "the archive is damaged, truncated or not what its header says"


@contextmanager
def reading(action: str, likely_cause: str = DAMAGED) -> Iterator[None]:
    """Turn whatever a format library raises on damaged input into an `ArchiveReadError`."""
    try:
        yield
    except HimayaError:
        raise
    except Exception as exc:  # hostile input reaches library code paths that raise anything
        # libarchive's ArchiveError carries its bare message in `msg`; str() adds C pointers and codes.
        detail = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ArchiveReadError(f"{action} failed ({type(exc).__name__}: {detail}); {likely_cause}") from exc


class MeteredReader(io.RawIOBase, BinaryIO):
    """Reads a decompressed stream while counting against the limits. A tripped limit stays tripped."""

    def __init__(
        self,
        inner: Readable,
        limits: ArchiveLimits,
        budget: ExtractionBudget | None,
        ratio: RatioScope | None,
        *,
        is_current: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self._inner = inner
        self._limits = limits
        self._budget = budget
        self._ratio = ratio
        self._is_current = is_current
        self._tripped: ArchiveBombError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._tripped is not None:
            raise self._tripped
        if self._is_current is not None and not self._is_current():
            raise ArchiveReadError(_STALE_STREAM)
        view = memoryview(buffer).cast("B")
        with reading("reading the member"):
            data = self._inner.read(len(view))
        count = len(data)
        view[:count] = data
        try:
            if self._ratio is not None:
                self._ratio.take(count, self._limits)
            if self._budget is not None:
                self._budget.take_bytes(count)
        except ArchiveBombError as exc:
            self._tripped = exc
            raise
        return count

    def close(self) -> None:
        if not self.closed:
            # Closing a broken decompressor must not hide the error that broke it.
            with suppress(Exception):
                self._inner.close()
        super().close()


def metered(
    inner: Readable,
    limits: ArchiveLimits,
    budget: ExtractionBudget | None,
    ratio: RatioScope | None,
    *,
    is_current: Callable[[], bool] | None = None,
) -> BinaryIO:
    """A buffered reader over `inner` that enforces the limits; what `FileEntry.open` returns."""
    raw = MeteredReader(inner, limits, budget, ratio, is_current=is_current)
    return io.BufferedReader(raw, buffer_size=READ_SIZE)
