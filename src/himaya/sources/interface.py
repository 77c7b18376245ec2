"""What every evidence source yields.

A `locator` is the unique, stable key of a file inside one evidence item. It names every container
layer and, for archive members, the member's index, so two members called `a.jpg` in the same zip stay
two files: `phone.zip!#3/DCIM/a.jpg`. The readable `path` drops the indices: `phone.zip!/DCIM/a.jpg`.
Locators are what makes a scan resumable: a file whose locator is already in the store is not redone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

LAYER_SEPARATOR = "!/"


def member_locator(container_locator: str, index: int, name: str) -> str:
    return f"{container_locator}!#{index}/{name}"


def member_path(container_path: str, name: str) -> str:
    return f"{container_path}{LAYER_SEPARATOR}{name}"


@dataclass(frozen=True)
class FileTimes:
    """Times a file system keeps besides the modification time (all UTC; None where it keeps none)."""

    accessed: datetime | None = None
    changed: datetime | None = None  # metadata change (inode / MFT record)
    created: datetime | None = None


@dataclass
class FileEntry:
    """One file found in evidence: on disk, or a member of an archive at any depth."""

    locator: str
    path: str
    size: int | None
    mtime: datetime | None
    depth: int  # 0 for files on disk, 1 for members of a top-level archive, ...
    open: Callable[[], BinaryIO] | None  # None when the entry cannot be read (see `error`)
    error: str | None = None  # set by the source when the entry itself is unreadable or refused
    compressed_size: int | None = None  # for archive members: lets the reader enforce ratio limits
    disk_path: str | None = None  # files on disk only: lets analyzers reopen and seek without spooling
    # Files inside disk images: the serialized dfVFS path spec that reaches the bytes through every layer.
    # `open()` then gives a seekable stream and may be called again, so nothing needs spooling.
    path_spec: str | None = None
    deleted: bool = False  # found through an unallocated directory entry (its content still readable)
    carved: bool = False  # recovered from unallocated space by its signature; `offset` says where
    offset: int | None = None  # carved files: byte offset in the volume
    times: FileTimes | None = None
