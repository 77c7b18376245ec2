"""Phone extractions: the origin label of a path, and recognising an Android or iOS extraction."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.config import ArchiveLimits
from himaya.sources.archive import ExtractionBudget, detect_archive, iter_members
from himaya.sources.interface import FileEntry
from himaya.sources.phone import ORIGINS, PhoneLayout, detect_layout, origin_labels, origin_of
from tests.builders.phones import (
    ORIGINS_ANDROID,
    ORIGINS_IOS,
    android_dump,
    ios_dump,
    tar_tree,
    zip_bytes,
    zip_tree,
)

WA = "5B6C7D8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F"
APP = "9A8B7C6D-5E4F-4A3B-9C2D-1E0F1A2B3C4D"

# -- origin_of -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # camera
        ("seized/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG", "camera"),
        ("data/media/0/DCIM/Camera/IMG_20230514_101500.jpg", "camera"),
        ("sdcard/DCIM/100ANDRO/DSC_0001.JPG", "camera"),
        ("dump.zip!/storage/emulated/0/DCIM/Camera/VID_20230101.mp4", "camera"),
        (
            "private/var/mobile/Media/PhotoData/Mutations/DCIM/100APPLE/IMG_0003/Adjustments/FullSizeRender.jpg",
            "camera",
        ),
        ("E:/DCIM/100CANON/IMG_1234.JPG", "camera"),
        # screenshots
        ("data/media/0/Pictures/Screenshots/Screenshot_20230514-111111.png", "screenshots"),
        ("sdcard/DCIM/Screenshots/Screenshot_2023.jpg", "screenshots"),
        # whatsapp
        ("dump.zip!/data/media/0/WhatsApp/Media/WhatsApp Images/IMG-2023.jpg", "whatsapp"),
        ("data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-1.jpg", "whatsapp"),
        (
            "data/media/0/Android/media/com.whatsapp.w4b/WhatsApp Business/Media/WhatsApp Business Images/"
            "a.jpg",
            "whatsapp",
        ),
        ("data/data/com.whatsapp/databases/msgstore.db", "whatsapp"),
        (
            f"private/var/mobile/Containers/Shared/AppGroup/{WA}/Message/Media/4412@s.whatsapp.net/a/b/c.jpg",
            "whatsapp",
        ),
        ("backup/AppDomainGroup-group.net.whatsapp.WhatsApp.shared/Message/Media/x/y.jpg", "whatsapp"),
        ("phone.tar!/sdcard/WhatsApp/Media/.Statuses/abc.jpg", "whatsapp"),
        # telegram
        ("sdcard/Telegram/Telegram Images/512345678_121212.jpg", "telegram"),
        ("sdcard/Android/data/org.telegram.messenger/files/Telegram/Telegram Video/1.mp4", "telegram"),
        ("data/data/org.telegram.messenger.web/files/cache/-123_456.jpg", "telegram"),
        (
            f"private/var/mobile/Containers/Shared/AppGroup/{WA}/telegram-data/account-1/postbox/media/x.jpg",
            "telegram",
        ),
        ("Users/bob/Downloads/Telegram Desktop/photo_2023.jpg", "telegram"),
        # snapchat
        ("data/data/com.snapchat.android/files/file_manager/chat_snap/abc.jpg", "snapchat"),
        ("data/data/com.snapchat.android/cache/uv/sdc.jpg", "snapchat"),
        (
            f"private/var/mobile/Containers/Data/Application/{APP}/Documents/com.snap.file_manager_3_SCContent_0d/a",
            "snapchat",
        ),
        ("sdcard/Pictures/Snapchat/Snapchat-123.jpg", "snapchat"),
        # signal, instagram, facebook, messenger
        ("data/data/org.thoughtcrime.securesms/app_parts/part123.mms", "signal"),
        ("sdcard/Pictures/Signal/signal-2023-01-01.jpg", "signal"),
        ("sdcard/Pictures/Instagram/IMG_20230101.jpg", "instagram"),
        ("data/data/com.instagram.android/cache/images/x.jpg", "instagram"),
        ("sdcard/DCIM/Facebook/FB_IMG_1.jpg", "facebook"),
        ("data/data/com.facebook.katana/cache/images/x", "facebook"),
        ("sdcard/Pictures/Messenger/received_1.jpeg", "messenger"),
        ("data/data/com.facebook.orca/cache/image/x", "messenger"),
        # downloads
        ("data/media/0/Download/flyer.jpg", "downloads"),
        ("Users/bob/Downloads/a.jpg", "downloads"),
        # thumbnail caches
        ("data/media/0/DCIM/.thumbnails/1684059300000.jpg", "thumbnails-cache"),
        ("sdcard/DCIM/.thumbnails/.thumbdata3--1967290299", "thumbnails-cache"),
        ("sdcard/DCIM/.thumbnails/.thumbdata3--1967290299!/thumb-10013.jpg", "thumbnails-cache"),
        (
            "private/var/mobile/Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.JPG/5005.JPG",
            "thumbnails-cache",
        ),
        (
            "disk.E01!/Users/bob/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db",
            "thumbnails-cache",
        ),
        (
            "Users/bob/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db!/7c9f0a3be2d4c1e1.jpg",
            "thumbnails-cache",
        ),
        ("usb/Photos/Thumbs.db!/holiday.jpg", "thumbnails-cache"),
        ("usb/Photos/THUMBS.DB", "thumbnails-cache"),
        # browser caches
        ("data/data/com.android.chrome/app_chrome/Default/Cache/Cache_Data/f_000a1b", "browser-cache"),
        ("data/data/com.sec.android.app.sbrowser/cache/Cache/abc", "browser-cache"),
        ("data/data/org.mozilla.firefox/cache/mozac_browser_icons/x", "browser-cache"),
        ("private/var/mobile/Library/Caches/com.apple.mobilesafari/Cache.db", "browser-cache"),
        (
            f"private/var/mobile/Containers/Data/Application/{APP}/Library/Caches/WebKit/NetworkCache/"
            "Version 16/a",
            "browser-cache",
        ),
        (
            "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Cache/Cache_Data/f_000001",
            "browser-cache",
        ),
        # other apps' data
        ("data/data/com.example.notes/databases/notes.db", "app-data"),
        ("data/user/0/com.example.notes/files/a.jpg", "app-data"),
        ("sdcard/Android/data/com.example.game/files/cover.png", "app-data"),
        (f"private/var/mobile/Containers/Data/Application/{APP}/Documents/photo.jpg", "app-data"),
        ("data/data/com.android.chrome/app_chrome/Default/History", "app-data"),  # a browser, but no cache
        # a container layer before it changes nothing
        ("case/dump.zip!/inner.tar!/data/media/0/DCIM/Camera/IMG_1.jpg", "camera"),
    ],
)
def test_origin_of(path: str, expected: str) -> None:
    assert origin_of(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "Users/x/Pictures/a.jpg",
        "Users/x/Pictures/whatsapp.jpg",  # a file name is no folder
        "Users/x/Pictures/WhatsApp-export.zip",
        "Users/x/Documents/telegram.txt",
        "Users/x/Pictures/camera/img.jpg",  # "camera" alone (no DCIM) says nothing about a phone
        "data/data/file.csv",  # "data/data" without a package is a computer folder
        "Users/x/Pictures/my whatsapp pictures/a.jpg",  # a folder name must match whole
        "private/var/mobile/Library/SMS/sms.db",
        "dcim.jpg",
        "",
        "a.zip!/",
    ],
)
def test_paths_that_say_nothing_have_no_origin(path: str) -> None:
    assert origin_of(path) is None


def test_origin_is_case_insensitive() -> None:
    assert origin_of("SDCARD/whatsapp/MEDIA/whatsapp images/A.JPG") == "whatsapp"
    assert origin_of("sdcard/dcim/camera/a.jpg") == origin_of("SDCARD/DCIM/CAMERA/A.JPG") == "camera"


def test_backslash_paths_are_split_too() -> None:
    assert origin_of("C:\\Users\\bob\\AppData\\Local\\Microsoft\\Windows\\Explorer\\thumbcache_96.db") == (
        "thumbnails-cache"
    )
    assert origin_of("phone.zip!/sdcard\\DCIM\\Camera\\a.jpg") == "camera"


def test_vocabulary_is_documented_once() -> None:
    labels = origin_labels()
    assert list(labels) == [origin.label for origin in ORIGINS]
    assert set(labels) == {
        "whatsapp",
        "telegram",
        "signal",
        "snapchat",
        "instagram",
        "messenger",
        "facebook",
        "browser-cache",
        "thumbnails-cache",
        "screenshots",
        "camera",
        "app-data",
        "downloads",
    }
    assert all(description.strip() for description in labels.values())


@pytest.mark.parametrize(("tree", "origins"), [(android_dump, ORIGINS_ANDROID), (ios_dump, ORIGINS_IOS)])
def test_builder_trees_get_their_expected_origins(
    tree: object, origins: dict[str, str | None], tmp_path: Path
) -> None:
    files = tree(tmp_path)  # type: ignore[operator]
    assert set(files) == set(origins)
    assert {path: origin_of(f"seized/{path}") for path in files} == origins


# -- detect_layout -------------------------------------------------------------------------------------


def test_android_extraction_is_recognised(tmp_path: Path) -> None:
    layout = detect_layout(android_dump(tmp_path))
    assert layout is not None
    assert layout.platform == "android" and layout.root == ""
    assert len(layout.markers) >= 2 and set(layout.markers) <= {
        "data/data/",
        "data/media/0/",
        "system/build.prop",
    }
    assert len(layout.evidence) == len(layout.markers)


def test_ios_extraction_is_recognised(tmp_path: Path) -> None:
    layout = detect_layout(sorted(ios_dump(tmp_path)))
    assert layout is not None
    assert (layout.platform, layout.root) == ("ios", "")
    assert set(layout.markers) == {"private/var/mobile/", "private/var/containers/"}


def test_a_single_marker_is_enough(tmp_path: Path) -> None:
    layout = detect_layout(["sdcard/DCIM/Camera/a.jpg", "sdcard/Download/b.pdf"])
    assert layout == PhoneLayout("android", "", ("sdcard/",), ("sdcard/DCIM/Camera/a.jpg",))


def test_extraction_wrapped_in_containers_and_folders(tmp_path: Path) -> None:
    files = android_dump(tmp_path)
    wrapped = detect_layout(f"dump.zip!/Extraction_01/{path}" for path in files)
    assert wrapped is not None
    assert (wrapped.platform, wrapped.root) == ("android", "dump.zip!/Extraction_01/")
    assert all(path.startswith("dump.zip!/Extraction_01/") for path in wrapped.evidence)
    folders = detect_layout(f"case-42/phone/{path}" for path in ios_dump(tmp_path / "ios"))
    assert folders is not None and (folders.platform, folders.root) == ("ios", "case-42/phone/")


def container(name: str) -> FileEntry:
    return FileEntry(locator=name, path=name, size=None, mtime=None, depth=0, open=None)


def member_paths(data: bytes, name: str) -> Iterator[str]:
    fmt = detect_archive(data[:8192], name)
    assert fmt is not None
    limits = ArchiveLimits()
    for entry in iter_members(
        container(name), io.BytesIO(data), fmt, limits=limits, passwords=(), budget=ExtractionBudget(limits)
    ):
        yield entry.path


@pytest.mark.parametrize("pack", ["zip", "tar", "tar.gz"])
def test_packed_extractions_are_recognised_from_their_member_paths(pack: str, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    android_dump(root)
    out = tmp_path / f"dump.{pack}"
    if pack == "zip":
        zip_tree(root, out, top="Android FFS/")
    else:
        tar_tree(root, out, top="Android FFS/", mode="w:gz" if pack == "tar.gz" else "w")
    paths = list(member_paths(out.read_bytes(), out.name))
    layout = detect_layout(paths)
    assert layout is not None
    assert (layout.platform, layout.root) == ("android", f"dump.{pack}!/Android FFS/")
    # The origins hold inside the container as well.
    assert origin_of(f"dump.{pack}!/Android FFS/data/media/0/DCIM/Camera/IMG_20230514_101500.jpg") == "camera"


def test_in_memory_zip_of_an_ios_tree(tmp_path: Path) -> None:
    files = ios_dump(tmp_path)
    layout = detect_layout(member_paths(zip_bytes(files), "iphone.zip"))
    assert layout is not None and (layout.platform, layout.root) == ("ios", "iphone.zip!/")


@pytest.mark.parametrize(
    "paths",
    [
        ["Users/bob/Pictures/a.jpg", "Users/bob/Documents/report.docx", "Windows/System32/drivers/etc/hosts"],
        ["project/data/data/file.csv", "project/data/README"],  # data/data without a package
        ["backup/sdcard"],  # a file called sdcard, not a folder
        ["notes/system/build.prop.txt"],
        [],
    ],
)
def test_other_trees_are_no_phone(paths: list[str]) -> None:
    assert detect_layout(paths) is None


def test_detect_layout_stops_early() -> None:
    seen: list[str] = []

    def paths() -> Iterator[str]:
        yield "data/data/com.example/a.db"
        yield "data/media/0/DCIM/Camera/a.jpg"
        for n in range(1_000_000):
            path = f"data/media/0/Pictures/{n}.jpg"
            seen.append(path)
            yield path

    layout = detect_layout(paths())
    assert layout is not None and layout.platform == "android"
    assert seen == []  # two distinct markers under one root settle it


def test_detect_layout_looks_at_a_bounded_number_of_paths() -> None:
    count = 0

    def paths() -> Iterator[str]:
        nonlocal count
        for n in range(1_000_000):
            count += 1
            yield f"Users/bob/Pictures/{n}.jpg"
        yield "sdcard/DCIM/a.jpg"

    assert detect_layout(paths(), limit=500) is None
    assert count <= 501


def test_the_root_with_most_markers_wins() -> None:
    paths = [
        "stray/sdcard/a.jpg",  # one marker under "stray/"
        "phone/private/var/mobile/Media/DCIM/100APPLE/IMG_1.JPG",
        "phone/private/var/containers/Bundle/Application/X/App.app/Info.plist",
    ]
    layout = detect_layout(paths)
    assert layout is not None and (layout.platform, layout.root) == ("ios", "phone/")
