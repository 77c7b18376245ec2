"""LUKS2 volumes as a dfVFS layer (dfVFS's own LUKSDE layer, libluksde, opens LUKS1 only).

Four parts:

* `read_header`: the binary header (primary, or the secondary copy when the primary is damaged) and its
  JSON area, reduced to what reading the payload needs (`Luks2Header`, `Luks2Segment`). Only one
  `crypt` segment in `aes-xts-plain64` is supported (`SUPPORTED_ENCRYPTION`); anything else is refused
  with `Luks2UnsupportedError` before a password is tried.
* `derive_volume_key`: the password opens a key slot through `cryptsetup luksDump --dump-volume-key`,
  run on a private copy of the header region (both header copies and the key-slot area) so that a
  volume inside a partition of an E01 works the same as a plain file. The password goes in on stdin,
  never on a command line; the copy lives in a 0700 temporary folder removed before returning; the
  volume key stays in memory (cached per process, `forget_volume_keys` drops the cache).
* `Luks2Reader`: the decrypted payload as a seekable file object. AES-XTS with the IV cryptsetup uses
  for `plain64`: the number of the 512-byte sector where an encryption sector starts, plus the segment's
  `iv_tweak` (also in 512-byte units), little-endian. For a 4096-byte encryption sector that is 0, 8,
  16, ... (dm-crypt without `iv_large_sectors`, which LUKS2 does not set). Sectors are decrypted up to
  1 MiB per batch: one AES-ECB pass for the tweaks, one for the data, the GF(2^128) tweak steps in numpy.
* dfVFS integration: path-spec type `HIMAYA_LUKS2` (a parent, no properties, so dfVFS's JSON serializer
  writes it as it is and reads it back once `register()` ran), a file-io class, a resolver helper and
  the `password` credential, read from `dfvfs.resolver.resolver.Resolver.key_chain` as dfVFS's LUKSDE
  layer does. Nothing secret is ever put on a path spec, so a serialized spec never holds a password.

No secret (password, volume key) is written to a file, a log, an exception message or a repr. Python
cannot wipe `bytes`, so the volume key and the password remain in process memory until collected.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from dfvfs.credentials import credentials as dfvfs_credentials
from dfvfs.credentials import manager as dfvfs_credentials_manager
from dfvfs.file_io import file_io as dfvfs_file_io
from dfvfs.lib import errors as dfvfs_errors
from dfvfs.path import factory as dfvfs_path_factory
from dfvfs.path import path_spec as dfvfs_path_spec
from dfvfs.resolver import resolver as dfvfs_resolver
from dfvfs.resolver_helpers import manager as dfvfs_resolver_manager
from dfvfs.resolver_helpers import resolver_helper as dfvfs_resolver_helper
from dfvfs.serializer import json_serializer as dfvfs_json

from himaya.errors import EvidenceError

TYPE_INDICATOR: Final = "HIMAYA_LUKS2"
SUPPORTED_ENCRYPTION: Final = frozenset({"aes-xts-plain64"})
CREDENTIAL_PASSWORD: Final = "password"  # noqa: S105  (the name of dfVFS's credential, not a secret)

LUKS2_MAGIC: Final = b"LUKS\xba\xbe"
LUKS2_SECONDARY_MAGIC: Final = b"SKUL\xba\xbe"
BINARY_HEADER_SIZE: Final = 4096
# The sizes one header copy (binary header + JSON area) may have: 16 KiB to 4 MiB.
VALID_HEADER_SIZES: Final = tuple(16384 << shift for shift in range(9))
MAX_KEYSLOTS_SIZE: Final = 128 * 1024 * 1024  # cryptsetup's limit for the key-slot area
SECTOR: Final = 512  # the unit of plain64 IVs and of iv_tweak
DECRYPT_BATCH: Final = 1024 * 1024  # bytes decrypted per batch by a large read
CRYPTSETUP_TIMEOUT_S: Final = 600.0  # argon2 with a large memory cost on a slow machine

# magic, version, hdr_size, seqid, label, csum_alg, salt, uuid, subsystem, hdr_offset, padding, csum
_BINARY_HEADER = struct.Struct(">6sHQQ48s32s64s40s48sQ184s64s")
_CHECKSUM_OFFSET: Final = 448
_CHECKSUM_FIELD_SIZE: Final = 64


class Luks2Error(EvidenceError):
    """A LUKS2 volume could not be opened; the message says why and what to do."""


class NotLuks2Error(Luks2Error):
    """The data is not a LUKS2 volume, or its header is damaged beyond use."""


class Luks2UnsupportedError(Luks2Error):
    """A LUKS2 volume this reader cannot decrypt (cipher, segment layout, interrupted re-encryption)."""


class Luks2PasswordError(Luks2Error):
    """No password was given for the volume, or the one given opens no key slot."""


class Luks2ToolError(Luks2Error):
    """cryptsetup is missing, or failed for a reason other than a wrong password."""


class Readable(Protocol):
    """What the header reader and the decrypting reader need from the layer underneath."""

    def seek(self, offset: int, whence: int = ..., /) -> object: ...

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class Luks2Segment:
    """The encrypted payload: where it starts, how long it is (None: to the end of the device)."""

    offset: int
    size: int | None  # None when the JSON says "dynamic"
    encryption: str
    sector_size: int
    iv_tweak: int  # in 512-byte sectors, added to the IV of every encryption sector


@dataclass(frozen=True)
class Luks2Header:
    uuid: str
    label: str
    header_size: int  # one header copy: binary header + JSON area
    sequence_id: int
    keyslots_size: int
    keyslot_count: int
    segment: Luks2Segment
    from_secondary: bool = False  # the primary copy was damaged and the secondary one was used

    @property
    def metadata_size(self) -> int:
        """Bytes from the start of the volume that hold both header copies and the key-slot area."""
        return 2 * self.header_size + self.keyslots_size

    def payload_size(self, volume_size: int) -> int:
        """Bytes of decrypted payload on a volume (partition, image) of `volume_size` bytes."""
        segment = self.segment
        available = max(0, volume_size - segment.offset)
        size = available if segment.size is None else min(segment.size, available)
        return size - size % segment.sector_size


# --------------------------------------------------------------------------------------------------
# Header


def _read_at(file_object: Readable, offset: int, size: int) -> bytes:
    file_object.seek(offset, os.SEEK_SET)
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = file_object.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def is_luks2(file_object: Readable) -> bool:
    """True when the data starts with a LUKS2 header's magic and version (nothing else is checked).

    Moves the file object's position (dfVFS readers seek before every read, so that is harmless there).
    """
    try:
        start = _read_at(file_object, 0, 8)
    except OSError:
        return False
    return start[:6] == LUKS2_MAGIC and start[6:8] == b"\x00\x02"


def _text(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _uint(value: object, what: str) -> int:
    """LUKS2 JSON writes 64-bit numbers as decimal strings, small ones as JSON numbers."""
    if isinstance(value, bool):
        raise ValueError(f"{what} is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    else:
        raise ValueError(f"{what} is not a number")
    if number < 0 or number >= 1 << 64:
        raise ValueError(f"{what} is out of range")
    return number


@dataclass(frozen=True)
class _HeaderCopy:
    sequence_id: int
    header_size: int
    label: str
    uuid: str
    metadata: dict[str, Any]


def _parse_copy(data: bytes, offset: int, magic: bytes) -> _HeaderCopy:
    """One header copy read at `offset`; ValueError says what is wrong with it."""
    if len(data) < BINARY_HEADER_SIZE:
        raise ValueError("the header is truncated")
    (found_magic, version, header_size, sequence_id, label, csum_alg, _salt, uuid, _subsystem,
     header_offset, _padding, checksum) = _BINARY_HEADER.unpack_from(data)  # fmt: skip
    if found_magic != magic:
        raise ValueError("no LUKS2 magic")
    if version != 2:
        raise ValueError(f"version {version}")
    if header_size not in VALID_HEADER_SIZES:
        raise ValueError(f"invalid header size {header_size}")
    if header_offset != offset:
        raise ValueError(f"header says it is at offset {header_offset}, found at {offset}")
    if len(data) < header_size:
        raise ValueError("the JSON area is truncated")
    algorithm = _text(csum_alg)
    try:
        digest = hashlib.new(algorithm)
    except (ValueError, TypeError):
        raise ValueError(f"unknown checksum algorithm {algorithm!r}") from None
    blanked = bytearray(data[:header_size])
    blanked[_CHECKSUM_OFFSET : _CHECKSUM_OFFSET + _CHECKSUM_FIELD_SIZE] = bytes(_CHECKSUM_FIELD_SIZE)
    digest.update(blanked)
    if not hmac.compare_digest(digest.digest(), checksum[: digest.digest_size]):
        raise ValueError("checksum mismatch")
    area = data[BINARY_HEADER_SIZE:header_size].split(b"\x00", 1)[0]
    try:
        metadata = json.loads(area.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the JSON area is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise ValueError("the JSON area is not an object")
    return _HeaderCopy(sequence_id, header_size, _text(label), _text(uuid), metadata)


def _segment(metadata: dict[str, Any], uuid: str) -> Luks2Segment:
    where = f"LUKS2 volume {uuid}"
    config = metadata.get("config")
    requirements = config.get("requirements", {}) if isinstance(config, dict) else {}
    mandatory = requirements.get("mandatory", []) if isinstance(requirements, dict) else []
    if mandatory:
        names = ", ".join(str(name) for name in mandatory)
        raise Luks2UnsupportedError(
            f"{where}: its header requires {names} (an interrupted re-encryption?), which this reader "
            "does not support; finish it with cryptsetup on a working copy of the evidence and add that"
        )
    segments = metadata.get("segments")
    if not isinstance(segments, dict):
        raise NotLuks2Error(f"{where}: the header has no segment list; the header is damaged")
    active = {
        key: value
        for key, value in segments.items()
        if isinstance(value, dict)
        and not any(str(flag).startswith("backup-") for flag in value.get("flags", []) or [])
    }
    if len(active) != 1:
        raise Luks2UnsupportedError(
            f"{where}: {len(active)} data segments; only volumes with one encrypted segment are "
            "supported (several segments mean a re-encryption was interrupted): open it with cryptsetup "
            "on a working copy"
        )
    (segment,) = active.values()
    kind = segment.get("type")
    if kind != "crypt":
        raise Luks2UnsupportedError(
            f"{where}: data segment of type {kind!r}; only 'crypt' segments are supported"
        )
    if segment.get("integrity"):
        raise Luks2UnsupportedError(
            f"{where}: authenticated encryption (dm-integrity) is not supported; open it with "
            "cryptsetup on a working copy"
        )
    encryption = str(segment.get("encryption"))
    if encryption not in SUPPORTED_ENCRYPTION:
        supported = ", ".join(sorted(SUPPORTED_ENCRYPTION))
        raise Luks2UnsupportedError(
            f"{where}: encryption {encryption!r} is not supported (supported: {supported}); open it "
            "with cryptsetup on a working copy and add the decrypted volume as evidence"
        )
    try:
        offset = _uint(segment.get("offset"), "segment offset")
        raw_size = segment.get("size")
        size = None if raw_size == "dynamic" else _uint(raw_size, "segment size")
        sector_size = _uint(segment.get("sector_size", SECTOR), "segment sector size")
        iv_tweak = _uint(segment.get("iv_tweak", "0"), "segment iv_tweak")
    except ValueError as error:
        raise NotLuks2Error(f"{where}: {error}; the header is damaged") from None
    if sector_size not in (512, 1024, 2048, 4096):
        raise Luks2UnsupportedError(f"{where}: encryption sector size {sector_size} is not supported")
    return Luks2Segment(offset, size, encryption, sector_size, iv_tweak)


def read_header(file_object: Readable) -> Luks2Header:
    """The LUKS2 header at the start of `file_object` (a partition, an image, any seekable reader).

    Raises NotLuks2Error (not LUKS2, LUKS1, both header copies damaged) and Luks2UnsupportedError.
    """
    start = _read_at(file_object, 0, BINARY_HEADER_SIZE)
    if start[:6] != LUKS2_MAGIC:
        raise NotLuks2Error("not a LUKS2 volume: no LUKS header at its start")
    version = int.from_bytes(start[6:8], "big")
    if version == 1:
        raise NotLuks2Error(
            "this is a LUKS1 volume, not LUKS2: open it with dfVFS's LUKSDE layer (libluksde)"
        )
    if version != 2:
        raise NotLuks2Error(f"LUKS header version {version} is not supported (LUKS2 only)")

    problems: list[str] = []
    copies: list[tuple[_HeaderCopy, bool]] = []
    primary_size = int.from_bytes(start[8:16], "big")
    try:
        if primary_size not in VALID_HEADER_SIZES:
            raise ValueError(f"invalid header size {primary_size}")
        copies.append((_parse_copy(_read_at(file_object, 0, primary_size), 0, LUKS2_MAGIC), False))
    except ValueError as error:
        problems.append(f"primary header: {error}")
    secondary_offsets = [primary_size] if primary_size in VALID_HEADER_SIZES else list(VALID_HEADER_SIZES)
    for offset in secondary_offsets:
        probe = _read_at(file_object, offset, 16)
        if probe[:6] != LUKS2_SECONDARY_MAGIC:
            continue
        size = int.from_bytes(probe[8:16], "big")
        try:
            data = _read_at(file_object, offset, size if size in VALID_HEADER_SIZES else BINARY_HEADER_SIZE)
            copies.append((_parse_copy(data, offset, LUKS2_SECONDARY_MAGIC), True))
        except ValueError as error:
            problems.append(f"secondary header: {error}")
        break
    if not copies:
        details = "; ".join(problems) or "no usable header copy"
        raise NotLuks2Error(
            f"LUKS2 header damaged ({details}); try 'cryptsetup repair' on a working copy of the evidence"
        )
    # The newest valid copy wins, the primary on a tie (as cryptsetup does).
    best, from_secondary = max(copies, key=lambda item: (item[0].sequence_id, not item[1]))
    metadata = best.metadata
    config = metadata.get("config")
    keyslots = metadata.get("keyslots")
    try:
        if not isinstance(config, dict) or not isinstance(keyslots, dict):
            raise ValueError("the JSON area has no config or keyslots object")
        keyslots_size = _uint(config.get("keyslots_size"), "keyslots_size")
    except ValueError as error:
        raise NotLuks2Error(f"LUKS2 volume {best.uuid}: {error}; the header is damaged") from None
    if keyslots_size > MAX_KEYSLOTS_SIZE:
        raise NotLuks2Error(f"LUKS2 volume {best.uuid}: key-slot area of {keyslots_size} bytes; damaged")
    segment = _segment(metadata, best.uuid)
    return Luks2Header(
        uuid=best.uuid,
        label=best.label,
        header_size=best.header_size,
        sequence_id=best.sequence_id,
        keyslots_size=keyslots_size,
        keyslot_count=len(keyslots),
        segment=segment,
        from_secondary=from_secondary,
    )


# --------------------------------------------------------------------------------------------------
# Volume key


_KEY_LINE = re.compile(r"^(?:MK dump|Volume key):(.*)$")
_HEX_BYTE = re.compile(r"\b[0-9a-fA-F]{2}\b")


def _parse_volume_key(stdout: str) -> bytes | None:
    """The key from `luksDump --dump-volume-key` output ("MK dump:" then indented rows of hex bytes)."""
    found: list[str] | None = None
    for line in stdout.splitlines():
        if found is None:
            match = _KEY_LINE.match(line)
            if match:
                found = _HEX_BYTE.findall(match.group(1))
        elif line[:1].isspace():
            found += _HEX_BYTE.findall(line)
        else:
            break
    return bytes.fromhex("".join(found)) if found else None


def _redact(text: str, secret: bytes) -> str:
    if secret:
        text = text.replace(secret.decode("utf-8", "replace"), "[redacted]")
    return text.strip()


def derive_volume_key(
    file_object: Readable,
    header: Luks2Header,
    password: str | bytes,
    *,
    cryptsetup: str = "cryptsetup",
    temp_dir: str | None = None,
) -> bytes:
    """The volume key that `password` unlocks, derived by cryptsetup from a private copy of the header.

    Raises Luks2PasswordError (wrong password), Luks2ToolError (cryptsetup missing or failing) and
    NotLuks2Error (the header region is truncated).
    """
    where = f"LUKS2 volume {header.uuid}"
    secret = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    if not secret:
        raise Luks2PasswordError(f"{where}: the password is empty; give the volume's password")
    executable = shutil.which(cryptsetup)
    if executable is None:
        raise Luks2ToolError(
            f"{where}: cryptsetup is not installed; install it (Debian/Ubuntu: apt-get install "
            "cryptsetup-bin) to open LUKS2 volumes"
        )
    folder = tempfile.mkdtemp(prefix="himaya-luks2-", dir=temp_dir)  # mode 0700
    try:
        descriptor, path = tempfile.mkstemp(suffix=".hdr", dir=folder)  # mode 0600
        with os.fdopen(descriptor, "wb") as copy:
            file_object.seek(0, os.SEEK_SET)
            left = header.metadata_size
            while left > 0:
                chunk = file_object.read(min(left, DECRYPT_BATCH))
                if not chunk:
                    raise NotLuks2Error(
                        f"{where}: the volume ends inside its header ({header.metadata_size - left} of "
                        f"{header.metadata_size} bytes); the image is truncated"
                    )
                copy.write(chunk)
                left -= len(chunk)
        command = [
            executable,
            "luksDump",
            "--dump-volume-key",
            "--batch-mode",
            "--disable-locks",
            "--disable-external-tokens",
            "--key-file",
            "-",
            path,
        ]
        try:
            result = subprocess.run(
                command,
                input=secret,
                capture_output=True,
                env={**os.environ, "LC_ALL": "C"},
                timeout=CRYPTSETUP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            # `from None`: the TimeoutExpired holds what cryptsetup printed so far.
            raise Luks2ToolError(
                f"{where}: cryptsetup took longer than {CRYPTSETUP_TIMEOUT_S:.0f} s to try the password "
                "(a very costly key derivation?); retry on a machine with more memory"
            ) from None
        except OSError as error:
            raise Luks2ToolError(f"{where}: cryptsetup could not be run: {error.strerror}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    if result.returncode == 2:
        raise Luks2PasswordError(
            f"{where}: the password does not open any key slot; check it (keyboard layout, trailing "
            "spaces) or give another one"
        )
    if result.returncode != 0:
        message = _redact(result.stderr.decode("utf-8", "replace"), secret) or "no message"
        raise Luks2ToolError(f"{where}: cryptsetup failed (exit {result.returncode}): {message}")
    key = _parse_volume_key(result.stdout.decode("ascii", "replace"))
    del result
    if key is None:
        raise Luks2ToolError(f"{where}: cryptsetup did not print a volume key (unexpected output format)")
    if len(key) not in (32, 64):
        raise Luks2UnsupportedError(f"{where}: a {len(key) * 8}-bit XTS key is not supported (256 or 512)")
    return key


# Volume keys derived in this process: (parent comparable, keyed digest of the password) -> key. The
# digest key is random per process, so the cache holds no password, and a different password for the same
# volume is tried with cryptsetup again rather than served from the cache.
_VOLUME_KEYS: dict[tuple[str, bytes], bytes] = {}
_CACHE_SALT = os.urandom(32)
_CACHE_LOCK = threading.Lock()


def _cache_key(parent_comparable: str, password: str | bytes) -> tuple[str, bytes]:
    secret = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    return parent_comparable, hmac.digest(_CACHE_SALT, secret, "sha256")


def forget_volume_keys() -> None:
    """Drops every volume key cached by this process."""
    with _CACHE_LOCK:
        _VOLUME_KEYS.clear()


# --------------------------------------------------------------------------------------------------
# Decryption

_U64 = np.uint64


class _XtsDecryptor:
    """AES-XTS (IEEE 1619) over whole data units, many units per call."""

    def __init__(self, key: bytes) -> None:
        half = len(key) // 2
        # Two ECB contexts: ECB keeps no state between calls, so one context serves every call.
        self._data = Cipher(algorithms.AES(key[:half]), modes.ECB()).decryptor()  # noqa: S305
        self._tweak = Cipher(algorithms.AES(key[half:]), modes.ECB()).encryptor()  # noqa: S305

    def __repr__(self) -> str:
        return "_XtsDecryptor()"

    def decrypt(self, data: bytes, unit_size: int, first_tweak: int, tweak_step: int) -> bytes:
        """Decrypts len(data) // unit_size units; unit i uses the tweak first_tweak + i * tweak_step."""
        count = len(data) // unit_size
        blocks = unit_size // 16
        if count == 0:
            return b""
        numbers = np.zeros((count, 2), dtype="<u8")
        numbers[:, 0] = first_tweak + np.arange(count, dtype=_U64) * _U64(tweak_step)
        encrypted = np.frombuffer(self._tweak.update(numbers.tobytes()), dtype="<u8").reshape(count, 2)
        # Tweak of block j of a unit: E(tweak) times alpha^j in GF(2^128), little-endian 128-bit numbers
        # kept as (low, high) 64-bit halves. Blocks [done, done + step) are blocks [done - step, done)
        # times alpha^step, step <= 32: a shift, and the bits shifted out folded back with 0x87.
        low = np.empty((count, blocks), dtype=_U64)
        high = np.empty((count, blocks), dtype=_U64)
        low[:, 0] = encrypted[:, 0]
        high[:, 0] = encrypted[:, 1]
        done = 1
        while done < blocks:
            step = min(done, 32, blocks - done)
            shift, back = _U64(step), _U64(64 - step)
            source_low = low[:, done - step : done]
            source_high = high[:, done - step : done]
            carried = source_high >> back
            target_low = low[:, done : done + step]
            np.left_shift(source_low, shift, out=target_low)
            target_low ^= carried ^ (carried << _U64(1)) ^ (carried << _U64(2)) ^ (carried << _U64(7))
            target_high = high[:, done : done + step]
            np.left_shift(source_high, shift, out=target_high)
            target_high |= source_low >> back
            done += step
        tweaks = np.empty((count, blocks, 2), dtype=_U64)
        tweaks[..., 0] = low
        tweaks[..., 1] = high
        size = count * unit_size
        masked = np.frombuffer(data, dtype="<u8", count=size // 8).reshape(count, blocks, 2) ^ tweaks
        output = bytearray(size + 15)  # update_into wants room for one more block
        self._data.update_into(masked.data.cast("B"), output)
        plain = np.frombuffer(output, dtype="<u8", count=size // 8).reshape(count, blocks, 2)
        np.bitwise_xor(plain, tweaks, out=plain)
        return bytes(memoryview(output)[:size])


class Luks2Reader:
    """The decrypted payload of a LUKS2 volume, readable at any offset.

    `parent` is the volume (partition, image); it may be shared with other readers, so every read seeks
    it first. The reader never writes and never holds the parent's position between calls.
    """

    def __init__(self, parent: Readable, header: Luks2Header, volume_key: bytes, volume_size: int) -> None:
        segment = header.segment
        if segment.encryption not in SUPPORTED_ENCRYPTION:
            raise Luks2UnsupportedError(f"LUKS2 volume {header.uuid}: {segment.encryption!r} not supported")
        self._parent = parent
        self._payload_offset = segment.offset
        self._sector_size = segment.sector_size
        self._iv_step = segment.sector_size // SECTOR
        self._iv_tweak = segment.iv_tweak
        self._size = header.payload_size(volume_size)
        self._batch_sectors = max(1, DECRYPT_BATCH // segment.sector_size)
        self._xts = _XtsDecryptor(volume_key)
        self._offset = 0

    def __repr__(self) -> str:
        return f"Luks2Reader(size={self._size}, sector_size={self._sector_size})"

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to `size` decrypted bytes from `offset` (fewer at the end of the payload)."""
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        end = min(offset + size, self._size)
        if offset >= end:
            return b""
        sector_size = self._sector_size
        first = offset // sector_size
        stop = -(-end // sector_size)
        parts: list[bytes] = []
        sector = first
        while sector < stop:
            count = min(self._batch_sectors, stop - sector)
            wanted = count * sector_size
            encrypted = _read_at(self._parent, self._payload_offset + sector * sector_size, wanted)
            whole = len(encrypted) - len(encrypted) % sector_size
            if whole:
                tweak = sector * self._iv_step + self._iv_tweak
                parts.append(self._xts.decrypt(encrypted[:whole], sector_size, tweak, self._iv_step))
            if whole < wanted:  # the parent ended early (truncated image): a short read
                break
            sector += count
        data = b"".join(parts)
        skip = offset - first * sector_size
        return data[skip : skip + (end - offset)]

    # File-like interface (dfVFS's Luks2File keeps its own offset and uses read_at).

    def read(self, size: int | None = None, /) -> bytes:
        if size is None or size < 0:
            size = max(0, self._size - self._offset)
        data = self.read_at(self._offset, size)
        self._offset += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        if whence == os.SEEK_CUR:
            offset += self._offset
        elif whence == os.SEEK_END:
            offset += self._size
        elif whence != os.SEEK_SET:
            raise OSError(f"unsupported whence {whence}")
        if offset < 0:
            raise OSError("negative offset")
        self._offset = offset
        return offset

    def tell(self) -> int:
        return self._offset

    def get_offset(self) -> int:
        return self._offset

    def get_size(self) -> int:
        return self._size


# --------------------------------------------------------------------------------------------------
# dfVFS layer


class Luks2PathSpec(dfvfs_path_spec.PathSpec):  # type: ignore[misc]  # dfVFS is untyped
    """A LUKS2 volume's decrypted payload; the parent is the volume (OS file, partition, EWF...).

    It has no properties: the password is a key-chain credential, never an attribute, so it is never
    serialized with the spec.
    """

    TYPE_INDICATOR = TYPE_INDICATOR

    def __init__(self, parent: Any = None, **kwargs: Any) -> None:
        if not parent:
            raise ValueError("Missing parent value.")
        super().__init__(parent=parent, **kwargs)


class Luks2Credentials(dfvfs_credentials.Credentials):  # type: ignore[misc]
    CREDENTIALS = frozenset([CREDENTIAL_PASSWORD])
    TYPE_INDICATOR = TYPE_INDICATOR


class Luks2File(dfvfs_file_io.FileIO):  # type: ignore[misc]
    """dfVFS file-io object for `HIMAYA_LUKS2` path specs: the decrypted payload."""

    def __init__(self, resolver_context: Any, path_spec: Any) -> None:
        super().__init__(resolver_context, path_spec)
        self._reader: Luks2Reader | None = None
        self._current_offset = 0

    def __repr__(self) -> str:
        return f"Luks2File(open={self._reader is not None})"

    def _Open(self) -> None:  # dfVFS interface
        path_spec = self._path_spec
        if not path_spec.HasParent():
            raise dfvfs_errors.PathSpecError("Unsupported path specification without parent.")
        parent = dfvfs_resolver.Resolver.OpenFileObject(
            path_spec.parent, resolver_context=self._resolver_context
        )
        header = read_header(parent)
        password = dfvfs_resolver.Resolver.key_chain.GetCredential(path_spec, CREDENTIAL_PASSWORD)
        if not password:
            raise Luks2PasswordError(
                f"LUKS2 volume {header.uuid} is encrypted and no password was given for it; set one "
                "with dfvfs Resolver.key_chain.SetCredential(spec, 'password', ...)"
            )
        cache_key = _cache_key(path_spec.parent.comparable, password)
        with _CACHE_LOCK:
            volume_key = _VOLUME_KEYS.get(cache_key)
        if volume_key is None:
            volume_key = derive_volume_key(parent, header, password)
            with _CACHE_LOCK:
                _VOLUME_KEYS[cache_key] = volume_key
        self._reader = Luks2Reader(parent, header, volume_key, parent.get_size())
        self._current_offset = 0

    def _Close(self) -> None:
        # The parent belongs to the resolver context's cache: it is not closed here.
        self._reader = None

    def _opened(self) -> Luks2Reader:
        if not self._is_open or self._reader is None:
            raise OSError("Not opened.")
        return self._reader

    def read(self, size: int | None = None) -> bytes:
        reader = self._opened()
        if size is None or size < 0:
            size = max(0, reader.size - self._current_offset)
        data = reader.read_at(self._current_offset, size)
        self._current_offset += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> None:
        reader = self._opened()
        if whence == os.SEEK_CUR:
            offset += self._current_offset
        elif whence == os.SEEK_END:
            offset += reader.size
        elif whence != os.SEEK_SET:
            raise OSError("Unsupported whence.")
        if offset < 0:
            raise OSError("Invalid offset value less than zero.")
        self._current_offset = offset

    def get_offset(self) -> int:
        self._opened()
        return self._current_offset

    def get_size(self) -> int:
        return self._opened().size


class Luks2ResolverHelper(dfvfs_resolver_helper.ResolverHelper):  # type: ignore[misc]
    TYPE_INDICATOR = TYPE_INDICATOR

    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> Luks2File:
        return Luks2File(resolver_context, path_spec)


_REGISTER_LOCK = threading.Lock()


def register() -> None:
    """Makes dfVFS know `HIMAYA_LUKS2` (path spec, file-io, credential). Safe to call any number of times."""
    with _REGISTER_LOCK:
        # Each registry raises KeyError when the type is already there.
        with contextlib.suppress(KeyError):
            dfvfs_path_factory.Factory.RegisterPathSpec(Luks2PathSpec)
        with contextlib.suppress(KeyError):
            dfvfs_resolver_manager.ResolverHelperManager.RegisterHelper(Luks2ResolverHelper())
        with contextlib.suppress(KeyError):
            dfvfs_credentials_manager.CredentialsManager.RegisterCredentials(Luks2Credentials())


def to_json(spec: Any) -> str:
    """A path-spec chain as dfVFS's JSON (the serializer handles `HIMAYA_LUKS2` as any other type)."""
    register()
    return str(dfvfs_json.JsonPathSpecSerializer.WriteSerialized(spec))


def from_json(text: str) -> Any:
    """The path-spec chain back from `to_json` (or WriteSerialized); registers `HIMAYA_LUKS2` first."""
    register()
    return dfvfs_json.JsonPathSpecSerializer.ReadSerialized(text)
