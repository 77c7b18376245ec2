"""Content type by libmagic, and whether the file's name hides it.

Renaming is the oldest way to hide pictures (`holiday.jpg` -> `driver.dll`, a zip saved as `notes.txt`),
so each file records its content type and a flag when a known extension disagrees with it. The table
below is explicit on purpose: `mimetypes` depends on the host's /etc/mime.types and knows one type per
extension, while libmagic reports several legitimate types for the same kind of file (an .docx is
`application/zip` to older libmagic; a BMP is `image/bmp` or `image/x-ms-bmp` by version).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

# How many leading bytes the pipeline passes to `sniff`. libmagic's rules for the formats we care about
# look at the first few hundred bytes; 64 KiB also covers tar (offset 257), ISO 9660 (32 KiB) and the
# first sectors of OLE2 documents, and is always inside the first chunk the digests read anyway.
SNIFF_BYTES = 64 * 1024

_EMPTY = "application/x-empty"

_JPEG = frozenset({"image/jpeg"})
_ZIP = frozenset({"application/zip", "application/x-zip-compressed"})
_TEXT = frozenset({"text/*", "application/json", "application/xml", "application/csv", "text/csv"})
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
_ODF_PREFIX = "application/vnd.oasis.opendocument."

# extension -> content types that agree with it; "family/*" accepts the whole family.
_EXPECTED: dict[str, frozenset[str]] = {
    **dict.fromkeys(("jpg", "jpeg", "jpe", "jfif"), _JPEG),
    "png": frozenset({"image/png"}),
    "gif": frozenset({"image/gif"}),
    "webp": frozenset({"image/webp"}),
    **dict.fromkeys(("bmp", "dib"), frozenset({"image/bmp", "image/x-ms-bmp"})),
    **dict.fromkeys(("tif", "tiff"), frozenset({"image/tiff"})),
    **dict.fromkeys(
        ("heic", "heif", "hif"),
        frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"}),
    ),
    "avif": frozenset({"image/avif"}),
    **dict.fromkeys(
        ("mp4", "m4v", "mov", "3gp"),
        frozenset({"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/mp4v-es"}),
    ),
    "avi": frozenset({"video/x-msvideo"}),
    "mkv": frozenset({"video/x-matroska"}),
    "webm": frozenset({"video/webm"}),
    "zip": _ZIP,
    "7z": frozenset({"application/x-7z-compressed"}),
    "rar": frozenset({"application/x-rar", "application/vnd.rar", "application/x-rar-compressed"}),
    "gz": frozenset({"application/gzip", "application/x-gzip"}),
    "tar": frozenset({"application/x-tar", "application/x-ustar"}),
    "pdf": frozenset({"application/pdf"}),
    # Office Open XML and OpenDocument files are zips; older libmagic says only that.
    **dict.fromkeys(("docx", "xlsx", "pptx"), _ZIP | {_OOXML_PREFIX + "*"}),
    **dict.fromkeys(("odt", "ods", "odp"), _ZIP | {_ODF_PREFIX + "*"}),
    **dict.fromkeys(("txt", "csv", "log", "json", "xml", "htm", "html", "md"), _TEXT),
}

_magic: Any = None
_magic_lock = threading.Lock()


@dataclass(frozen=True)
class TypeFacts:
    mime: str
    extension_mismatch: bool


def _detector() -> Any:
    """One libmagic handle per process: opening a handle loads the compiled magic database (~70 ms)."""
    global _magic
    if _magic is None:
        import magic  # deferred so that importing the analyzers does not load libmagic

        _magic = magic.Magic(mime=True)
    return _magic


def content_type(head: bytes) -> str:
    with _magic_lock:  # a libmagic handle is not safe to share between threads
        mime: str = _detector().from_buffer(head)
    return mime.lower()


def extension_of(name: str) -> str | None:
    """The lower-case extension of the last component of a path or provenance (`a.zip!/b.JPG` -> jpg)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or not ext:  # no dot, a dot-file such as ".bashrc", or "name."
        return None
    return ext.lower()


def _agrees(mime: str, expected: frozenset[str]) -> bool:
    if mime in expected:
        return True
    return any(want.endswith("*") and mime.startswith(want[:-1]) for want in expected)


def extension_mismatch(mime: str, name: str) -> bool:
    """True when `name` has an extension we know and the content is something else.

    Unknown extensions and empty files are never a mismatch: there is nothing to compare. Content that
    libmagic cannot identify (`application/octet-stream`) under a known extension *is* a mismatch: a
    `.jpg` that is not a JPEG is corrupt, encrypted or disguised, and all three deserve a look.
    """
    ext = extension_of(name)
    expected = _EXPECTED.get(ext) if ext else None
    if expected is None or mime == _EMPTY:
        return False
    return not _agrees(mime, expected)


def sniff(head: bytes, name: str) -> TypeFacts:
    """Type facts from the first bytes of a file (pass `SNIFF_BYTES` of them) and its name."""
    mime = content_type(head[:SNIFF_BYTES])
    return TypeFacts(mime=mime, extension_mismatch=extension_mismatch(mime, name))
