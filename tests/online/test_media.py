"""Media and page links found in captured HTML: a realistic page, encodings, and hostile input."""

from __future__ import annotations

import base64
import io
import time
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from himaya.online.media import (
    MediaLink,
    find_media,
    find_page_links,
    is_html_type,
    is_media_type,
    is_media_url,
    srcset_urls,
)

PAGE_URL = "https://reported.example.com/thread/42?page=1#post-7"


def benign_png() -> bytes:
    """A 4×4 grey gradient: enough to be a real PNG, nothing else."""
    image = Image.new("L", (4, 4))
    image.putdata([i * 16 for i in range(16)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


PNG = benign_png()
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
GIF_PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAAAAACw="

REALISTIC_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Gallery</title>
<base href="https://cdn.example.net/gallery/">
<meta property="og:image" content="https://cdn.example.net/og/cover.jpg">
<meta name="twitter:image" content="/tw/card.png">
<link rel="shortcut icon" href="/favicon.ico">
<link rel="stylesheet" href="/site.css">
<script>var x = '<img src="in-script.jpg">';</script>
</head><body>
<img src="photos/a.jpg"
     srcset="photos/a-320.jpg 320w, photos/a-640.jpg 640w, //img.example.org/a-1280.jpg 1280w" alt="">
<img src="photos/a.jpg#again">
<picture>
  <source srcset="photos/b.avif 1x, photos/b@2x.avif 2x" type="image/avif">
  <img src="photos/b.jpg">
</picture>
<video poster="posters/v.jpg" controls>
  <source src="clips/v.webm" type="video/webm">
  <source src="https://media.example.org/clips/v.mp4#t=10" type="video/mp4">
</video>
<img class="lazy" src="{GIF_PLACEHOLDER}" data-src="lazy/c.webp" data-srcset="lazy/c-2x.webp 2x">
<img src="{PNG_URI}">
<p><a href="full/a-full.JPG?download=1">full size</a>
<a href="../page2.html#top">next page</a>
<a href="https://cdn.example.net/page2.html">next again</a>
<a href="javascript:alert(1)">js</a> <a href="mailto:x@example.net">mail</a> <a href="#top">top</a>
<img src="javascript:void(0)"> <img src="ftp://files.example.net/x.jpg">
<div style="background-image: url('bg/tile.png')"></div>
<a href="photos/a.jpg">same picture as the first img</a>
</body></html>
"""


def test_realistic_page_lists_every_medium_once_in_page_order() -> None:
    links = find_media(REALISTIC_PAGE.encode(), PAGE_URL)

    assert [(link.url, link.found_in) for link in links] == [
        ("https://cdn.example.net/og/cover.jpg", "og:image"),
        ("https://cdn.example.net/tw/card.png", "twitter:image"),
        ("https://cdn.example.net/favicon.ico", "link-image"),
        ("https://cdn.example.net/gallery/photos/a.jpg", "img"),
        ("https://cdn.example.net/gallery/photos/a-320.jpg", "img-srcset"),
        ("https://cdn.example.net/gallery/photos/a-640.jpg", "img-srcset"),
        ("https://img.example.org/a-1280.jpg", "img-srcset"),  # protocol-relative takes the base's https
        ("https://cdn.example.net/gallery/photos/b.avif", "picture-source"),
        ("https://cdn.example.net/gallery/photos/b@2x.avif", "picture-source"),
        ("https://cdn.example.net/gallery/photos/b.jpg", "img"),
        ("https://cdn.example.net/gallery/posters/v.jpg", "video-poster"),
        ("https://cdn.example.net/gallery/clips/v.webm", "video-source"),
        ("https://media.example.org/clips/v.mp4", "video-source"),
        (GIF_PLACEHOLDER, "data-uri"),
        ("https://cdn.example.net/gallery/lazy/c.webp", "img"),
        ("https://cdn.example.net/gallery/lazy/c-2x.webp", "img-srcset"),
        (PNG_URI, "data-uri"),
        ("https://cdn.example.net/gallery/full/a-full.JPG?download=1", "a-media"),
        ("https://cdn.example.net/gallery/bg/tile.png", "style"),
    ]
    inline = {link.url: link.inline for link in links if link.inline is not None}
    assert inline[PNG_URI] == PNG
    assert inline[GIF_PLACEHOLDER].startswith(b"GIF89a")
    assert all(link.inline is None for link in links if not link.url.startswith("data:"))


def test_page_links_are_the_non_media_anchors() -> None:
    links = find_page_links(REALISTIC_PAGE.encode(), PAGE_URL)

    # ../page2.html from the base's /gallery/ is the same page as the absolute one; #top resolves to the
    # base itself; the .JPG link is media; javascript: and mailto: are not fetchable pages.
    assert links == ["https://cdn.example.net/page2.html", "https://cdn.example.net/gallery/"]


def test_without_base_urls_resolve_against_the_page_and_a_late_base_still_counts() -> None:
    page = b'<img src="a.png"><img src="/b.png">'
    assert [link.url for link in find_media(page, PAGE_URL)] == [
        "https://reported.example.com/thread/a.png",
        "https://reported.example.com/b.png",
    ]
    # The document base is the first <base href>, wherever it stands; an unusable one is ignored.
    late = b'<img src="a.png"><base href="javascript:x"><base href="http://other.example.net/d/">'
    assert [link.url for link in find_media(late, PAGE_URL)] == ["https://reported.example.com/thread/a.png"]
    late_ok = b'<img src="a.png"><base href="http://other.example.net/d/">'
    assert [link.url for link in find_media(late_ok, PAGE_URL)] == ["http://other.example.net/d/a.png"]


def test_sources_take_their_kind_from_the_enclosing_element() -> None:
    page = b"""<audio controls><source src="s/a.ogg"></audio>
    <video src="v/direct.mp4" data-src="v/lazy.mp4"></video>
    <picture><source srcset="p/x.webp"><source data-srcset="p/y.webp 2x"></picture>
    <meta property="og:video:secure_url" content="https://m.example.net/o.mp4">
    <link rel="image_src" href="/share.jpg"><link rel="apple-touch-icon" href="/touch.png">"""
    kinds = {urlsplit(link.url).path: link.found_in for link in find_media(page, "http://site.example.net/")}
    assert kinds == {
        "/s/a.ogg": "audio-source",
        "/v/direct.mp4": "video",
        "/v/lazy.mp4": "video",
        "/p/x.webp": "picture-source",
        "/p/y.webp": "picture-source",
        "/o.mp4": "og:video",
        "/share.jpg": "link-image",
        "/touch.png": "link-image",
    }


def test_srcset_candidates_follow_the_html_splitting_rules() -> None:
    srcset = f"a.jpg 1x,b.jpg 2x, c.jpg, d.jpg?x=1,2 3x, e.jpg (max-width: 1px, 2px) 100w, {PNG_URI} 4x,,"
    assert list(srcset_urls(srcset)) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg?x=1,2", "e.jpg", PNG_URI]


def test_data_uris_percent_encoded_oversized_and_not_pictures() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"/>'
    page = (
        f'<img src="data:image/svg+xml,{quote(svg)}">'
        f'<img src="data:text/html;base64,{base64.b64encode(b"<b>x</b>").decode()}">'
        '<img src="data:image/png;base64,@@not base64@@">'
        f'<img src="{PNG_URI}">'
    ).encode()

    links = find_media(page, PAGE_URL)
    assert [(link.found_in, link.inline) for link in links] == [
        ("data-uri", svg.encode()),
        ("data-uri", PNG),
    ]
    # Past max_inline a picture is left out rather than held half-decoded.
    assert [link.inline for link in find_media(page, PAGE_URL, max_inline=len(PNG) - 1)] == [svg.encode()]


def test_windows_1256_page_is_decoded_by_its_meta_charset() -> None:
    arabic = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"></head>'
        '<body><h1>صور</h1><img src="صور/1.jpg" alt="صورة"><a href="صفحة.html">التالي</a></body></html>'
    ).encode("cp1256")

    assert find_media(arabic, "https://site.example.net/") == [
        MediaLink(url="https://site.example.net/صور/1.jpg", found_in="img")
    ]
    assert find_page_links(arabic, "https://site.example.net/") == ["https://site.example.net/صفحة.html"]


def test_header_charset_wins_over_meta_and_unknown_charsets_fall_back_to_utf8() -> None:
    lying_meta = '<meta charset="utf-8"><img src="صور.jpg">'.encode("cp1256")
    urls = [link.url for link in find_media(lying_meta, "http://a.example.net/", content_type="text/html")]
    assert urls == ["http://a.example.net/\ufffd\ufffd\ufffd.jpg"]  # read as UTF-8: replaced, not fatal
    header = "text/html; charset=WINDOWS-1256"
    urls = [link.url for link in find_media(lying_meta, "http://a.example.net/", content_type=header)]
    assert urls == ["http://a.example.net/صور.jpg"]
    bogus = "text/html; charset=x-no-such-charset"
    assert [
        link.url for link in find_media(b'<img src="a.jpg">', "http://a.example.net/", content_type=bogus)
    ] == ["http://a.example.net/a.jpg"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example.net/a/b.JPG", True),
        ("https://x.example.net/clip.mp4?token=1", True),
        ("https://x.example.net/seg-001.ts", True),
        ("https://x.example.net/a.heic#frag", True),
        ("https://x.example.net/page.html", False),
        ("https://x.example.net/jpg", False),
        ("https://x.example.net/dir.jpg/", False),
        ("https://x.example.net/?file=a.jpg", False),
    ],
)
def test_is_media_url_reads_the_path_extension(url: str, expected: bool) -> None:
    assert is_media_url(url) is expected


def test_content_type_predicates() -> None:
    assert is_media_type("image/jpeg")
    assert is_media_type("Video/MP4; codecs=avc1")
    assert not is_media_type("application/octet-stream")
    assert not is_media_type(None)
    assert not is_media_type("text/html")
    assert is_html_type("text/html; charset=utf-8")
    assert is_html_type("application/xhtml+xml")
    assert not is_html_type("image/png")
    assert not is_html_type(None)


def test_hostile_markup_is_read_past_and_stays_fast() -> None:
    huge = "x" * (2 * 1024 * 1024)
    page = (
        "<div>" * 20_000
        + f'<img src="a.jpg" title="{huge}"><img src="{huge}.jpg">'
        + "<![ bogus ]><img src='b.jpg'>&#99999999999;&bogus;<img src=c.jpg"
    ).encode()
    started = time.monotonic()
    urls = [link.url for link in find_media(page, "http://h.example.net/")]
    assert time.monotonic() - started < 5
    # The 2 MiB URL is a crawler trap and left out; a malformed marked section (on which Python 3.11's
    # html.parser raises) does not hide what follows it; a tag still open at the end of input is dropped,
    # as browsers drop it.
    assert urls == ["http://h.example.net/a.jpg", "http://h.example.net/b.jpg"]


@pytest.mark.parametrize(
    "trap",
    [
        "<a b='" * 60_000,  # html.parser re-scanned the rest from every '<': minutes for this
        "<a" * 100_000,
        "<!--" * 60_000,
        "</" * 100_000,
        "<?" * 100_000,
        '<div style="' + 'url("' * 60_000 + '">',
        "<img src=" * 60_000,
        "<script>" * 60_000,
    ],
    ids=[
        "open-attribute",
        "open-tags",
        "open-comments",
        "open-end-tags",
        "open-pi",
        "css-url",
        "img",
        "script",
    ],
)
def test_constructs_left_open_cost_one_pass(trap: str) -> None:
    page = ('<img src="before.jpg">' + trap).encode()
    started = time.monotonic()
    links = find_media(page, "http://h.example.net/")
    find_page_links(page, "http://h.example.net/")
    assert time.monotonic() - started < 2
    assert links[0] == MediaLink(url="http://h.example.net/before.jpg", found_in="img")


def test_markup_rules_browsers_follow() -> None:
    page = (
        b"<script>document.write('<img src=\"script.jpg\">')</script>"
        b"<textarea><img src=textarea.jpg></textarea>"
        b"<!-- <img src=comment.jpg> -->"
        b"<noscript><img src=noscript.jpg></noscript>"  # the lazy-load fallback: real markup
        b"<IMG SRC=upper.jpg Src=second-wins-not.jpg>"
        b'<img src="/q.jpg?x=1&amp;y=2&copy=3&lt;4&#x41;">'
        rb"<img src='\\other.example.net\dir\b.jpg?k=\v'>"
        b"<img src=unquoted.jpg/>"
    )
    assert [link.url for link in find_media(page, "http://h.example.net/p/")] == [
        "http://h.example.net/p/noscript.jpg",
        "http://h.example.net/p/upper.jpg",
        # "&copy=3" stays as written inside an attribute: a query parameter, not the © sign.
        "http://h.example.net/q.jpg?x=1&y=2&copy=3<4A",
        # '\\' is '/' before the query in http(s) URLs, so this is a network-path reference.
        "http://other.example.net/dir/b.jpg?k=\\v",
        "http://h.example.net/p/unquoted.jpg/",
    ]


def _valid_output(links: list[MediaLink], page_links: list[str], max_inline: int) -> None:
    for link in links:
        if link.found_in == "data-uri":
            assert link.url.lower().startswith("data:")
            assert link.inline is not None and 0 < len(link.inline) <= max_inline
        else:
            parts = urlsplit(link.url)
            assert parts.scheme in ("http", "https") and parts.hostname and not parts.fragment
            assert link.inline is None
    assert len({link.url for link in links}) == len(links)
    for url in page_links:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.hostname and not parts.fragment
    assert len(set(page_links)) == len(page_links)


_TOKENS = st.sampled_from(
    [
        "<img src=",
        "<img srcset='",
        "<source srcset=",
        "<picture>",
        "</picture>",
        "<video poster=",
        "<a href=",
        "<base href=",
        "<meta property=og:image content=",
        '<div style="background:url(',
        "data:image/png;base64,",
        "iVBORw0KGgo=",
        "http://",
        "https://",
        "//",
        "javascript:",
        "[::1",
        ":99999",
        "a.jpg",
        " 2x, ",
        ",",
        "'",
        '"',
        ">",
        "<",
        "<!--",
        "<![",
        "<!",
        "&#",
        "&amp",
        "%",
        "#",
        "\x00",
        "\ufffd",
    ]
)


@given(body=st.binary(max_size=2000), page_url=st.sampled_from([PAGE_URL, "http://192.0.2.1:8080/x/"]))
def test_any_bytes_yield_only_absolute_http_urls(body: bytes, page_url: str) -> None:
    _valid_output(find_media(body, page_url, max_inline=64), find_page_links(body, page_url), 64)


@given(
    parts=st.lists(st.one_of(_TOKENS, st.text(max_size=12)), max_size=60),
    charset=st.sampled_from(
        [None, "text/html; charset=utf-16", "text/html; charset=cp1256", "text/html; charset=bogus"]
    ),
)
def test_tag_soup_yields_only_absolute_http_urls(parts: list[str], charset: str | None) -> None:
    body = "".join(parts).encode("utf-8", errors="surrogatepass")
    _valid_output(
        find_media(body, PAGE_URL, content_type=charset, max_inline=64),
        find_page_links(body, PAGE_URL, content_type=charset),
        64,
    )
