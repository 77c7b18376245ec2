"""Benign full-file-system phone extractions, laid out the way extraction tools write them.

`android_dump(root)` and `ios_dump(root)` write a small tree under `root` and return
`{relative path: exact bytes}` for every file. The pictures are synthetic (`tests.builders.images`),
the app databases are junk bytes behind a real-looking header, and the Android tree carries a
`.thumbdata3` cache from `tests.builders.thumbcaches`. `ORIGINS_ANDROID` / `ORIGINS_IOS` say which origin
label (`himaya.sources.phone.origin_of`) each file should get.

`zip_tree` and `tar_tree` pack such a tree the way an examiner receives it (`dump.zip`, `dump.tar`),
optionally under an extra top folder, as some tools add one.
"""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from pathlib import Path

from tests.builders.images import encode, photo_jpeg, photo_like
from tests.builders.thumbcaches import thumbdata

_WA_GROUP = "5B6C7D8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F"
_TG_GROUP = "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0"
_APP = "9A8B7C6D-5E4F-4A3B-9C2D-1E0F1A2B3C4D"
_SAFARI = "11111111-2222-4333-8444-555555555555"
_BUNDLE = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"


def _junk(seed: int, size: int = 4096, header: bytes = b"SQLite format 3\x00") -> bytes:
    """An app database stand-in: a real header, then random bytes."""
    return header + random.Random(seed).randbytes(size - len(header))


def _jpeg(seed: int) -> bytes:
    return photo_jpeg(seed, 160, 120)


def _png(seed: int) -> bytes:
    return encode(photo_like(seed, 120, 160), "PNG")


# relative path -> expected origin label
ORIGINS_ANDROID: dict[str, str | None] = {
    "data/media/0/DCIM/Camera/IMG_20230514_101500.jpg": "camera",
    "data/media/0/DCIM/Camera/IMG_20230514_101502.jpg": "camera",
    "data/media/0/Pictures/Screenshots/Screenshot_20230514-111111.png": "screenshots",
    "data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20230514-WA0001.jpg": (
        "whatsapp"
    ),
    "data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-20230514-WA0002.jpg": (
        "whatsapp"
    ),
    "data/media/0/WhatsApp/Media/WhatsApp Images/IMG-20190101-WA0000.jpg": "whatsapp",
    "data/data/com.whatsapp/databases/msgstore.db": "whatsapp",
    "data/media/0/Telegram/Telegram Images/512345678_121212.jpg": "telegram",
    "data/media/0/Android/data/org.telegram.messenger/files/Telegram/Telegram Images/5_6.jpg": "telegram",
    "data/data/com.snapchat.android/files/file_manager/chat_snap/abc123.jpg": "snapchat",
    "data/data/com.snapchat.android/cache/uv/sdc.jpg": "snapchat",
    "data/media/0/Download/flyer.jpg": "downloads",
    "data/media/0/DCIM/.thumbnails/1684059300000.jpg": "thumbnails-cache",
    "data/media/0/DCIM/.thumbnails/.thumbdata3--1967290299": "thumbnails-cache",
    "data/data/com.android.chrome/app_chrome/Default/Cache/Cache_Data/f_000a1b": "browser-cache",
    "data/data/com.example.notes/databases/notes.db": "app-data",
    "system/build.prop": None,
}

ORIGINS_IOS: dict[str, str | None] = {
    "private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG": "camera",
    "private/var/mobile/Media/DCIM/100APPLE/IMG_0002.PNG": "camera",  # an iOS screenshot
    "private/var/mobile/Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.JPG/5005.JPG": (
        "thumbnails-cache"
    ),
    f"private/var/mobile/Containers/Shared/AppGroup/{_WA_GROUP}/Message/Media/"
    "441234567890@s.whatsapp.net/a/b/0a1b2c3d-e4f5-4a6b-8c7d-9e0f1a2b3c4d.jpg": "whatsapp",
    f"private/var/mobile/Containers/Shared/AppGroup/{_WA_GROUP}/ChatStorage.sqlite": "app-data",
    f"private/var/mobile/Containers/Shared/AppGroup/{_TG_GROUP}/telegram-data/account-1234/postbox/media/"
    "telegram-cloud-photo-size-1-2-y.jpg": "telegram",
    f"private/var/mobile/Containers/Data/Application/{_APP}/Documents/"
    "com.snap.file_manager_3_SCContent_0d1c2b3a/abc.jpg": "snapchat",
    f"private/var/mobile/Containers/Data/Application/{_SAFARI}/Library/Caches/com.apple.mobilesafari/"
    "Cache.db": "browser-cache",
    f"private/var/mobile/Containers/Data/Application/{_APP}/Library/Application Support/store.sqlite": (
        "app-data"
    ),
    "private/var/mobile/Library/SMS/sms.db": None,
    f"private/var/containers/Bundle/Application/{_BUNDLE}/Notes.app/Info.plist": None,
}


def _contents(origins: dict[str, str | None], seed: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for n, path in enumerate(origins):
        name = path.rsplit("/", 1)[-1].lower()
        if name.startswith(".thumbdata"):
            files[path] = thumbdata()[0]
        elif name.endswith((".jpg", ".jpeg")):
            files[path] = _jpeg(seed + n)
        elif name.endswith(".png"):
            files[path] = _png(seed + n)
        elif name == "build.prop":
            files[path] = b"ro.product.model=TEST-PHONE\nro.build.version.release=13\n"
        elif name == "info.plist":
            files[path] = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict/></plist>\n'
        else:
            files[path] = _junk(seed + n)
    return files


def _write(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for relative, data in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


def android_dump(root: Path) -> dict[str, bytes]:
    """An Android full-file-system extraction (`data/data`, `data/media/0`, `system/build.prop`)."""
    return _write(root, _contents(ORIGINS_ANDROID, seed=9600))


def ios_dump(root: Path) -> dict[str, bytes]:
    """An iOS full-file-system extraction (`private/var/mobile`, `private/var/containers`)."""
    return _write(root, _contents(ORIGINS_IOS, seed=9700))


def _tree(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def zip_tree(root: Path, out: Path, top: str = "") -> Path:
    """Every file under `root` in a zip at `out`, each under `top` (e.g. "Extraction/") if given."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _tree(root):
            archive.write(path, top + path.relative_to(root).as_posix())
    return out


def tar_tree(root: Path, out: Path, top: str = "", mode: str = "w") -> Path:
    """Every file under `root` in a tar at `out` (`mode` "w:gz" for a .tar.gz), each under `top`."""
    with tarfile.open(out, mode) as archive:
        for path in _tree(root):
            archive.add(path, top + path.relative_to(root).as_posix())
    return out


def zip_bytes(files: dict[str, bytes], top: str = "") -> bytes:
    """The same files in an in-memory zip, for tests that read members without touching disk."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, data in files.items():
            archive.writestr(top + relative, data)
    return out.getvalue()
