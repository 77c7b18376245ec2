"""The browser harness itself: Playwright drives Debian's Chromium, vendored htmx works with no internet,
and the browser cannot reach past 127.0.0.1.

The app here is a few lines of inline FastAPI so that the harness is proven apart from the review app:
when a review-app browser test fails, this file tells whether the harness or the app is to blame.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from tests.web.browser import chromium_browser, launch_args, offline_context, served

STATIC = Path(__file__).resolve().parents[2] / "src" / "himaya" / "web" / "static"

PAGE = """<!doctype html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><title>TEST</title><script src="/static/htmx.min.js"></script></head>
<body>
<button id="load" hx-get="/fragment" hx-target="#out" hx-swap="innerHTML">حمّل</button>
<div id="out">قبل</div>
</body>
</html>"""


def harness_app(htmx_requests: list[str]) -> FastAPI:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    @app.get("/fragment", response_class=HTMLResponse)
    def fragment(request: Request) -> str:
        # htmx marks its own requests; a plain navigation or a form post would not carry this header.
        htmx_requests.append(request.headers.get("hx-request", ""))
        return '<p id="swapped">بعد</p>'

    return app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


def test_debian_chromium_is_the_browser_driven(browser: Browser) -> None:
    assert browser.browser_type.name == "chromium"
    assert browser.version.split(".")[0].isdigit()
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" in launch_args()


def test_vendored_htmx_swaps_content_on_click_offline(browser: Browser) -> None:
    htmx_requests: list[str] = []
    blocked: list[str] = []
    with served(harness_app(htmx_requests)) as base_url, offline_context(browser, blocked) as context:
        page = context.new_page()
        page.goto(base_url + "/")
        assert page.evaluate("htmx.version") == "2.0.11"
        assert page.evaluate("getComputedStyle(document.documentElement).direction") == "rtl"
        assert page.inner_text("#out") == "قبل"

        page.click("#load")
        page.wait_for_selector("#swapped")

        assert page.inner_text("#out") == "بعد"
        assert page.url == base_url + "/"  # swapped in place, not navigated
        assert htmx_requests == ["true"]
    assert blocked == []  # the page needed nothing from outside


def test_requests_beyond_localhost_are_aborted(browser: Browser) -> None:
    blocked: list[str] = []
    with served(harness_app([])) as base_url, offline_context(browser, blocked) as context:
        page = context.new_page()
        with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
            page.goto("http://example.com")

        # From inside a local page too, to a name and to a literal address (TEST-NET-1, never routed).
        page = context.new_page()  # the first is still showing Chromium's error page
        page.goto(base_url + "/")
        outcome = page.evaluate(
            """async (urls) => Promise.all(urls.map(url =>
                   fetch(url, {mode: "no-cors"}).then(() => "fetched", () => "refused")))""",
            ["https://example.com/x.js", "http://192.0.2.1/x.png"],
        )
        assert outcome == ["refused", "refused"]
    assert blocked == ["http://example.com/", "https://example.com/x.js", "http://192.0.2.1/x.png"]


def test_without_the_route_guard_the_browser_still_cannot_resolve_or_connect(browser: Browser) -> None:
    # A context a test made by hand, without offline_context: the launch-wide layers must hold alone.
    refused = r"net::ERR_(PROXY_CONNECTION_FAILED|NAME_NOT_RESOLVED)"
    context = browser.new_context()
    try:
        page = context.new_page()
        for url in ("http://example.com", "http://192.0.2.1/"):
            with pytest.raises(PlaywrightError, match=refused):
                page.goto(url, timeout=10_000)
    finally:
        context.close()
