"""Pictures carved from a file system's unallocated space, as members of a `$Unallocated` pseudo-file.

Each carved picture is a `FileEntry` flagged `carved`, named by its byte offset in the volume, and its
path spec is a dfVFS data range over the volume: the stored provenance opens exactly the carved bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from dfvfs.lib import definitions as dfvfs_definitions
from dfvfs.path import factory as path_spec_factory

from himaya.sources.disk.carving import carve, carved_name, unallocated_ranges, volume_reader
from himaya.sources.disk.pathspec import open_spec, spec_from_json, spec_to_json
from himaya.sources.interface import FileEntry, member_locator, member_path

UNALLOCATED_MIME = "application/x-unallocated-space"


def carved_entries(volume_spec_json: str, fs_spec_json: str, locator: str, path: str) -> Iterator[FileEntry]:
    del fs_spec_json  # the volume says which file system it holds
    volume_spec = spec_from_json(volume_spec_json)
    volume = open_spec(volume_spec_json)
    ranges = unallocated_ranges(volume)
    if not ranges:
        return  # nothing free, or a file system whose allocation Himaya does not read (see carving.py)
    for index, found in enumerate(carve(volume_reader(volume), ranges)):
        spec = path_spec_factory.Factory.NewPathSpec(
            dfvfs_definitions.TYPE_INDICATOR_DATA_RANGE,
            range_offset=found.offset,
            range_size=found.length,
            parent=volume_spec,
        )
        spec_json = spec_to_json(spec)
        name = carved_name(found)
        yield FileEntry(
            locator=member_locator(locator, index, name),
            path=member_path(path, name),
            size=found.length,
            mtime=None,
            depth=1,
            open=partial(open_spec, spec_json),
            path_spec=spec_json,
            carved=True,
            offset=found.offset,
        )
