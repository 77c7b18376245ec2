"""Phone extractions: where on a seized phone (or computer) a file sits, and what an extraction looks like.

Pure functions over readable paths (`dump.zip!/data/media/0/DCIM/Camera/IMG_1.jpg`); nothing is opened.

`origin_of(path)` gives the place a reviewer filters by ("camera", "whatsapp", "thumbnails-cache", ...)
from the path's folders, whatever container layers come before them. Only folder names count, matched
whole and case-insensitively: a file called `whatsapp.jpg` is not from WhatsApp, a folder called
`WhatsApp` is. The one exception is a thumbnail cache, which is recognised by its own file name
(`thumbcache_256.db`, `Thumbs.db`, `.thumbdata3-…`) whether it is the file itself or the container a
picture came out of (`thumbcache_256.db!/7c9f0a3be2d4c1e1.jpg`).

`detect_layout(paths)` tells an Android or iOS full-file-system extraction from its marker folders, and
where in the evidence it starts (`dump.zip!/`, `case/phone/`, or the top).

Limitation: on iOS an app's own container is a random UUID (`Containers/Data/Application/<UUID>/`);
which app it belongs to is written in a metadata file inside it, not in the path. Such files are
"app-data" unless a folder name gives the app away (Snapchat's `com.snap.file_manager_…`, WhatsApp's
shared `AppGroup/<UUID>/Message/Media/`, Telegram's `telegram-data`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ORIGINS",
    "Origin",
    "PhoneLayout",
    "detect_layout",
    "origin_labels",
    "origin_of",
]

# -- where a file comes from -----------------------------------------------------------------------------

_ANY = "**"  # in a folder pattern: any number of folders, none included
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PACKAGE = r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+"  # an Android package / iOS bundle id
# iOS backups and logical extractions name app folders by domain: AppDomain-<bundle id>,
# AppDomainGroup-group.<id>, AppDomainPlugin-<id>.
_DOMAIN = r"(appdomain(group|plugin)?-)?"


def _app(*ids: str) -> str:
    """A folder named by one of these package / bundle ids (regexes), under any iOS domain prefix."""
    return _DOMAIN + "(" + "|".join(ids) + ")"


_BROWSERS = _app(
    r"com\.android\.chrome",
    r"com\.chrome\.(beta|dev|canary)",
    r"com\.google\.chrome\.ios",
    r"com\.sec\.android\.app\.sbrowser(\.[a-z]+)?",
    r"org\.mozilla\.(firefox|fenix|firefox_beta|fennec_[a-z]+|focus|ios\.firefox)",
    r"com\.opera\.[a-z.]+",
    r"com\.brave\.browser",
    r"com\.microsoft\.emmx",
    r"com\.duckduckgo\.mobile\.[a-z.]+",
    r"com\.kiwibrowser\.browser",
    r"com\.apple\.(mobile)?safari",
)
_CACHE = r"(cache|caches|cache_data|cache2|networkcache|http ?cache|webcache|app_webview)"


@dataclass(frozen=True)
class Origin:
    """One label of the vocabulary and the paths that earn it.

    `folders`: patterns, each a run of consecutive folder names (regexes, matched whole and
    case-insensitively; `**` stands for any number of folders) that must appear somewhere among the
    path's folders. `files`: file-name regexes for the file itself or any container on its path.
    """

    label: str
    description: str
    folders: tuple[tuple[str, ...], ...] = ()
    files: tuple[str, ...] = ()


# The vocabulary, checked in this order: the first label whose pattern matches is the file's origin.
# Messaging and social apps come first, so that their own caches and sent folders stay theirs.
ORIGINS: tuple[Origin, ...] = (
    Origin(
        "whatsapp",
        "WhatsApp and WhatsApp Business media: Android `WhatsApp/Media/…` (old layout) and "
        "`Android/media/com.whatsapp/WhatsApp/…`, the app's data folder, and on iOS the shared "
        "`AppGroup/<UUID>/Message/Media/` container.",
        folders=(
            ("whatsapp( business)?",),
            ("whatsapp (images|video|animated gifs|documents|audio|voice notes|stickers|profile photos)",),
            (_app(r"com\.whatsapp(\.w4b)?", r"(group\.)?net\.whatsapp\.[a-z.]+"),),
            ("appgroup", _UUID, "message", "media"),
        ),
    ),
    Origin(
        "telegram",
        "Telegram: the `Telegram/Telegram Images|Video|Documents` folders, `org.telegram.messenger` "
        "(and Telegram X), Telegram Desktop downloads, and iOS Telegram containers (`telegram-data`, "
        "`ph.telegra.Telegraph`).",
        folders=(
            ("telegram( desktop| x)?",),
            ("telegram (images|video|documents|audio|stickers)",),
            (
                _app(
                    r"org\.telegram\.[a-z.]+",
                    r"org\.thunderdog\.challegram",
                    r"(group\.)?ph\.telegra\.telegraph",
                ),
            ),
            ("telegram-data",),
        ),
    ),
    Origin(
        "signal",
        "Signal: `org.thoughtcrime.securesms` on Android, `org.whispersystems.signal` on iOS, a `Signal` "
        "folder (saved attachments, Signal Desktop).",
        folders=(
            ("signal",),
            (_app(r"org\.thoughtcrime\.securesms", r"(group\.)?org\.whispersystems\.signal(\.[a-z.]+)?"),),
        ),
    ),
    Origin(
        "snapchat",
        "Snapchat: `com.snapchat.android`, iOS `com.toyopagroup.picaboo` and its `com.snap.file_manager…` "
        "folders, a `Snapchat` folder (saved snaps).",
        folders=(
            ("snapchat",),
            (_app(r"com\.snapchat\.android", r"(group\.)?com\.toyopagroup\.picaboo(\.[a-z.]+)?"),),
            (r"com\.snap\.file_manager[^/]*",),
        ),
    ),
    Origin(
        "instagram",
        "Instagram: `com.instagram.android`, iOS `com.burbn.instagram`, an `Instagram` folder.",
        folders=(("instagram",), (_app(r"com\.instagram\.[a-z.]+", r"(group\.)?com\.burbn\.instagram"),)),
    ),
    Origin(
        "messenger",
        "Facebook Messenger: `com.facebook.orca` (and Messenger Lite), iOS `com.facebook.Messenger`, a "
        "`Messenger` folder.",
        folders=(
            ("messenger",),
            (_app(r"com\.facebook\.(orca|mlite)", r"(group\.)?com\.facebook\.messenger"),),
        ),
    ),
    Origin(
        "facebook",
        "Facebook: `com.facebook.katana` (and Lite), iOS `com.facebook.Facebook`, a `Facebook` folder.",
        folders=(
            ("facebook",),
            (_app(r"com\.facebook\.(katana|lite)", r"(group\.)?com\.facebook\.facebook"),),
        ),
    ),
    Origin(
        "browser-cache",
        "A web browser's cache: Chrome, Samsung Internet, Firefox, Opera, Brave, Edge, Safari (Android "
        "package or iOS bundle with a cache folder, iOS `Library/Caches/com.apple.mobilesafari`, WebKit "
        "`NetworkCache`, desktop Chrome / Edge / Firefox caches).",
        folders=(
            (_BROWSERS, _ANY, _CACHE),
            (_CACHE, _BROWSERS),
            ("webkit", "networkcache"),
            ("google", "chrome", _ANY, _CACHE),
            ("microsoft", "edge", _ANY, _CACHE),
            ("mozilla", "firefox", _ANY, "cache2"),
        ),
    ),
    Origin(
        "thumbnails-cache",
        "Thumbnail caches, which may hold the only copy of a deleted picture: Android `.thumbnails` "
        "folders and `.thumbdata*` files, iOS `PhotoData/Thumbnails`, Windows `thumbcache_*.db` and "
        "`Thumbs.db`, and the pictures taken out of them.",
        folders=((r"\.thumbnails",), ("photodata", "thumbnails")),
        files=(r"thumbcache_[^/]*\.db", r"thumbs\.db", r"\.thumbdata[^/]*"),
    ),
    Origin(
        "screenshots",
        "Screenshots: a `Screenshots` folder (Android `Pictures/Screenshots` or `DCIM/Screenshots`). iOS "
        'keeps screenshots in the camera roll, so they are "camera" there.',
        folders=(("screenshots?",),),
    ),
    Origin(
        "camera",
        "The camera roll: anything under `DCIM` (Android `DCIM/Camera`, iOS `Media/DCIM/100APPLE`, a "
        "camera's memory card), edits and derivatives included.",
        folders=(("dcim",),),
    ),
    Origin(
        "app-data",
        "Any other app's own storage: Android `data/data/<package>/`, `data/user/<n>/<package>/`, "
        "`Android/data|media/<package>/`; iOS `Containers/Data/Application/<UUID>/` and "
        "`Containers/Shared/AppGroup/<UUID>/`.",
        folders=(
            ("data", "data", _PACKAGE),
            ("data", "user(_de)?", r"\d+", _PACKAGE),
            ("android", "(data|media|obb)", _PACKAGE),
            ("containers", "data", "(application|pluginkitplugin)", _UUID),
            ("containers", "shared", "appgroup", _UUID),
        ),
    ),
    Origin(
        "downloads",
        "The user's downloads: a `Download` or `Downloads` folder.",
        folders=(("downloads?",),),
    ),
)


def origin_labels() -> dict[str, str]:
    """Every label with its description, in the order they are tried (for documentation)."""
    return {origin.label: origin.description for origin in ORIGINS}


@dataclass(frozen=True)
class _Compiled:
    label: str
    folders: re.Pattern[str] | None  # searched in "/a/b/c/": the path's folders
    files: re.Pattern[str] | None  # searched in "/a/b/c/name/": every name, the file's own included


def _run(pattern: tuple[str, ...]) -> str:
    """A folder pattern as a regex over "/"-joined names: each name is followed by a "/"."""
    return "".join(r"(?:[^/]+/)*" if part == _ANY else f"(?:{part})/" for part in pattern)


def _compile(origin: Origin) -> _Compiled:
    # One search per label and path keeps origin_of cheap: the writer calls it for every file.
    folders = "|".join(_run(pattern) for pattern in origin.folders)
    files = "|".join(f"(?:{name})/" for name in origin.files)
    flags = re.IGNORECASE
    return _Compiled(
        origin.label,
        re.compile(f"/(?:{folders})", flags) if folders else None,
        re.compile(f"/(?:{files})", flags) if files else None,
    )


_COMPILED = tuple(_compile(origin) for origin in ORIGINS)


def _segments(path: str) -> list[str]:
    """A readable path's names, container layers included (`a.zip!/b/c` -> a.zip, b, c)."""
    return [part.removesuffix("!") for part in re.split(r"[/\\]", path) if part not in ("", "!")]


def origin_of(path: str) -> str | None:
    """Where on a phone or computer the file at `path` comes from, as a label of `ORIGINS`; None if the
    path says nothing a reviewer would filter by (`Users/x/Pictures/a.jpg`)."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    by_folders = _folders_origin(path[: cut + 1]) if cut >= 0 else len(_COMPILED)
    own_name = f"/{path[cut + 1 :]}/"
    for origin in _COMPILED[:by_folders]:
        if origin.files is not None and origin.files.search(own_name):
            return origin.label
    return _COMPILED[by_folders].label if by_folders < len(_COMPILED) else None


@functools.lru_cache(maxsize=16_384)
def _folders_origin(head: str) -> int:
    """The index in `ORIGINS` of the first label the folders of a path's `head` (all before the file
    name) earn, len(ORIGINS) for none. Cached: the files of one folder come together, and the writer
    asks for every file."""
    folders = "/" + "".join(f"{name}/" for name in _segments(head))
    for index, origin in enumerate(_COMPILED):
        if origin.files is not None and origin.files.search(folders):
            return index
        if origin.folders is not None and origin.folders.search(folders):
            return index
    return len(_COMPILED)


# -- what an extraction looks like -----------------------------------------------------------------------

Platform = Literal["android", "ios"]


@dataclass(frozen=True)
class PhoneLayout:
    """A phone extraction found in evidence.

    `root` is the readable path prefix where the phone's file system starts (`""` when it is the top of
    the evidence, `dump.zip!/` inside a zip, `case/phone/` inside folders). `markers` are the marker
    folders seen (`data/data/`, `private/var/mobile/`, ...), and `evidence` one path that showed each.
    """

    platform: Platform
    root: str
    markers: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class _Marker:
    platform: Platform
    name: str  # as reported
    parts: tuple[re.Pattern[str], ...]
    is_file: bool = False  # the last part is the file itself (otherwise every part is a folder)


def _marker(platform: Platform, name: str, *parts: str, is_file: bool = False) -> _Marker:
    return _Marker(platform, name, tuple(re.compile(p, re.IGNORECASE) for p in parts), is_file)


_MARKERS = (
    # data/data/<package>/: the package makes a stray "data/data" folder on a computer no marker.
    _marker("android", "data/data/", "data", "data", _PACKAGE),
    _marker("android", "data/media/0/", "data", "media", "0"),
    _marker("android", "sdcard/", "sdcard"),
    _marker("android", "storage/emulated/0/", "storage", "emulated", r"\d+"),
    _marker("android", "system/build.prop", "system", r"build\.prop", is_file=True),
    _marker("ios", "private/var/mobile/", "private", "var", "mobile"),
    _marker("ios", "private/var/containers/", "private", "var", "containers"),
)
LAYOUT_SAMPLE = 20_000  # paths looked at, at most
_CONFIDENT = 2  # distinct markers under one root that settle the question early


def _markers_in(path: str) -> Iterable[tuple[_Marker, str]]:
    """Each marker the path shows (its first occurrence), with the path prefix before it."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^/]+", path)]
    names = [path[start:end].removesuffix("!") for start, end in spans]
    for marker in _MARKERS:
        width = len(marker.parts)
        # A folder marker needs something below it; a file marker is the path's last name.
        starts = [len(names) - width] if marker.is_file else range(len(names) - width)
        for start in starts:
            if start < 0:
                continue
            window = names[start : start + width]
            if all(part.fullmatch(name) for part, name in zip(marker.parts, window, strict=True)):
                yield marker, path[: spans[start][0]]
                break


def detect_layout(paths: Iterable[str], limit: int = LAYOUT_SAMPLE) -> PhoneLayout | None:
    """The phone extraction the evidence's paths show, or None.

    Reads at most `limit` paths, and stops as soon as two different markers were seen under the same
    root. Otherwise the root with the most distinct markers wins (the first seen on a tie); one marker is
    enough, since an extraction may hold only part of the phone (`sdcard/` alone, say).
    """
    found: dict[tuple[Platform, str], dict[str, str]] = {}  # (platform, root) -> marker -> first path
    for count, path in enumerate(paths):
        if count >= limit:
            break
        for marker, root in _markers_in(path):
            seen = found.setdefault((marker.platform, root), {})
            seen.setdefault(marker.name, path)
            if len(seen) >= _CONFIDENT:
                return _layout(marker.platform, root, seen)
    if not found:
        return None
    (platform, root), seen = max(found.items(), key=lambda item: len(item[1]))  # first wins a tie
    return _layout(platform, root, seen)


def _layout(platform: Platform, root: str, seen: dict[str, str]) -> PhoneLayout:
    return PhoneLayout(platform, root, tuple(seen), tuple(seen.values()))
