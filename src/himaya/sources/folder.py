"""A folder (or a single file) on a mounted file system, as evidence.

Triage is a race: the examiner wants the first hit early. Folders where people keep pictures and
downloads (DCIM, WhatsApp, Pictures, ...) are listed first, at any depth, then everything else; within
each group the order is sorted, so two runs over the same evidence list files in the same order.

Nothing is followed off the evidence: symbolic links are listed, never followed (they may point outside
the evidence or loop), and special files are listed, never opened (opening a fifo blocks forever).
Whatever cannot be read is still listed, with the reason, so the examiner sees the gaps.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from himaya.errors import EvidenceError
from himaya.sources.interface import FileEntry
from himaya.sources.names import printable, shown_name
from himaya.sources.timestamps import utc_from_timestamp

# Compared case-insensitively against every folder name on the way down from the evidence root.
MEDIA_FOLDERS = frozenset(
    name.casefold()
    for name in (
        "DCIM", "Camera", "Camera Roll", "Pictures", "Saved Pictures", "Photos", "Images", "Movies",
        "Videos", "Video", "Screenshots", "Download", "Downloads", "Media", "WhatsApp", "Telegram",
        "Snapchat",
    )
)  # fmt: skip

_UNREADABLE_FOLDER = (
    "permission denied listing this folder, so its files were not scanned; run himaya as a user who can "
    "read it (e.g. the owner, or with sudo) and re-run the scan"
)
_NEVER_OPENED = "special files are listed but never opened"
_DEVICE_HINT = "to scan a whole disk, acquire an image of it and scan the image"
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, f"named pipe (fifo); {_NEVER_OPENED}"),
    (stat.S_ISSOCK, f"socket; {_NEVER_OPENED}"),
    (stat.S_ISCHR, f"character device; {_NEVER_OPENED} ({_DEVICE_HINT})"),
    (stat.S_ISBLK, f"block device; {_NEVER_OPENED} ({_DEVICE_HINT})"),
)


@dataclass(frozen=True)
class _Folder:
    parts: tuple[str, ...]  # names from the evidence root down; () is the root itself
    path: str
    error: str | None = None

    @property
    def is_media(self) -> bool:
        return any(part.casefold() in MEDIA_FOLDERS for part in self.parts)


def walk(root: Path, evidence_name: str) -> Iterator[FileEntry]:
    """Every file under `root` (or `root` itself if it is a file), media folders first.

    Locators and paths are `evidence_name/relative/posix/path`; a single-file evidence is just
    `evidence_name`. `root` itself is followed if it is a symbolic link: the examiner named it.
    """
    top = str(root)
    try:
        root_stat = os.stat(top)
    except OSError as exc:
        if os.path.islink(top):
            yield _entry(top, (), evidence_name)
            return
        raise EvidenceError(
            f"evidence {top!r} cannot be read ({exc.strerror or exc}); check the path (is the drive mounted?)"
        ) from exc
    if stat.S_ISDIR(root_stat.st_mode):
        yield from _walk_folder(top, evidence_name)
    else:
        yield _entry(top, (), evidence_name, root_stat)


def _walk_folder(top: str, evidence_name: str) -> Iterator[FileEntry]:
    # Listing the folders first costs one more pass over directory entries, which the OS has cached,
    # and buys the media-first order without holding every file's entry in memory.
    folders = sorted(_folders(top), key=lambda folder: (not folder.is_media, folder.parts))
    for folder in folders:
        if folder.error is not None:
            yield _folder_error(folder, evidence_name, folder.error)
            continue
        try:
            with os.scandir(folder.path) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as exc:
            yield _folder_error(folder, evidence_name, _listing_error(exc))
            continue
        for child in children:
            if not child.is_dir(follow_symlinks=False):
                yield _entry(child.path, (*folder.parts, child.name), evidence_name)


def _folders(top: str) -> Iterator[_Folder]:
    pending = [_Folder((), top)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder.path) as listing:
                subfolders = [
                    _Folder((*folder.parts, child.name), child.path)
                    for child in listing
                    if child.is_dir(follow_symlinks=False)
                ]
        except OSError as exc:
            yield _Folder(folder.parts, folder.path, _listing_error(exc))
            continue
        yield folder
        pending.extend(subfolders)


def _listing_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return _UNREADABLE_FOLDER
    if isinstance(exc, FileNotFoundError):
        return "folder vanished during the scan (deleted or unmounted); re-run the scan if it is back"
    return f"folder could not be listed ({exc.strerror or exc}); its files were not scanned"


def _folder_error(folder: _Folder, evidence_name: str, error: str) -> FileEntry:
    shown, problems = _shown(folder.parts, evidence_name)
    return FileEntry(
        locator=shown,
        path=shown,
        size=None,
        mtime=None,
        depth=0,
        open=None,
        error="; ".join([error, *problems]),
        disk_path=folder.path,
    )


def _shown(parts: tuple[str, ...], evidence_name: str) -> tuple[str, list[str]]:
    if not parts:
        return evidence_name, []
    shown_parts, problems = [], []
    for part in parts:
        shown, part_problems = shown_name(part, "file name")
        shown_parts.append(shown)
        problems += [p for p in part_problems if p not in problems]
    return f"{evidence_name}/{'/'.join(shown_parts)}", problems


def _entry(
    path: str, parts: tuple[str, ...], evidence_name: str, known: os.stat_result | None = None
) -> FileEntry:
    shown, problems = _shown(parts, evidence_name)
    opener: Callable[[], BinaryIO] | None = None
    try:
        info = known if known is not None else os.lstat(path)
    except OSError as exc:
        return FileEntry(
            locator=shown,
            path=shown,
            size=None,
            mtime=None,
            depth=0,
            open=None,
            error=_vanished(exc),
            disk_path=path,
        )
    if stat.S_ISREG(info.st_mode):
        # Opened lazily, by the worker that reads it; a file gone or locked by then fails there, on it.
        opener = partial(_open_file, path)
    elif stat.S_ISLNK(info.st_mode):
        problems.insert(0, _symlink_reason(path))
    else:
        reason = next((text for test, text in _SPECIAL_KINDS if test(info.st_mode)), None)
        problems.insert(0, reason or f"special file; {_NEVER_OPENED}")
    return FileEntry(
        locator=shown,
        path=shown,
        size=info.st_size,
        mtime=utc_from_timestamp(info.st_mtime),
        depth=0,
        open=opener,
        error="; ".join(problems) or None,
        disk_path=path,
    )


def _open_file(path: str) -> BinaryIO:
    return open(path, "rb")


def _vanished(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file vanished during the scan (deleted or unmounted); re-run the scan if it is back"
    return f"file could not be examined ({exc.strerror or exc})"


def _symlink_reason(path: str) -> str:
    try:
        target = printable(os.readlink(path))
    except OSError:
        target = "?"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop (through '{target}'); not followed"
        return f"symbolic link to '{target}', which does not exist; not followed"
    return f"symbolic link to '{target}' not followed"
