"""A disk image as evidence: the files of all its file systems, and their unallocated space to carve."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from himaya.sources.disk.layers import DiskLayout
from himaya.sources.disk.pathspec import spec_to_json
from himaya.sources.disk.walk import iter_files
from himaya.sources.folder import MEDIA_FOLDERS
from himaya.sources.interface import FileEntry

UNALLOCATED = "$Unallocated"


@dataclass(frozen=True)
class UnallocatedSpace:
    """The free space of one file system: carved pictures become its members (`p1/$Unallocated!/...`)."""

    locator: str
    volume_spec: str  # the volume holding the file system: carved offsets count from its start
    fs_spec: str  # the file system's root: says which blocks are free


def disk_entries(layout: DiskLayout) -> Iterator[FileEntry]:
    """Every file of every file system; within each, files in likely-media folders (DCIM, Pictures,
    WhatsApp, ...) come first, as in a folder scan, so that the first hits come early."""
    for fs in layout.filesystems:
        entries = list(iter_files(fs))
        entries.sort(key=lambda entry: not _in_media_folder(entry.path, len(fs.prefix)))
        yield from entries


def _in_media_folder(path: str, prefix_length: int) -> bool:
    folders = path[prefix_length:].split("/")[:-1]
    return any(folder.casefold() in MEDIA_FOLDERS for folder in folders)


def unallocated_spaces(layout: DiskLayout) -> list[UnallocatedSpace]:
    """One per file system read with The Sleuth Kit, which knows which blocks are free."""
    return [
        UnallocatedSpace(
            locator=f"{fs.prefix}/{UNALLOCATED}",
            volume_spec=spec_to_json(fs.volume_spec),
            fs_spec=spec_to_json(fs.root_spec),
        )
        for fs in layout.filesystems
        if fs.via_tsk
    ]
