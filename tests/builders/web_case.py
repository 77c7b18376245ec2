"""A small scanned case for the review workspace's tests: benign generated pictures only.

What it holds, and why:
- DCIM/cam1.jpg .. cam3.jpg: camera pictures with EXIF (one serial, GPS on two) — camera serial filter,
  same-camera panel, GPS filter;
- DCIM/cam1.jpg copied to Backup/cam1-copy.jpg (same content: one decision covers both);
- DCIM/cam2_small.jpg: cam2 resized and recompressed (a near-duplicate stack);
- WhatsApp/Media/known.jpg listed in a TEST hash set (VICS category 1): the only matched picture;
- Downloads/<img src=x onerror=alert(1)>.jpg with the same string in its EXIF make: must render inert;
- icons/icon.png: a tiny picture, ranked last.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from tests.builders.images import camera_exif, encode, photo_jpeg, photo_like

HOSTILE = "<img src=x onerror=alert(1)>"
CASE = "WEB-TEST-1"
OTHER_CASE = "WEB-TEST-2"


@dataclass
class WebCase:
    root: Path
    known_md5: str


def build_folder(base: Path) -> WebCase:
    root = base / "phone"
    for folder in ("DCIM", "Backup", "WhatsApp/Media", "Downloads", "icons"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    cam = [
        photo_jpeg(
            seed=900 + i,
            width=800,
            height=600,
            exif=camera_exif(
                serial="SN-TEST-7", when=f"2024:0{i + 1}:10 10:00:00", gps=(31.95, 35.93) if i < 2 else None
            ),
        )
        for i in range(3)
    ]
    for i, data in enumerate(cam):
        (root / "DCIM" / f"cam{i + 1}.jpg").write_bytes(data)
    shutil.copyfile(root / "DCIM" / "cam1.jpg", root / "Backup" / "cam1-copy.jpg")
    (root / "DCIM" / "cam2_small.jpg").write_bytes(
        encode(photo_like(901, 800, 600).resize((400, 300)), "JPEG", quality=70)
    )
    known = photo_jpeg(seed=950, width=640, height=480)
    (root / "WhatsApp" / "Media" / "known.jpg").write_bytes(known)
    hostile_exif = camera_exif(make=HOSTILE, model=HOSTILE, serial="SN-HOSTILE", gps=None)
    (root / "Downloads" / f"{HOSTILE}.jpg").write_bytes(
        photo_jpeg(seed=960, width=640, height=480, exif=hostile_exif)
    )
    (root / "icons" / "icon.png").write_bytes(encode(photo_like(970, 16, 16), "PNG"))
    return WebCase(root, hashlib.md5(known).hexdigest())


def scanned_case(store: Store, blobs: BlobStore, base: Path) -> WebCase:
    folder = build_folder(base)
    hash_list = base / "TEST-known.csv"
    hash_list.write_text(f"md5,category\n{folder.known_md5},1\n")
    import_hash_set(store, hash_list, name="TEST-known", kind="alert")
    create_case(store, CASE, "TEST review case")
    create_case(store, OTHER_CASE, "TEST case nobody here is assigned to")
    run_scan(store, CASE, [folder.root], settings=ScanSettings(workers=0), blobs=blobs, quiet=True)
    return folder
