"""How every archive reader turns one stored member into a `FileEntry`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import BinaryIO

from himaya.sources.interface import FileEntry, member_locator, member_path
from himaya.sources.names import printable, safe_member_name


def member_entry(
    container: FileEntry,
    index: int,
    stored_name: str | bytes,
    *,
    size: int | None,
    compressed_size: int | None,
    mtime: datetime | None,
    opener: Callable[[], BinaryIO] | None,
    problems: Sequence[str] = (),
) -> FileEntry:
    """An entry one layer below `container`. `problems` are joined with the name's own into `error`."""
    name, name_problems = safe_member_name(stored_name)
    reasons = [*name_problems, *problems]
    return FileEntry(
        locator=member_locator(container.locator, index, name),
        path=member_path(container.path, name),
        size=size,
        mtime=mtime,
        depth=container.depth + 1,
        open=opener,
        error="; ".join(reasons) or None,
        compressed_size=compressed_size,
    )


def stream_length(fileobj: BinaryIO) -> int:
    """Size of a seekable stream; leaves it rewound."""
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    return size


def not_a_file(*, symlink: str | bytes | None = None, hardlink: str | bytes | None = None) -> str:
    """Why a member that is a link or a special file has no content of its own."""
    if symlink is not None:
        return f"symbolic link to '{printable(symlink)}' stored in the archive; not followed"
    if hardlink is not None:
        return f"hard link to '{printable(hardlink)}'; its content is read under that member's name"
    return "special file (device or fifo) stored in the archive; it has no content"
