"""dfVFS path specs as stored provenance, and as streams the analyzers can read.

A file found in a disk image is stored with its readable path (`disk.E01/p2/Users/x/a.jpg`) and the
dfVFS path spec that reaches its bytes through every layer (EWF → GPT partition → BitLocker → NTFS
inode 4711), serialized as JSON. `open_spec(json)` opens the same bytes again: in a worker process
during the scan, and later for anyone who wants to check a finding against the image.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any, BinaryIO, cast

from dfvfs.lib import definitions as dfvfs_definitions
from dfvfs.lib import errors as dfvfs_errors
from dfvfs.resolver import resolver
from dfvfs.serializer.json_serializer import JsonPathSpecSerializer

from himaya.errors import EvidenceError
from himaya.sources.disk import luks2
from himaya.sources.disk.credentials import VolumeKeys
from himaya.sources.disk.runs import PositionedReader, RunReader, direct_runs


def spec_to_json(spec: Any) -> str:
    return str(JsonPathSpecSerializer.WriteSerialized(spec))


def spec_from_json(text: str) -> Any:
    luks2.register()  # a stored spec may pass through Himaya's own LUKS2 layer
    return JsonPathSpecSerializer.ReadSerialized(text)


def install_keys(keys: VolumeKeys) -> None:
    """Give dfVFS the credentials that opened each encrypted volume (in this process's memory only)."""
    luks2.register()
    for key in keys.keys:
        spec = spec_from_json(key.path_spec)
        resolver.Resolver.key_chain.SetCredential(spec, key.credential, key.value)


class SpecReader(PositionedReader):
    """A dfVFS file object as a seekable binary stream (what archive readers and Pillow expect)."""

    def __init__(self, file_object: Any) -> None:
        super().__init__(int(file_object.get_size()))
        self._file = file_object

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(self._size - self._position, 0)
        try:
            self._file.seek(self._position)
            data: bytes = self._file.read(size)
        except (dfvfs_errors.Error, OSError, ValueError) as exc:
            raise OSError(f"the disk image could not be read here: {exc}") from exc
        self._position += len(data)
        return data


# dfVFS caches opened layers by weak reference: once the last file of a file system is closed, the whole
# chain (EWF segments, partition table, decryption, file-system metadata) would be dropped and parsed
# again for the next file. The file systems (and volumes) recently read are held here.
_HELD: OrderedDict[str, Any] = OrderedDict()
_HOLD_AT_MOST = 32
_FILE_SYSTEM_TYPES = frozenset(
    {
        dfvfs_definitions.TYPE_INDICATOR_TSK,
        dfvfs_definitions.TYPE_INDICATOR_APFS,
        dfvfs_definitions.TYPE_INDICATOR_HFS,
        dfvfs_definitions.TYPE_INDICATOR_XFS,
        dfvfs_definitions.TYPE_INDICATOR_EXT,
        dfvfs_definitions.TYPE_INDICATOR_FAT,
        dfvfs_definitions.TYPE_INDICATOR_NTFS,
    }
)


def _hold(spec: Any) -> None:
    parent = getattr(spec, "parent", None)
    if parent is None:
        return
    is_file_system = spec.type_indicator in _FILE_SYSTEM_TYPES
    key = ("fs:" if is_file_system else "volume:") + parent.comparable
    if key in _HELD:
        _HELD.move_to_end(key)
        return
    if is_file_system:
        _HELD[key] = resolver.Resolver.OpenFileSystem(spec)
    else:
        _HELD[key] = resolver.Resolver.OpenFileObject(parent)
    while len(_HELD) > _HOLD_AT_MOST:
        _HELD.popitem(last=False)


def _direct(spec: Any) -> RunReader | None:
    """A file of an ext/FAT/ISO file system read straight from its volume (see runs.py), when possible."""
    inode = getattr(spec, "inode", None)
    if spec.type_indicator != dfvfs_definitions.TYPE_INDICATOR_TSK or inode is None:
        return None
    try:
        fs_info = resolver.Resolver.OpenFileSystem(spec).GetFsInfo()
        found = direct_runs(fs_info, int(inode))
        if found is None:
            return None
        volume = resolver.Resolver.OpenFileObject(spec.parent)
    except (dfvfs_errors.Error, OSError, ValueError, AttributeError):
        return None  # TSK's own reading says what is wrong, if anything
    size, runs = found
    return RunReader(volume, size, runs)


def open_spec(path_spec_json: str) -> BinaryIO:
    """The bytes a stored path spec points at. Raises `EvidenceError` with the reason when it cannot."""
    try:
        spec = spec_from_json(path_spec_json)
        _hold(spec)
        fast = _direct(spec)
        if fast is not None:
            return cast(BinaryIO, fast)  # reads whole runs: a buffer on top would only copy
        file_object = resolver.Resolver.OpenFileObject(spec)
    except (dfvfs_errors.Error, OSError, ValueError, KeyError, RuntimeError) as exc:
        raise EvidenceError(f"cannot be opened in the disk image: {exc}") from exc
    if file_object is None:
        raise EvidenceError("cannot be opened in the disk image (dfVFS found nothing at its path spec)")
    return cast(BinaryIO, io.BufferedReader(SpecReader(file_object), buffer_size=1024 * 1024))
