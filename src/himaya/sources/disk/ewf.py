"""EWF (E01/Ex01) acquisitions: what the image says about itself, and whether its content still matches.

An E01 carries the examiner's case number, notes and acquisition date, and the MD5 (often SHA1) of the
media computed when it was acquired. Reading the whole image again and comparing gives the verification
a court expects before any finding from it is relied on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyewf

CHUNK = 4 * 1024 * 1024

# Header values worth a custody record, as libewf names them.
HEADER_FIELDS = (
    "case_number", "evidence_number", "description", "examiner_name", "notes", "acquiry_date",
    "system_date", "acquiry_operating_system", "acquiry_software", "acquiry_software_version", "model",
    "serial_number", "device_label",
)  # fmt: skip


@dataclass
class EwfMetadata:
    segments: list[str]
    media_size: int
    header: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)  # "md5" / "sha1" → lower-case hex


@dataclass
class EwfVerification:
    metadata: EwfMetadata
    computed: dict[str, str]
    bytes_read: int
    seconds: float
    error: str | None = None

    @property
    def mismatches(self) -> list[str]:
        return [
            name
            for name, value in self.metadata.stored.items()
            if name in self.computed and self.computed[name] != value
        ]

    @property
    def verified(self) -> bool | None:
        """True when every stored hash matches, False on any mismatch or read error, None when none stored."""
        if self.error or self.mismatches:
            return False
        return True if self.metadata.stored else None

    def record(self) -> dict[str, Any]:
        return {
            "segments": [Path(segment).name for segment in self.metadata.segments],
            "media_size": self.metadata.media_size,
            "header": self.metadata.header,
            "stored": self.metadata.stored,
            "computed": self.computed,
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 1),
            "mismatches": self.mismatches,
            "error": self.error,
        }


def fast_decompression() -> bool:
    """Whether pyewf inflates with zlib. PyPI's wheels use libewf's own bit-by-bit inflate, about 20
    times slower on a compressed E01; `make setup` rebuilds pyewf with zlib (scripts/build-pyewf-zlib.sh)."""
    try:
        with open(pyewf.__file__, "rb") as module:
            return b"libz.so" in module.read()
    except (OSError, AttributeError, TypeError):
        return False


SLOW_PYEWF = (
    "this pyewf decompresses E01 images without zlib, about 20 times slower than it could; run "
    "'make setup' (or scripts/build-pyewf-zlib.sh .venv/bin/python) to rebuild it"
)


def _open(path: Path) -> tuple[Any, list[str]]:
    segments = [str(s) for s in pyewf.glob(str(path))]
    handle = pyewf.handle()
    handle.open(segments)
    return handle, segments


def read_metadata(path: Path) -> EwfMetadata:
    handle, segments = _open(path)
    try:
        header = {
            key: str(value).strip()
            for key, value in (handle.get_header_values() or {}).items()
            if key in HEADER_FIELDS and value not in (None, "")
        }
        stored = {
            str(name).lower(): str(value).lower()
            for name, value in (handle.get_hash_values() or {}).items()
            if str(name).lower() in ("md5", "sha1") and value
        }
        return EwfMetadata(
            segments=segments, media_size=int(handle.get_media_size()), header=header, stored=stored
        )
    finally:
        handle.close()


def verify(path: Path, on_progress: Callable[[int], None] | None = None) -> EwfVerification:
    """Reads the whole media and compares with the hashes stored at acquisition. Never raises for bad
    content: a read error is part of the result (a truncated or damaged image fails verification).

    Only the hashes the image stores are computed (MD5 always when any is stored; SHA1 when stored); an
    image that stores none is not read at all, since there would be nothing to compare with.
    """
    started = time.monotonic()
    try:
        metadata = read_metadata(path)
    except OSError as exc:
        return EwfVerification(EwfMetadata([str(path)], 0), {}, 0, time.monotonic() - started, str(exc))
    if not metadata.stored:
        return EwfVerification(metadata, {}, 0, time.monotonic() - started)
    hashers = {"md5": hashlib.md5()}  # noqa: S324 - what the acquisition stored
    if "sha1" in metadata.stored:
        hashers["sha1"] = hashlib.sha1()  # noqa: S324
    done = 0
    error: str | None = None
    try:
        handle, _ = _open(path)
        try:
            while done < metadata.media_size:
                data = handle.read(min(CHUNK, metadata.media_size - done))
                if not data:
                    error = f"the media ended after {done} of {metadata.media_size} bytes"
                    break
                for hasher in hashers.values():
                    hasher.update(data)
                done += len(data)
                if on_progress is not None:
                    on_progress(done)
        finally:
            handle.close()
    except OSError as exc:
        error = f"read error after {done} bytes: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}"
    computed = {} if error else {name: hasher.hexdigest() for name, hasher in hashers.items()}
    return EwfVerification(metadata, computed, done, time.monotonic() - started, error)
