"""What a disk image is made of: container format, partitions, encrypted volumes, file systems.

dfVFS's source scanner finds the layers (E01 → GPT → p2 → BitLocker → NTFS); this module walks its scan
tree, opens encrypted volumes with the examiner's credentials, and returns a `DiskLayout`: a tree of
`Layer`s for `himaya evidence info` and the evidence record, and the file systems to list.

File systems are read through The Sleuth Kit where it is the better reader: it lists deleted entries and
reads FAT dates correctly (dfVFS's own FAT back-end reports wrong dates and no deleted files). APFS, HFS+
and XFS are read with dfVFS's libyal back-ends.

Readable paths name the layers that a person tells apart: partitions (`p2`), LVM volumes (`lvm1`),
APFS volumes (`apfs1`), shadow copies (`vss1`); container formats and encryption do not add a segment,
so `disk.E01/p2/Users/x/Pictures/a.jpg` is the same file whether p2 was BitLocker-encrypted or not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytsk3
from dfvfs.credentials import manager as credentials_manager
from dfvfs.helpers import source_scanner
from dfvfs.lib import definitions as dfvfs_definitions
from dfvfs.lib import errors as dfvfs_errors
from dfvfs.path import factory as path_spec_factory
from dfvfs.resolver import resolver

from himaya.sources.disk import ewf, luks2
from himaya.sources.disk.credentials import VolumeCredentials, VolumeKey, VolumeKeys
from himaya.sources.disk.pathspec import spec_to_json

log = logging.getLogger(__name__)

D = dfvfs_definitions

# What each dfVFS layer is, in an examiner's words.
WHAT = {
    D.TYPE_INDICATOR_OS: "file",
    D.TYPE_INDICATOR_EWF: "EWF (E01/Ex01) forensic image",
    D.TYPE_INDICATOR_RAW: "raw image",
    D.TYPE_INDICATOR_VMDK: "VMware disk (VMDK)",
    D.TYPE_INDICATOR_VHDI: "Microsoft virtual disk (VHD/VHDX)",
    D.TYPE_INDICATOR_QCOW: "QEMU disk (QCOW)",
    D.TYPE_INDICATOR_MODI: "Mac disk image (DMG / sparse image)",
    D.TYPE_INDICATOR_PHDI: "Parallels disk",
    D.TYPE_INDICATOR_GPT: "GPT partition table",
    D.TYPE_INDICATOR_TSK_PARTITION: "MBR partition table",
    D.TYPE_INDICATOR_APM: "Apple partition map",
    D.TYPE_INDICATOR_LVM: "LVM volume group",
    D.TYPE_INDICATOR_APFS_CONTAINER: "APFS container",
    D.TYPE_INDICATOR_CS: "Core Storage volume (FileVault 2)",
    D.TYPE_INDICATOR_BDE: "BitLocker volume",
    D.TYPE_INDICATOR_LUKSDE: "LUKS volume",
    luks2.TYPE_INDICATOR: "LUKS2 volume",
    D.TYPE_INDICATOR_VSHADOW: "Volume Shadow Copies",
    D.TYPE_INDICATOR_EXT: "ext file system",
    D.TYPE_INDICATOR_FAT: "FAT/exFAT file system",
    D.TYPE_INDICATOR_NTFS: "NTFS file system",
    D.TYPE_INDICATOR_HFS: "HFS+ file system",
    D.TYPE_INDICATOR_APFS: "APFS file system",
    D.TYPE_INDICATOR_XFS: "XFS file system",
    D.TYPE_INDICATOR_TSK: "file system",
}

# A labelled node of a volume system is one volume of it.
_VOLUME_WHAT = {
    D.TYPE_INDICATOR_GPT: "GPT partition",
    D.TYPE_INDICATOR_TSK_PARTITION: "MBR partition",
    D.TYPE_INDICATOR_APM: "Apple partition",
    D.TYPE_INDICATOR_LVM: "LVM logical volume",
    D.TYPE_INDICATOR_APFS_CONTAINER: "APFS volume",
    D.TYPE_INDICATOR_VSHADOW: "shadow copy",
    D.TYPE_INDICATOR_CS: "Core Storage logical volume",
}

ENCRYPTION = {
    D.TYPE_INDICATOR_BDE: "BitLocker",
    D.TYPE_INDICATOR_LUKSDE: "LUKS",
    D.TYPE_INDICATOR_CS: "FileVault 2 (Core Storage)",
    D.TYPE_INDICATOR_APFS_CONTAINER: "APFS encryption (FileVault)",
}

# File systems read through The Sleuth Kit (deleted entries, correct FAT dates).
_VIA_TSK = frozenset(
    {D.TYPE_INDICATOR_EXT, D.TYPE_INDICATOR_FAT, D.TYPE_INDICATOR_NTFS, D.TYPE_INDICATOR_TSK}
)

_FILE_SYSTEMS = (
    D.TYPE_INDICATOR_EXT, D.TYPE_INDICATOR_FAT, D.TYPE_INDICATOR_NTFS, D.TYPE_INDICATOR_TSK,
    D.TYPE_INDICATOR_HFS, D.TYPE_INDICATOR_APFS, D.TYPE_INDICATOR_XFS,
)  # fmt: skip

# Names that say "disk image" even when the content is too damaged for dfVFS to recognise: such an
# evidence item gets a disk-image error instead of being hashed as one opaque file.
DISK_IMAGE_SUFFIXES = frozenset(
    {".e01", ".ex01", ".s01", ".l01", ".dd", ".raw", ".img", ".001", ".000", ".vmdk", ".vhd", ".vhdx",
     ".qcow2", ".qcow", ".dmg", ".iso", ".aff", ".bin"}
)  # fmt: skip

_CREDENTIAL_HINT = (
    "supply --password-file (passwords), --recovery-key-file (BitLocker recovery passwords, FileVault "
    "recovery keys) or --startup-key-file (BitLocker .BEK) and re-run the scan"
)

AskCredential = Callable[[str], str | None]


@dataclass
class Layer:
    type_indicator: str
    what: str
    label: str  # the path segment this layer adds ("p2"), or ""
    path_spec: str  # serialized dfVFS path spec
    size: int | None = None
    detail: str = ""
    encryption: str | None = None
    unlocked: bool | None = None  # for encrypted layers
    problem: str | None = None
    children: list[Layer] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": self.type_indicator, "what": self.what}
        for key in ("label", "size", "detail", "encryption", "unlocked", "problem"):
            value = getattr(self, key)
            if value not in (None, ""):
                record[key] = value
        if self.children:
            record["children"] = [child.as_dict() for child in self.children]
        return record


@dataclass
class FileSystemRoot:
    """One file system to list: its readable prefix and how to open it."""

    prefix: str  # "disk.E01/p2": evidence name and layer labels
    fs_type: str  # "ext4", "NTFS", "FAT16", "APFS", ...
    root_spec: Any  # dfVFS path spec of the root directory
    volume_spec: Any  # dfVFS path spec of the volume that holds it (for carving)
    via_tsk: bool


@dataclass
class DiskLayout:
    source: str
    name: str
    is_disk_image: bool
    root: Layer | None = None
    filesystems: list[FileSystemRoot] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth saying, not wrong with the evidence
    keys: VolumeKeys = field(default_factory=VolumeKeys)
    image_format: str | None = None  # the outermost container's type indicator (EWF, RAW, VMDK, ...)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.image_format,
            "layers": self.root.as_dict() if self.root else None,
            "filesystems": [{"path": fs.prefix, "type": fs.fs_type} for fs in self.filesystems],
            "problems": list(self.problems),
        }


def looks_like_disk_image(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in DISK_IMAGE_SUFFIXES) or _is_block_device(path)


def _is_block_device(path: Path) -> bool:
    try:
        return path.is_block_device()
    except OSError:
        return False


def inspect(
    path: Path,
    name: str,
    credentials: VolumeCredentials = VolumeCredentials(),  # noqa: B008 - frozen, never mutated
    *,
    shadow_copies: bool = False,
    ask: AskCredential | None = None,
) -> DiskLayout:
    """The layers of the image at `path`. Never raises for bad content: problems are in the layout.

    `name` is the evidence item's name, the first segment of every readable path. `ask`, when given,
    is asked for a password for each encrypted volume the credentials do not open (a terminal prompt).
    """
    layout = DiskLayout(source=str(path), name=name, is_disk_image=False)
    if path.is_file() and path.stat().st_size == 0:
        layout.is_disk_image = looks_like_disk_image(path)
        layout.problems.append("the image is empty (0 bytes); check the acquisition and copy it again")
        return layout
    scanner = _Scanner()
    context = source_scanner.SourceScannerContext()
    try:
        context.OpenSourcePath(str(path))
        scanner.Scan(context)
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError) as exc:
        layout.is_disk_image = looks_like_disk_image(path)
        layout.problems.append(
            f"not readable as a disk image ({_reason(exc)}); if it is one, it may be truncated or "
            "damaged: check its size against the acquisition notes and verify it (e.g. ewfverify)"
        )
        return layout
    media_types = (D.SOURCE_TYPE_STORAGE_MEDIA_IMAGE, D.SOURCE_TYPE_STORAGE_MEDIA_DEVICE)
    if context.source_type not in media_types:
        if looks_like_disk_image(path) and context.source_type == D.SOURCE_TYPE_FILE:
            layout.is_disk_image = True
            layout.problems.append(
                "no partition table or file system that Himaya can read was found in this image; it may "
                "be damaged, encrypted with an unsupported scheme, or not a disk image at all"
            )
        return layout
    layout.is_disk_image = True
    walker = _Walker(scanner, context, layout, credentials, shadow_copies, ask)
    os_node = context.GetRootScanNode()
    image_node = os_node.sub_nodes[0] if os_node.sub_nodes else None
    if image_node is None:
        layout.problems.append("dfVFS found no storage media layer in this file")
        return layout
    layout.image_format = image_node.type_indicator
    if layout.image_format == D.TYPE_INDICATOR_EWF and not ewf.fast_decompression():
        layout.notes.append(ewf.SLOW_PYEWF)
    layout.root = walker.visit(image_node, [])
    if not layout.filesystems and not layout.problems:
        layout.problems.append("no file system that Himaya can read was found in this image")
    layout.keys = VolumeKeys(tuple(walker.keys))
    return layout


class _Scanner(source_scanner.SourceScanner):  # type: ignore[misc]  # dfVFS is untyped
    """dfVFS's scanner, told that a LUKS2 volume is a locked volume rather than an error.

    libluksde reads LUKS1 only; on a LUKS2 header its open fails and the scan would stop there, taking
    every partition after it along. Locked, it is opened later by Himaya's own LUKS2 layer.
    """

    def _ScanEncryptedVolumeNode(self, scan_context: Any, scan_node: Any) -> None:
        if scan_node.type_indicator == D.TYPE_INDICATOR_LUKSDE and _is_luks2(scan_node.path_spec.parent):
            scan_context.LockScanNode(scan_node.path_spec)
            return
        super()._ScanEncryptedVolumeNode(scan_context, scan_node)


class _Walker:
    def __init__(
        self,
        scanner: source_scanner.SourceScanner,
        context: source_scanner.SourceScannerContext,
        layout: DiskLayout,
        credentials: VolumeCredentials,
        shadow_copies: bool,
        ask: AskCredential | None,
    ) -> None:
        self.scanner = scanner
        self.context = context
        self.layout = layout
        self.credentials = credentials
        self.shadow_copies = shadow_copies
        self.ask = ask
        self.keys: list[VolumeKey] = []

    def visit(self, node: Any, labels: list[str]) -> Layer | None:
        ti = node.type_indicator
        spec = node.path_spec
        label = _label(spec)
        if ti == D.TYPE_INDICATOR_TSK_PARTITION and not label and getattr(spec, "location", None) != "/":
            return None  # a slot of the partition table that is no partition (unallocated, metadata)
        what = WHAT.get(ti, ti)
        if label:
            what = _VOLUME_WHAT.get(ti, what)
        layer = Layer(
            type_indicator=ti,
            what=what,
            label=label,
            path_spec=spec_to_json(spec),
            size=_size(spec),
        )
        here = [*labels, label] if label else labels
        if ti in ENCRYPTION and self.context.IsLockedScanNode(spec):
            self._unlock(node, layer, here)
        elif ti == D.TYPE_INDICATOR_LUKSDE:
            layer.encryption, layer.unlocked = "LUKS1", True
        if ti == D.TYPE_INDICATOR_VSHADOW and getattr(spec, "location", None) not in (None, "/"):
            if not self.shadow_copies:
                layer.detail = "shadow copy not scanned (use --shadow-copies)"
                return layer
            if not node.sub_nodes:
                self._scan_below(spec)
        if node.IsFileSystem():
            self._file_system(node, layer, here)
        # BitLocker To Go: beside a locked volume dfVFS offers the volume's unencrypted reader area as a
        # file system; it holds nothing to scan. Encrypted volumes are visited first to know.
        locked_here = False
        for child in sorted(node.sub_nodes, key=lambda c: c.type_indicator not in ENCRYPTION):
            if locked_here and child.IsFileSystem():
                continue
            child_layer = self.visit(child, here)
            if child_layer is None:
                continue
            locked_here |= bool(child_layer.encryption) and child_layer.unlocked is False
            layer.children.append(child_layer)
        if label and not layer.children and ti in _VOLUME_WHAT and ti != D.TYPE_INDICATOR_VSHADOW:
            self._nothing_readable(layer, spec, here)
        return layer

    def _nothing_readable(self, layer: Layer, spec: Any, labels: list[str]) -> None:
        """A partition or volume in which no file system was found: say so, and why if it can be told."""
        where = self._where(labels)
        if layer.size and not _readable_to_the_end(spec, layer.size):
            layer.problem = (
                f"{where}: the image ends before this volume does ({layer.size} bytes declared); the image "
                "is truncated: check its size against the acquisition notes and copy it again"
            )
        else:
            layer.problem = (
                f"{where}: no file system that Himaya can read was found in this volume (unformatted, "
                "swap, wiped, or a file system Himaya does not read); its content was not scanned"
            )
        self.layout.problems.append(layer.problem)

    def _scan_below(self, spec: Any) -> None:
        try:
            self.scanner.Scan(self.context, scan_path_spec=spec)
        except (dfvfs_errors.Error, OSError, ValueError, RuntimeError) as exc:
            self.layout.problems.append(
                f"{self._where_spec(spec)}: could not be read further ({_reason(exc)})"
            )

    def _unlock(self, node: Any, layer: Layer, labels: list[str]) -> None:
        spec = node.path_spec
        where = self._where(labels)
        if node.type_indicator == D.TYPE_INDICATOR_LUKSDE and _is_luks2(spec.parent):
            self._unlock_luks2(node, layer, labels)
            return
        layer.encryption = ENCRYPTION[node.type_indicator]
        accepted = frozenset(credentials_manager.CredentialsManager.GetCredentials(spec).CREDENTIALS)
        candidates = self.credentials.candidates(accepted)
        for identifier, value in candidates:
            try:
                opened = self.scanner.Unlock(self.context, spec, identifier, value)
            except (dfvfs_errors.Error, OSError, ValueError, KeyError):
                opened = False
            if opened:
                self._opened(layer, spec, identifier, value)
                return
        if self.ask is not None and "password" in accepted:
            while (answer := self.ask(f"{layer.encryption} volume {where}")) is not None:
                try:
                    opened = self.scanner.Unlock(self.context, spec, "password", answer)
                except (dfvfs_errors.Error, OSError, ValueError, KeyError):
                    opened = False
                if opened:
                    self._opened(layer, spec, "password", answer)
                    return
        self._locked(layer, where, len(candidates))

    def _opened(self, layer: Layer, spec: Any, identifier: str, value: str) -> None:
        layer.unlocked = True
        self.keys.append(VolumeKey(spec_to_json(spec), identifier, value))
        self._scan_below(spec)

    def _locked(self, layer: Layer, where: str, tried: int) -> None:
        layer.unlocked = False
        tried_text = f"none of the {tried} credentials given opened it" if tried else "no credential given"
        layer.problem = (
            f"{layer.encryption} volume {where} is encrypted, not opened ({tried_text}); "
            f"{_CREDENTIAL_HINT}. The other volumes were scanned"
        )
        self.layout.problems.append(layer.problem)

    def _unlock_luks2(self, node: Any, layer: Layer, labels: list[str]) -> None:
        """libluksde reads LUKS1 only: a LUKS2 volume is opened by Himaya's own layer."""
        layer.encryption = "LUKS2"
        layer.what = WHAT[luks2.TYPE_INDICATOR]
        where = self._where(labels)
        passwords = list(self.credentials.passwords)
        luks2.register()
        spec = luks2.Luks2PathSpec(parent=node.path_spec.parent)
        layer.path_spec = spec_to_json(spec)
        tried = 0
        while True:
            if passwords:
                password: str | None = passwords.pop(0)
            elif self.ask is not None:
                password = self.ask(f"LUKS2 volume {where}")
            else:
                password = None
            if password is None:
                break
            tried += 1
            try:
                resolver.Resolver.key_chain.SetCredential(spec, luks2.CREDENTIAL_PASSWORD, password)
                resolver.Resolver.OpenFileObject(spec)
            except luks2.Luks2PasswordError:
                continue
            except luks2.Luks2Error as exc:
                layer.unlocked = False
                layer.problem = f"LUKS2 volume {where} could not be opened: {exc}"
                self.layout.problems.append(layer.problem)
                return
            layer.unlocked = True
            self.keys.append(VolumeKey(spec_to_json(spec), "password", password))
            fs_spec = self._file_system_in(spec)
            if fs_spec is None:
                layer.problem = f"LUKS2 volume {where} opened, but no file system was found inside it"
                self.layout.problems.append(layer.problem)
                return
            fs_layer = Layer(
                type_indicator=fs_spec.type_indicator,
                what=WHAT.get(fs_spec.type_indicator, fs_spec.type_indicator),
                label="",
                path_spec=spec_to_json(fs_spec),
            )
            self._add_file_system(fs_spec, fs_layer, labels)
            layer.children.append(fs_layer)
            return
        self._locked(layer, where, tried)

    def _file_system_in(self, spec: Any) -> Any:
        try:
            return self.scanner.ScanForFileSystem(spec)
        except (dfvfs_errors.Error, OSError, ValueError, RuntimeError):
            return None

    def _file_system(self, node: Any, layer: Layer, labels: list[str]) -> None:
        self._add_file_system(node.path_spec, layer, labels)

    def _add_file_system(self, spec: Any, layer: Layer, labels: list[str]) -> None:
        ti = spec.type_indicator
        via_tsk = ti in _VIA_TSK
        if via_tsk:
            root = path_spec_factory.Factory.NewPathSpec(
                D.TYPE_INDICATOR_TSK, location="/", parent=spec.parent
            )
        else:
            root = spec
        try:
            fs_type = _fs_type(root, ti)
        except (dfvfs_errors.Error, OSError, ValueError, RuntimeError) as exc:
            layer.problem = f"{WHAT.get(ti, ti)} at {self._where(labels)} cannot be opened: {_reason(exc)}"
            self.layout.problems.append(layer.problem)
            return
        layer.what = f"{fs_type} file system"
        layer.detail = "read with The Sleuth Kit" if via_tsk else "read with dfVFS"
        if via_tsk and _truncated(root, spec.parent):
            layer.problem = (
                f"{self._where(labels)}: the image ends before this {fs_type} file system does: it is "
                "truncated, and files stored past its end are unreadable (recorded as errors). Check its "
                "size against the acquisition notes and copy it again"
            )
            self.layout.problems.append(layer.problem)
        self.layout.filesystems.append(
            FileSystemRoot(
                prefix="/".join([self.layout.name, *labels]),
                fs_type=fs_type,
                root_spec=root,
                volume_spec=spec.parent,
                via_tsk=via_tsk,
            )
        )

    def _where(self, labels: list[str]) -> str:
        return "/".join([self.layout.name, *labels])

    def _where_spec(self, spec: Any) -> str:
        return self._where([label for label in [_label(spec)] if label])


def _truncated(root: Any, volume_spec: Any) -> bool:
    """Whether the last byte of a TSK file system lies past what the image holds."""
    try:
        info = resolver.Resolver.OpenFileSystem(root).GetFsInfo().info
        declared = int(info.block_count) * int(info.block_size)
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError, AttributeError):
        return False
    return declared > 0 and not _readable_to_the_end(volume_spec, declared)


def _readable_to_the_end(spec: Any, size: int) -> bool:
    try:
        file_object = resolver.Resolver.OpenFileObject(spec)
        file_object.seek(size - 1)
        return len(file_object.read(1)) == 1
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError):
        return False


def _is_luks2(spec: Any) -> bool:
    try:
        return luks2.is_luks2(resolver.Resolver.OpenFileObject(spec))
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError):
        return False


def _label(spec: Any) -> str:
    """The path segment of a volume layer: `/p1` → `p1`, `/lvm1`, `/apfs1`, `/vss1`."""
    if spec.type_indicator not in (
        D.TYPE_INDICATOR_GPT,
        D.TYPE_INDICATOR_TSK_PARTITION,
        D.TYPE_INDICATOR_APM,
        D.TYPE_INDICATOR_LVM,
        D.TYPE_INDICATOR_APFS_CONTAINER,
        D.TYPE_INDICATOR_VSHADOW,
        D.TYPE_INDICATOR_CS,
    ):
        return ""
    location = getattr(spec, "location", None) or ""
    return location.strip("/")


def _size(spec: Any) -> int | None:
    if spec.type_indicator in (D.TYPE_INDICATOR_OS, *_FILE_SYSTEMS) or (
        _label(spec) == ""
        and spec.type_indicator
        in (
            D.TYPE_INDICATOR_GPT,
            D.TYPE_INDICATOR_TSK_PARTITION,
            D.TYPE_INDICATOR_LVM,
            D.TYPE_INDICATOR_APFS_CONTAINER,
            D.TYPE_INDICATOR_VSHADOW,
            D.TYPE_INDICATOR_APM,
        )
    ):
        return None
    try:
        file_object = resolver.Resolver.OpenFileObject(spec)
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError, KeyError):
        return None
    if file_object is None:
        return None
    try:
        return int(file_object.get_size())
    except (dfvfs_errors.Error, OSError, ValueError, RuntimeError):
        return None


_TSK_NAMES = {
    "EXT2": "ext2", "EXT3": "ext3", "EXT4": "ext4", "FAT12": "FAT12", "FAT16": "FAT16", "FAT32": "FAT32",
    "EXFAT": "exFAT", "NTFS": "NTFS", "ISO9660": "ISO9660", "HFS": "HFS+", "APFS": "APFS", "YAFFS2": "YAFFS2",
    "XFS": "XFS", "BTRFS": "Btrfs", "UFS1": "UFS1", "UFS2": "UFS2", "FFS1": "UFS1", "FFS2": "UFS2",
}  # fmt: skip


# pytsk3's file-system type numbers by name ("EXT4"), from its TSK_FS_TYPE_* constants.
_TSK_TYPES = {
    int(getattr(pytsk3, name)): name.removeprefix("TSK_FS_TYPE_")
    for name in dir(pytsk3)
    if name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_UNSUPP", "_ENUM"))
}


def _fs_type(root: Any, type_indicator: str) -> str:
    """The file system's own name for what it is ("ext4", "FAT16", ...); opening it proves it readable."""
    file_system = resolver.Resolver.OpenFileSystem(root)
    if type_indicator in _VIA_TSK:
        ftype = int(file_system.GetFsInfo().info.ftype)
        short = _TSK_TYPES.get(ftype, str(ftype))
        return _TSK_NAMES.get(short, short)
    return {
        D.TYPE_INDICATOR_HFS: "HFS+",
        D.TYPE_INDICATOR_APFS: "APFS",
        D.TYPE_INDICATOR_XFS: "XFS",
    }.get(type_indicator, type_indicator)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def layout_json(layout: DiskLayout) -> str:
    return json.dumps(layout.as_dict(), sort_keys=True, ensure_ascii=False)
