"""`himaya evidence info`: what a disk image holds, described before any scan (no file content is read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from himaya.sources.disk.credentials import VolumeCredentials
from himaya.sources.disk.ewf import read_metadata
from himaya.sources.disk.layers import Layer, inspect


@dataclass
class EvidenceReport:
    text: str
    record: dict[str, Any]


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def describe(path: Path, credentials: VolumeCredentials = VolumeCredentials()) -> EvidenceReport:  # noqa: B008
    name = path.resolve().name or str(path)
    layout = inspect(path, name, credentials)
    record: dict[str, Any] = {
        "evidence": name,
        "path": str(path.resolve()),
        "disk_image": layout.is_disk_image,
    }
    lines = [f"{name}"]
    if path.is_file():
        size = path.stat().st_size
        record["size"] = size
        lines[0] += f"  ({human_size(size)} on disk)"
    if not layout.is_disk_image:
        lines.append("  not a disk image: scan it as a file or folder (archives are opened during the scan)")
    record.update(layout.as_dict())
    if layout.image_format == "EWF":
        try:
            metadata = read_metadata(path)
        except OSError as exc:
            lines.append(f"  EWF metadata unreadable: {exc}")
        else:
            record["ewf"] = {
                "segments": [Path(s).name for s in metadata.segments],
                "media_size": metadata.media_size,
                "header": metadata.header,
                "stored_hashes": metadata.stored,
            }
            lines.append(f"  segments: {', '.join(Path(s).name for s in metadata.segments)}")
            for key, value in metadata.header.items():
                lines.append(f"  {key.replace('_', ' ')}: {value}")
            for key, value in metadata.stored.items():
                lines.append(f"  acquisition {key.upper()}: {value}")
    if layout.root is not None:
        _layer_lines(layout.root, lines, 1)
    if layout.filesystems:
        lines.append("file systems to scan:")
        lines += [f"  {fs.prefix}/  ({fs.fs_type})" for fs in layout.filesystems]
    lines += [f"note: {note}" for note in layout.notes]
    if layout.problems:
        lines.append("problems:")
        lines += [f"  - {problem}" for problem in layout.problems]
    return EvidenceReport(text="\n".join(lines), record=record)


def _layer_lines(layer: Layer, lines: list[str], depth: int) -> None:
    parts = [layer.label, layer.what, human_size(layer.size), layer.detail]
    if layer.encryption:
        state = {True: "opened", False: "NOT opened", None: ""}[layer.unlocked]
        parts.append(f"encrypted ({layer.encryption}) {state}".strip())
    lines.append("  " * depth + "  ".join(p for p in parts if p))
    if layer.problem:
        lines.append("  " * (depth + 1) + f"! {layer.problem}")
    for child in layer.children:
        _layer_lines(child, lines, depth + 1)
