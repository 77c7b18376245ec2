"""Content types from real file bytes, and the renamed-file flag."""

from __future__ import annotations

import io
import zipfile

import pytest

from himaya.analyzers.filetype import SNIFF_BYTES, extension_of, sniff
from tests.builders.images import encode, photo_jpeg, photo_like


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


JPEG = photo_jpeg(1, 64, 48)
PNG = encode(photo_like(2, 64, 48), "PNG")
ZIP = _zip({"a.txt": b"hello"})
DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


@pytest.mark.parametrize(
    ("head", "name", "mime", "mismatch"),
    [
        (JPEG, "a.jpg", "image/jpeg", False),
        (JPEG, "A.JPEG", "image/jpeg", False),
        (PNG, "b.png", "image/png", False),
        (ZIP, "c.zip", "application/zip", False),
        (PNG, "a.jpg", "image/png", True),
        (ZIP, "holiday.jpg", "application/zip", True),
        (JPEG, "notes.txt", "image/jpeg", True),
        (JPEG, "driver.dll", "image/jpeg", False),  # extension we do not judge
        (JPEG, "README", "image/jpeg", False),
        (JPEG, ".hidden", "image/jpeg", False),
        (b"plain words\n", "notes.txt", "text/plain", False),
        (b"a,b\n1,2\n3,4\n", "table.csv", None, False),
        (DOCX, "letter.docx", None, False),
        (b"", "empty.jpg", "application/x-empty", False),
        (b"\x00\x01\x02\x03" * 64, "not-really.jpg", None, True),
    ],
)
def test_sniff(head: bytes, name: str, mime: str | None, mismatch: bool) -> None:
    facts = sniff(head, name)
    if mime is not None:
        assert facts.mime == mime
    assert facts.extension_mismatch is mismatch


def test_names_are_provenance_paths() -> None:
    assert sniff(JPEG, "disk.E01/p1/Users/x/a.zip!/DCIM/b.JPG").extension_mismatch is False
    assert sniff(PNG, "disk.E01/p1/Users/x/a.zip!/DCIM/b.JPG").extension_mismatch is True
    assert extension_of("C:\\Users\\x\\photo.Jpeg") == "jpeg"
    assert extension_of("archive.tar.gz") == "gz"
    assert extension_of("trailing.") is None
    assert extension_of("dir.d/noext") is None


def test_long_heads_are_cut_to_the_sniff_size() -> None:
    assert sniff(JPEG + b"\x00" * (2 * SNIFF_BYTES), "a.jpg").mime == "image/jpeg"
