"""What the scan hands to a worker process: plain, picklable descriptions of files on disk.

Workers reopen the files themselves; archive members are discovered inside the worker, so a task's
result may hold many more files than the task named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from himaya.sources.disk.source import UnallocatedSpace
from himaya.sources.interface import FileEntry, FileTimes


@dataclass(frozen=True)
class TaskFile:
    evidence_id: int
    locator: str
    path: str
    size: int | None
    mtime: datetime | None
    disk_path: str | None
    error: str | None
    # Inside a disk image: how the worker reaches the bytes (a serialized dfVFS path spec).
    path_spec: str | None = None
    readable: bool = True  # False when the source found nothing to read (a link, a device)
    deleted: bool = False
    times: FileTimes | None = None
    # "file", or "unallocated": the worker carves pictures out of the unallocated space of the file
    # system whose volume `path_spec` names (`carve_fs` is that file system's root path spec).
    # "warc": a web capture's response, whose payload the worker reads from the WARC records kept in
    # the encrypted blob `blob_id` (`max_bytes` bounds the decoded payload).
    kind: str = "file"
    carve_fs: str | None = None
    blob_id: str | None = None
    max_bytes: int | None = None

    @classmethod
    def unallocated(cls, evidence_id: int, space: UnallocatedSpace) -> TaskFile:
        return cls(
            evidence_id=evidence_id,
            locator=space.locator,
            path=space.locator,
            size=None,
            mtime=None,
            disk_path=None,
            error=None,
            path_spec=space.volume_spec,
            kind="unallocated",
            carve_fs=space.fs_spec,
        )

    @classmethod
    def captured(
        cls,
        evidence_id: int,
        locator: str,
        url: str,
        blob_id: str | None,
        size: int | None,
        error: str | None,
    ) -> TaskFile:
        return cls(
            evidence_id=evidence_id,
            locator=locator,
            path=url,
            size=size,
            mtime=None,
            disk_path=None,
            error=error,
            readable=blob_id is not None,
            kind="warc",
            blob_id=blob_id,
            max_bytes=size,
        )

    @classmethod
    def from_entry(cls, evidence_id: int, entry: FileEntry) -> TaskFile:
        readable = entry.open is not None
        return cls(
            evidence_id=evidence_id,
            locator=entry.locator,
            path=entry.path,
            size=entry.size,
            mtime=entry.mtime,
            disk_path=entry.disk_path if readable else None,
            error=entry.error,
            path_spec=entry.path_spec,
            readable=readable,
            deleted=entry.deleted,
            times=entry.times,
        )


@dataclass
class Task:
    files: list[TaskFile] = field(default_factory=list)
    token: int = 0  # set by the pool: ties the partial results a worker streams back to their task

    @property
    def bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


def batch(files: list[TaskFile], max_files: int = 32, max_bytes: int = 16 * 1024 * 1024) -> list[Task]:
    """Group small files so that inter-process overhead stays small, big files alone for balance."""
    tasks: list[Task] = []
    current = Task()
    current_bytes = 0
    for f in files:
        size = f.size or 0
        if current.files and (len(current.files) >= max_files or current_bytes + size > max_bytes):
            tasks.append(current)
            current, current_bytes = Task(), 0
        current.files.append(f)
        current_bytes += size
    if current.files:
        tasks.append(current)
    return tasks
