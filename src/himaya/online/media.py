"""Media a captured page shows or links to, and the pages it links to, read from its HTML.

The page is hostile input: it was reported because it shares abuse material, and whoever runs it may
have shaped it against crawlers. Its tags come from html_tags.py, a small tokenizer of the HTML
standard's kind (no new dependency, no script runs) that reads each character once and never raises,
and only http(s) locations are kept (and inline `data:` pictures, decoded here). URLs are resolved as
a browser would resolve them: against the first `<base href>`, wherever it stands, itself resolved
against the page URL.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urljoin, urlsplit, urlunsplit

from himaya.online.html_tags import tags

MEDIA_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif"),
        *("mp4", "m4v", "mov", "webm", "mkv", "avi", "wmv", "flv", "3gp", "mpg", "mpeg", "ts"),
    }
)

# Browsers accept far longer URLs, but a location longer than this is a crawler trap, not a picture;
# skipping it keeps one hostile attribute from costing megabytes per stored location.
MAX_URL_CHARS = 16 * 1024

# The HTML standard's prescan looks at the first 1024 bytes; pages in the wild put <meta charset> after
# long comments or scripts, so look a little further.
_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_DATA_URI = re.compile(r"data:([^,]*?),(.*)", re.IGNORECASE | re.DOTALL)
# Characters the URL standard strips or removes before parsing (leading/trailing C0 and space; tab and
# newlines anywhere).
_URL_STRIP = "".join(chr(c) for c in range(0x21))
_URL_REMOVE = str.maketrans("", "", "\t\n\r")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")

# WHATWG encoding labels that mean something else than Python's codec of the same name: browsers read
# a page labelled latin-1 or ascii as windows-1252, and a <meta> cannot declare UTF-16.
_ENCODING_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
}

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

_OG_KINDS = {
    "og:image": "og:image",
    "og:image:url": "og:image",
    "og:image:secure_url": "og:image",
    "og:video": "og:video",
    "og:video:url": "og:video",
    "og:video:secure_url": "og:video",
    "twitter:image": "twitter:image",
    "twitter:image:src": "twitter:image",
}
_LINK_IMAGE_RELS = frozenset({"image_src", "icon", "apple-touch-icon", "apple-touch-icon-precomposed"})
_LAZY_SRC = ("data-src", "data-original", "data-lazy-src")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
# CSS's whitespace, the same five characters as HTML's.
_WHITESPACE = "\t\n\f\r "


@dataclass(frozen=True)
class MediaLink:
    """One media location of a page.

    `found_in` says where the page named it: "img", "img-srcset", "picture-source", "video",
    "video-source", "video-poster", "audio-source", "og:image", "og:video", "twitter:image",
    "link-image", "a-media" (a link to a media file), "style" (CSS url() in a style attribute) or
    "data-uri" (a picture held in the page itself: `inline` has its bytes and `url` is the data: URI).
    """

    url: str
    found_in: str
    inline: bytes | None = None


def find_media(
    html: bytes, page_url: str, *, content_type: str | None = None, max_inline: int = 5 * 1024 * 1024
) -> list[MediaLink]:
    """Every media location the page names, in page order, each URL once (the first kind seen wins).

    `data:` pictures larger than `max_inline` once decoded, or that do not decode, are left out.
    """
    page = _parse(html, content_type)
    base = _document_base(page_url, page.base_href)
    found: dict[str, MediaLink] = {}
    for raw, kind in page.media:
        link = _media_link(raw, kind, base, max_inline)
        if link is not None and link.url not in found:
            found[link.url] = link
    return list(found.values())


def find_page_links(html: bytes, page_url: str, *, content_type: str | None = None) -> list[str]:
    """Absolute http(s) targets of the page's `<a href>` that are not media files, each once, in order."""
    page = _parse(html, content_type)
    base = _document_base(page_url, page.base_href)
    links: dict[str, None] = {}
    for raw in page.anchors:
        url = _absolute_http_url(raw, base)
        if url is not None and not is_media_url(url):
            links.setdefault(url, None)
    return list(links)


def is_media_url(url: str) -> bool:
    """Whether the URL's path ends in a picture or video extension (query and fragment ignored)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    name = path.rsplit("/", 1)[-1]
    if "." not in name:
        return False
    return name.rsplit(".", 1)[-1].lower() in MEDIA_EXTENSIONS


def is_media_type(content_type: str | None) -> bool:
    """image/* or video/*; `application/octet-stream` is not trusted either way (sniff the bytes)."""
    main = _media_type(content_type).split("/", 1)[0]
    return main in ("image", "video")


def is_html_type(content_type: str | None) -> bool:
    return _media_type(content_type) in ("text/html", "application/xhtml+xml")


def _media_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


# --- decoding ---------------------------------------------------------------------------------------


def page_text(html: bytes, content_type: str | None = None) -> str:
    """The page decoded as a browser would: BOM, then the header's charset, then `<meta>`, else UTF-8."""
    for bom, bom_encoding in _BOMS:
        if html.startswith(bom):
            return html[len(bom) :].decode(bom_encoding, errors="replace")
    encoding: str | None = _charset_of(content_type)
    if encoding is None:
        match = _META_CHARSET.search(html[:_PRESCAN_BYTES])
        if match is not None:
            encoding = _codec(match.group(1).decode("ascii", errors="replace"))
            if encoding is not None and encoding.startswith("utf-16"):
                encoding = "utf-8"
    return html.decode(encoding or "utf-8", errors="replace")


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return _codec(value.strip().strip("\"'"))
    return None


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    label = _ENCODING_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


# --- collecting -------------------------------------------------------------------------------------


@dataclass
class _Page:
    media: list[tuple[str, str]]  # (attribute value, kind), before resolution
    anchors: list[str]
    base_href: str | None


def _parse(html_bytes: bytes, content_type: str | None) -> _Page:
    """Raw attribute values; resolution waits until the document base is known."""
    page = _Page(media=[], anchors=[], base_href=None)
    # <source> means a picture or a video depending on the element it sits in; unclosed elements are
    # common, so this is a best-effort stack, popped to the matching end tag.
    containers: list[str] = []
    for tag in tags(page_text(html_bytes, content_type)):
        if tag.end:
            if tag.name in containers:
                while containers.pop() != tag.name:
                    pass
            continue
        _collect(page, tag.name, tag.attributes, containers[-1] if containers else None)
        if tag.name in ("picture", "video", "audio"):
            containers.append(tag.name)
    return page


def _collect(page: _Page, tag: str, attrs: dict[str, str], container: str | None) -> None:
    def add(value: str | None, kind: str) -> None:
        if value:
            page.media.append((value, kind))

    def add_srcset(value: str | None, kind: str) -> None:
        if value:
            page.media.extend((candidate, kind) for candidate in srcset_urls(value))

    if tag == "img":
        add(attrs.get("src"), "img")
        for name in _LAZY_SRC:
            add(attrs.get(name), "img")
        for name in ("srcset", *_LAZY_SRCSET):
            add_srcset(attrs.get(name), "img-srcset")
    elif tag == "source":
        if container == "picture" or (container is None and ("srcset" in attrs or "src" not in attrs)):
            for name in ("srcset", *_LAZY_SRCSET):
                add_srcset(attrs.get(name), "picture-source")
            add(attrs.get("src"), "picture-source")
        else:
            kind = "audio-source" if container == "audio" else "video-source"
            for name in ("src", *_LAZY_SRC):
                add(attrs.get(name), kind)
    elif tag == "video":
        for name in ("src", *_LAZY_SRC):
            add(attrs.get(name), "video")
        add(attrs.get("poster"), "video-poster")
    elif tag == "audio":
        add(attrs.get("src"), "audio-source")
    elif tag == "meta":
        og_kind = _OG_KINDS.get((attrs.get("property") or attrs.get("name") or "").strip().lower())
        if og_kind is not None:
            add(attrs.get("content"), og_kind)
    elif tag == "link":
        if set((attrs.get("rel") or "").lower().split()) & _LINK_IMAGE_RELS:
            add(attrs.get("href"), "link-image")
    elif tag == "a":
        href = attrs.get("href")
        if href:
            page.anchors.append(href)
            page.media.append((href, "a-media"))  # kept only if it names a media file
    elif tag == "base" and page.base_href is None and attrs.get("href"):
        page.base_href = attrs["href"]
    style = attrs.get("style")
    if style:
        for url in css_urls(style):
            add(url, "style")


def css_urls(css: str) -> Iterator[str]:
    """The targets of `url(...)` in a style attribute, read in one pass (a regex here was quadratic on
    a style full of unterminated "url(\\"")."""
    lowered = css.lower()
    position = 0
    while True:
        start = lowered.find("url(", position)
        if start < 0:
            return
        position = start + 4
        while position < len(css) and css[position] in _WHITESPACE:
            position += 1
        if position < len(css) and css[position] in "\"'":
            close = css.find(css[position], position + 1)
            if close < 0:
                return  # an unterminated string runs to the end of the style
            yield css[position + 1 : close]
            position = close + 1
        else:
            close = css.find(")", position)
            if close < 0:
                return
            yield css[position:close].strip(_WHITESPACE)
            position = close + 1


def srcset_urls(srcset: str) -> Iterator[str]:
    """The URL of every candidate in a srcset, whatever its descriptor (the HTML standard's splitting:
    a URL may itself hold commas, as data: URIs and some CDN paths do)."""
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            # Skip the descriptors, up to a comma that is not inside parentheses.
            depth = 0
            while position < length:
                char = srcset[position]
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth = max(0, depth - 1)
                elif char == "," and depth == 0:
                    break
                position += 1
        if url:
            yield url


# --- resolution -------------------------------------------------------------------------------------


def _clean(raw: str) -> str:
    return raw.strip(_URL_STRIP).translate(_URL_REMOVE)


def _document_base(page_url: str, base_href: str | None) -> str:
    if base_href is not None:
        base = _absolute_http_url(base_href, page_url, keep_fragment=True)
        if base is not None:
            return base
    return page_url


def _absolute_http_url(raw: str, base: str, *, keep_fragment: bool = False) -> str | None:
    value = _clean(raw)
    if not value or len(value) > MAX_URL_CHARS:
        return None
    scheme = _SCHEME.match(value)
    if scheme is None or scheme.group(1).lower() in ("http", "https"):
        # Browsers read '\' as '/' before the query in http(s) URLs; a page can use that to point
        # somewhere else than a naive reading says ("\\other.example\x.jpg" is on other.example).
        cut = _QUERY_OR_FRAGMENT.search(value)
        end = cut.start() if cut else len(value)
        value = value[:end].replace("\\", "/") + value[end:]
    try:
        parts = urlsplit(urljoin(base, value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    if keep_fragment:
        return urlunsplit(parts)
    return urlunsplit(parts._replace(fragment=""))


def _media_link(raw: str, kind: str, base: str, max_inline: int) -> MediaLink | None:
    value = _clean(raw)
    if value[:5].lower() == "data:":
        inline = _decode_data_picture(value, max_inline)
        return None if inline is None else MediaLink(url=value, found_in="data-uri", inline=inline)
    url = _absolute_http_url(value, base)
    if url is None or (kind == "a-media" and not is_media_url(url)):
        return None
    return MediaLink(url=url, found_in=kind)


def _decode_data_picture(uri: str, max_inline: int) -> bytes | None:
    match = _DATA_URI.fullmatch(uri)
    if match is None:
        return None
    header, payload = match.group(1).strip(), match.group(2)
    fields = [field.strip().lower() for field in header.split(";")]
    if not fields[0].startswith("image/"):
        return None
    if "base64" in fields[1:]:
        compact = "".join(unquote_to_bytes(payload).decode("ascii", errors="replace").split())
        # Decoded size is known before decoding: refuse an oversized picture without allocating it.
        if len(compact) * 3 // 4 > max_inline + 3:
            return None
        try:
            data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        if len(payload) > 3 * max_inline + 3:
            return None
        data = unquote_to_bytes(payload)
    if not data or len(data) > max_inline:
        return None
    return data
