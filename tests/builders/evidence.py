"""Small seized-data folders for pipeline tests: benign generated pictures, archives and bad input."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pdqhash
import pyzipper
from PIL import Image

from tests.builders.images import encode, photo_jpeg, photo_like


def full_pdq(data: bytes) -> str:
    """The reference PDQ (full-resolution decode), as HMA's hasher computes it."""
    with Image.open(io.BytesIO(data)) as image:
        bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return bytes(np.packbits(bits.astype(np.uint8))).hex()


def aes_zip(members: Sequence[tuple[str, bytes]], password: str) -> bytes:
    """A WinZip-AES encrypted zip, as phones and desktop zippers make them."""
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password.encode())
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_gz_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


@dataclass
class SeizedFolder:
    root: Path
    listed: dict[str, bytes]  # originals whose hashes are in the TEST set
    expected_matches: set[str] = field(default_factory=set)  # export paths
    expected_clean: set[str] = field(default_factory=set)
    hash_list: Path | None = None


def seized_folder(base: Path) -> SeizedFolder:
    """Two listed originals, their resized/recompressed copies (loose and in nested archives), and
    unrelated pictures."""
    root = base / "seized"
    (root / "DCIM").mkdir(parents=True)
    (root / "Downloads").mkdir()
    (root / "Documents").mkdir()
    originals = {f"orig{i}.jpg": photo_jpeg(seed=500 + i, width=800, height=600) for i in (1, 2)}
    for name, data in originals.items():
        (root / "DCIM" / name).write_bytes(data)
    small = encode(photo_like(501, 800, 600).resize((400, 300)), "JPEG", quality=60)
    (root / "DCIM" / "orig1_small.jpg").write_bytes(small)
    png_copy = encode(photo_like(502, 800, 600), "PNG")
    (root / "Downloads" / "orig2.png").write_bytes(png_copy)
    for seed in (600, 601, 602):
        (root / "DCIM" / f"other{seed}.jpg").write_bytes(photo_jpeg(seed=seed, width=800, height=600))
    inner = tar_gz_bytes(
        [("deep/orig2_again.jpg", originals["orig2.jpg"]), ("deep/other.jpg", photo_jpeg(603))]
    )
    outer = zip_bytes([("a/orig1.jpg", small), ("a/inner.tar.gz", inner), ("a/readme.txt", b"hello\n")])
    (root / "Downloads" / "share.zip").write_bytes(outer)
    (root / "Documents" / "notes.txt").write_text("meeting on tuesday\n")

    hash_list = base / "TEST-alert.csv"
    rows = ["md5,category,series"]
    rows += [f"{hashlib.md5(originals['orig1.jpg']).hexdigest()},TEST-A,TEST-series"]
    hash_list.write_text("\n".join(rows) + "\n")

    folder = SeizedFolder(root=root, listed=originals, hash_list=hash_list)
    folder.expected_matches = {
        "seized/DCIM/orig1.jpg",
        "seized/DCIM/orig1_small.jpg",
        "seized/DCIM/orig2.jpg",
        "seized/Downloads/orig2.png",
        "seized/Downloads/share.zip!/a/orig1.jpg",
        "seized/Downloads/share.zip!/a/inner.tar.gz!/deep/orig2_again.jpg",
    }
    folder.expected_clean = {
        "seized/DCIM/other600.jpg",
        "seized/DCIM/other601.jpg",
        "seized/DCIM/other602.jpg",
        "seized/Downloads/share.zip!/a/inner.tar.gz!/deep/other.jpg",
        "seized/Documents/notes.txt",
    }
    return folder


def pdq_list(path: Path, pictures: list[bytes], category: str = "TEST-B") -> Path:
    lines = ["pdq,category,series"] + [f"{full_pdq(data)},{category},TEST-series" for data in pictures]
    path.write_text("\n".join(lines) + "\n")
    return path
