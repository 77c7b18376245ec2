"""Reproducible archive writers for the demo: fixed member dates, owners and modes, no OS-dependent bytes."""

from __future__ import annotations

import gzip
import io
import tarfile
import warnings
import zipfile
from collections.abc import Iterable

FIXED_TIME = 1_704_067_200  # 2024-01-01T00:00:00Z: every demo file, folder and archive member carries it
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, wherever the demo is built, so the bytes do not depend on the OS
    info.external_attr = 0o100644 << 16
    return info


def zip_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # repeated names are the point
        for name, data in members:
            archive.writestr(_zip_info(name), data)
    return buffer.getvalue()


def bomb_zip(size: int) -> bytes:
    """One member, `zeros.bin`, of `size` zero bytes: deflate packs zeros about 1000:1."""
    # Streamed in 1 MiB chunks: the zeros never exist in memory at once, only their ~0.1% compressed.
    buffer = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buffer, "w") as archive, archive.open(_zip_info("zeros.bin"), "w") as member:
        full, rest = divmod(size, len(chunk))
        for _ in range(full):
            member.write(chunk)
        member.write(chunk[:rest])
    return buffer.getvalue()


def tar_gz(members: Iterable[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), FIXED_TIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    # gzip stores a name and a time in its header; both fixed, or every build would differ.
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=FIXED_TIME, compresslevel=9) as stream:
        stream.write(raw.getvalue())
    return packed.getvalue()
