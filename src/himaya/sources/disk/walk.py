"""Every file of a file system in a disk image, deleted ones included, as `FileEntry`s.

Through The Sleuth Kit (ext, FAT, exFAT, NTFS, ISO9660) the walk reads directories with pytsk3 itself
rather than through dfVFS's directory object, which skips deleted entries and names that are not UTF-8:
both matter here. A deleted entry is listed when its metadata is still unallocated (its content has not
been given to another file) and it has content; it opens by inode number, like every file here.

Locators are the readable path (`disk.E01/p2/Users/x/a.jpg`); a deleted entry's gets `#<inode>` added,
since a folder can hold a live and a deleted file of the same name, or several deleted ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytsk3
from dfvfs.lib import definitions as dfvfs_definitions
from dfvfs.lib import errors as dfvfs_errors
from dfvfs.path import factory as path_spec_factory
from dfvfs.resolver import resolver

from himaya.sources.disk.layers import FileSystemRoot
from himaya.sources.disk.pathspec import open_spec, spec_to_json
from himaya.sources.interface import FileEntry, FileTimes
from himaya.sources.names import printable, shown_name
from himaya.sources.timestamps import utc_from_timestamp

log = logging.getLogger(__name__)

MAX_DEPTH = 256  # a damaged or crafted directory tree may loop

# NTFS keeps its own metadata as files at the root ($MFT, $LogFile, $BadClus, ...). They hold no user
# content a reviewer looks for, and $BadClus:$Bad is a sparse stream the size of the volume.
_NTFS_SYSTEM_PREFIX = "$"
_ORPHANS = "$OrphanFiles"
_FAT_LABEL = b"(Volume Label Entry)"
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)

_DIR_META = (pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR)


def iter_files(fs: FileSystemRoot) -> Iterator[FileEntry]:
    """The files of `fs` in a stable order (directory by directory, names sorted)."""
    if fs.via_tsk:
        yield from _TskWalk(fs).files()
    else:
        yield from _dfvfs_files(fs)


def _opener(spec_json: str) -> Any:
    return lambda: open_spec(spec_json)


class _TskWalk:
    def __init__(self, fs: FileSystemRoot) -> None:
        self.fs = fs
        self.file_system = resolver.Resolver.OpenFileSystem(fs.root_spec)
        self.fs_info = self.file_system.GetFsInfo()
        self.ntfs = fs.fs_type == "NTFS"
        self.seen_dirs: set[int] = set()
        self.seen_locators: set[str] = set()

    def files(self) -> Iterator[FileEntry]:
        root = int(self.fs_info.info.root_inum)
        stack: list[tuple[int, list[str], bool, int]] = [(root, [], False, 0)]
        while stack:
            inode, parts, deleted_dir, depth = stack.pop()
            if inode in self.seen_dirs:
                continue
            self.seen_dirs.add(inode)
            subdirs: list[tuple[int, list[str], bool, int]] = []
            entries, problem = self._entries(inode)
            if problem is not None:
                yield self._unreadable_folder(parts, inode, problem)
            for entry in entries:
                name, name_problems, meta, name_info, deleted = entry
                if depth == 0 and self.ntfs and name.startswith(_NTFS_SYSTEM_PREFIX) and name != _ORPHANS:
                    continue
                here = [*parts, name]
                is_dir = (meta is not None and meta.type in _DIR_META) or (
                    meta is None and name_info.type == pytsk3.TSK_FS_NAME_TYPE_DIR
                )
                if is_dir:
                    if meta is not None and depth < MAX_DEPTH:
                        subdirs.append((int(meta.addr), here, deleted or deleted_dir, depth + 1))
                    continue
                item = self._file(here, name_problems, meta, name_info, deleted or deleted_dir)
                if item is not None:
                    yield item
            # Depth first, in name order: the stack pops the last pushed, so push in reverse.
            stack.extend(sorted(subdirs, key=lambda d: d[1], reverse=True))

    def _entries(self, inode: int) -> tuple[list[tuple[str, list[str], Any, Any, bool]], str | None]:
        """The entries of a directory, and what went wrong reading it (None when nothing did)."""
        try:
            directory = self.fs_info.open_dir(inode=inode)
        except OSError as exc:
            return [], _first_line(exc)
        found: list[tuple[str, list[str], Any, Any, bool]] = []
        problem: str | None = None
        try:
            for tsk_file in directory:
                info = getattr(tsk_file, "info", None)
                name_info = getattr(info, "name", None)
                if name_info is None:
                    continue
                raw = name_info.name
                if raw in (b".", b".."):
                    continue
                meta = getattr(info, "meta", None)
                if meta is not None and int(meta.type) == int(pytsk3.TSK_FS_META_TYPE_VIRT):
                    continue  # $MBR, $FAT1: TSK's views of file-system structures, not files
                if raw.endswith(_FAT_LABEL) and meta is not None and int(meta.size) == 0:
                    continue  # a FAT volume label, which TSK lists as an empty file
                name_unalloc = bool(int(name_info.flags) & int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC))
                if name_unalloc and meta is None and int(name_info.meta_addr):
                    # NTFS raises an MFT record's sequence number when the file is deleted, so the name
                    # no longer "matches" its record; the record itself (if not reused) still has it.
                    meta = self._meta(int(name_info.meta_addr))
                meta_unalloc = meta is not None and bool(int(meta.flags) & _META_UNALLOC)
                if name_unalloc and (meta is None or not meta_unalloc):
                    # A deleted name whose metadata is gone or now belongs to another file: the
                    # content it named is not addressable, and the other file is listed in its own right.
                    continue
                name, problems = shown_name(raw, "file name")
                found.append((name, problems, meta, name_info, name_unalloc or meta_unalloc))
        except OSError as exc:
            problem = f"read only in part: {_first_line(exc)}"
        found.sort(key=lambda e: (e[0], e[4]))
        return found, problem

    def _unreadable_folder(self, parts: list[str], inode: int, problem: str) -> FileEntry:
        """A directory the walk could not (fully) read, on record so the gap is seen: files are missing."""
        path = "/".join([self.fs.prefix, *parts])
        log.info("folder %s (inode %s) of the image: %s", path, inode, problem)
        return FileEntry(
            locator=f"{path}/",
            path=f"{path}/",
            size=None,
            mtime=None,
            depth=0,
            open=None,
            error=(
                f"this folder could not be read from the image ({problem}); files in it are missing from "
                "the scan. The image may be truncated or damaged: verify it against the acquisition"
            ),
        )

    def _meta(self, inode: int) -> Any:
        try:
            return self.fs_info.open_meta(inode=inode).info.meta
        except (OSError, AttributeError):
            return None

    def _file(
        self, parts: list[str], problems: list[str], meta: Any, name_info: Any, deleted: bool
    ) -> FileEntry | None:
        path = "/".join([self.fs.prefix, *parts])
        if meta is None:
            return None
        inode = int(meta.addr)
        locator = f"{path}#{inode}" if deleted else path
        if locator in self.seen_locators:
            return None
        self.seen_locators.add(locator)
        size = int(meta.size)
        if deleted and size == 0:
            return None
        kind = int(meta.type)
        error: str | None = "; ".join(problems) or None
        spec = path_spec_factory.Factory.NewPathSpec(
            dfvfs_definitions.TYPE_INDICATOR_TSK,
            inode=inode,
            location="/" + "/".join(parts),
            parent=self.fs.root_spec.parent,
        )
        spec_json = spec_to_json(spec)
        opener = _opener(spec_json)
        if kind == int(pytsk3.TSK_FS_META_TYPE_LNK):
            opener = None
            error = _join(error, "symbolic link in the file system; not followed")
        elif kind not in (int(pytsk3.TSK_FS_META_TYPE_REG), int(pytsk3.TSK_FS_META_TYPE_UNDEF)):
            opener = None
            error = _join(
                error, "special file (device, fifo or socket) in the file system; it has no content"
            )
        return FileEntry(
            locator=locator,
            path=path,
            size=size,
            mtime=_tsk_time(meta, "mtime"),
            depth=0,
            open=opener,
            error=error,
            path_spec=spec_json,
            deleted=deleted,
            times=FileTimes(
                accessed=_tsk_time(meta, "atime"),
                changed=_tsk_time(meta, "ctime"),
                created=_tsk_time(meta, "crtime"),
            ),
        )


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _tsk_time(meta: Any, name: str) -> datetime | None:
    seconds = getattr(meta, name, 0)
    if not seconds:
        return None
    nanos = getattr(meta, f"{name}_nano", 0) or 0
    return utc_from_timestamp(int(seconds) + int(nanos) / 1e9)


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def _dfvfs_files(fs: FileSystemRoot) -> Iterator[FileEntry]:
    """APFS, HFS+, XFS: dfVFS's own back-ends list allocated files only."""
    file_system = resolver.Resolver.OpenFileSystem(fs.root_spec)
    root = file_system.GetRootFileEntry()
    stack: list[tuple[Any, list[str], int]] = [(root, [], 0)]
    while stack:
        directory, parts, depth = stack.pop()
        try:
            children = sorted(directory.sub_file_entries, key=lambda e: e.name or "")
        except (dfvfs_errors.Error, OSError) as exc:
            log.info("a folder of %s cannot be read: %s", fs.prefix, exc)
            continue
        subdirs: list[tuple[Any, list[str], int]] = []
        for child in children:
            name, problems = shown_name(child.name or "", "file name")
            here = [*parts, name]
            if child.IsDirectory():
                if depth < MAX_DEPTH:
                    subdirs.append((child, here, depth + 1))
                continue
            path = "/".join([fs.prefix, *here])
            spec_json = spec_to_json(child.path_spec)
            error: str | None = "; ".join(problems) or None
            opener = _opener(spec_json) if child.IsFile() else None
            if child.IsLink():
                error = _join(error, f"symbolic link to '{printable(child.link or '')}'; not followed")
            elif not child.IsFile():
                error = _join(error, "special file in the file system; it has no content")
            yield FileEntry(
                locator=path,
                path=path,
                size=int(child.size or 0),
                mtime=_dfvfs_time(child.modification_time),
                depth=0,
                open=opener,
                error=error,
                path_spec=spec_json,
                times=FileTimes(
                    accessed=_dfvfs_time(child.access_time),
                    changed=_dfvfs_time(child.change_time),
                    created=_dfvfs_time(child.creation_time),
                ),
            )
        stack.extend(reversed(subdirs))


def _dfvfs_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        micros = value.GetPlasoTimestamp()  # microseconds since 1970, whatever the file system's precision
    except (AttributeError, ValueError, OverflowError):
        return None
    return utc_from_timestamp(micros / 1e6) if micros else None
