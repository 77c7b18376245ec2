"""The review workspace in a real browser: log-in with a second factor, the blurred gallery, keyboard review,
stack decisions, the audit trail, Arabic right-to-left, and the count of pictures actually shown.

The request-level tests (test_review.py and friends) prove what the server answers; these prove that the
page built from those answers works in Chromium under the app's strict Content-Security-Policy: htmx swaps,
review.js's keys, one clear picture at a time, mirrored arrows. Every test watches the browser console for
CSP violations and script errors and checks that the browser asked nothing of any host but 127.0.0.1.

One Chromium serves the module; each test gets its own copy of the scanned TEST case (`web_sqlite`), its
own server and fresh browser contexts (one per person, so cookies never mix).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from himaya.store.models import AuditEvent, GalleryItem, Reveal, Review, User
from himaya.web.app import create_app
from tests.builders.web_case import CASE
from tests.web.browser import chromium_browser, offline_context, served
from tests.web.conftest import PASSWORD, Web

GALLERY = f"/cases/{CASE}/gallery"
# Chromium words every refused script, style or fetch this way in the console.
CSP_WORDS = ("Content Security Policy", "Content-Security-Policy")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture
def app_url(web_sqlite: Web) -> Iterator[str]:
    with served(create_app(web_sqlite.state)) as base_url:
        yield base_url


@dataclass
class Tab:
    """A page of one person's browser context, with what the browser reported while it was open."""

    page: Page
    blocked: list[str]
    console_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)  # /thumb and /clear answers received (status 200)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or any(word in message.text for word in CSP_WORDS):
            self.console_errors.append(message.text)

    def on_response(self, response: Response) -> None:
        path = response.url.split("?", 1)[0]
        if response.status == 200 and path.endswith(("/thumb", "/clear")):
            self.pictures.append(response.url)

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors if any(word in text for word in CSP_WORDS)]


@contextmanager
def tab(browser: Browser, base_url: str, *, check: bool = True, **options: object) -> Iterator[Tab]:
    """One person's browser. On a clean exit (with `check`) it asserts that the browser asked nothing of any
    host but 127.0.0.1 and that the pages ran without a console error (CSP refusals are console errors;
    so is a picture answered 403) or an uncaught script error."""
    blocked: list[str] = []
    with offline_context(browser, blocked, base_url=base_url, **options) as context:
        page = context.new_page()
        opened = Tab(page, blocked)
        page.on("console", opened.on_console)
        page.on("pageerror", lambda error: opened.script_errors.append(str(error)))
        page.on("response", opened.on_response)
        yield opened
    if check:
        assert opened.csp_violations() == [], "the page broke its own Content-Security-Policy"
        assert opened.console_errors == []
        assert opened.script_errors == []
        assert blocked == []


def log_in(web: Web, t: Tab, username: str) -> None:
    """Logs in through the form, as a person would: user name, password and the authenticator's code."""
    # A code is accepted once per 30-second step; tests log people in more often than that.
    with web.store.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        user.totp_last_step = None
    page = t.page
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", web.code(username))
    with page.expect_navigation() as navigation:
        page.click("#login")
    # The navigation's answer comes after every redirect: a log-in that bounced ends on /login again.
    landed = navigation.value
    assert landed is not None and urlsplit(landed.url).path == "/", f"the log-in ended on {landed.url}"
    expect(page.locator("#logout")).to_be_visible()


def open_gallery(t: Tab) -> None:
    """From the case list to the gallery by clicking, and wait until every picture has arrived."""
    page = t.page
    page.goto("/")
    page.click(f"a[href='/cases/{CASE}']")
    page.click("#open-gallery")
    page.wait_for_url(f"**{GALLERY}")
    pictures_settled(page)


def pictures_settled(page: Page, timeout_s: float = 10.0) -> None:
    """Waits until every <img> in the page has finished loading, and fails if one is broken.

    Polled from here: `page.wait_for_function` compiles its predicate with eval inside the page, which the
    app's CSP (no 'unsafe-eval') rightly refuses; `page.evaluate` goes through DevTools, outside the CSP.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(
            "() => Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        if all(complete for _src, complete, _width in state):
            broken = [src for src, _complete, width in state if width == 0]
            assert broken == [], f"pictures that did not load: {broken}"
            return
        assert time.monotonic() < deadline, f"pictures still loading after {timeout_s} s: {state}"
        time.sleep(0.05)


def colour_spread(page: Page, selector: str) -> int:
    """The largest difference between a pixel's red, green and blue in the picture as the browser decoded
    it: 0 for a grey picture. Drawn onto a canvas, which the CSP allows for pictures of this origin."""
    spread = page.locator(selector).evaluate(
        """img => {
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const g = canvas.getContext("2d"); g.drawImage(img, 0, 0);
            const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
            let most = 0;
            for (let i = 0; i < data.length; i += 4) {
                most = Math.max(most, Math.abs(data[i] - data[i + 1]), Math.abs(data[i + 1] - data[i + 2]));
            }
            return most;
        }"""
    )
    return int(spread)


def items(web: Web) -> dict[str, GalleryItem]:
    with web.store.session() as session:
        return {row.path.rsplit("/", 1)[-1]: row for row in session.scalars(select(GalleryItem))}


def pictures_shown(web: Web) -> int:
    with web.store.session() as session:
        count = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "picture_shown")
        )
    return count or 0


def tile_ids(page: Page) -> list[int]:
    return [int(x) for x in page.locator("#grid .tile").evaluate_all("ts => ts.map(t => t.dataset.file)")]


def focused_tile(page: Page) -> int | None:
    value = page.evaluate("document.activeElement && document.activeElement.dataset.file")
    return int(value) if value else None


def review_with_the_keyboard(t: Tab) -> list[int]:
    """A reviewer's keyboard flow: reveal the first picture and categorise it, reveal the second, reveal the
    third (which blurs the second again), hide the third. Returns the three file ids."""
    page = t.page
    first, second, third = tile_ids(page)[:3]
    page.locator(f"#tile-{first}").focus()
    page.keyboard.press("Space")
    expect(page.locator(f"#tile-{first} img.clear")).to_have_attribute(
        "src", re.compile(rf"^/cases/{CASE}/files/{first}/clear\?reveal=\d+$")
    )
    pictures_settled(page)
    assert colour_spread(page, f"#tile-{first} img.clear") > 0  # the clear picture, in colour
    assert focused_tile(page) == first  # the swapped tile kept the reviewer's place

    page.keyboard.press("1")
    expect(page.locator(f"#tile-{first} [data-category=illegal]")).to_be_visible()
    assert focused_tile(page) == first
    pictures_settled(page)

    for shown, hidden in ((second, None), (third, second)):
        page.keyboard.press("ArrowRight")
        assert focused_tile(page) == shown
        page.keyboard.press("Space")
        expect(page.locator(f"#tile-{shown} img.clear")).to_be_visible()
        pictures_settled(page)
        # One at a time: the reveal's answer blurred the picture that was clear before it.
        expect(page.locator("#grid img.clear")).to_have_count(1)
        if hidden is not None:
            expect(page.locator(f"#tile-{hidden} img")).to_have_attribute(
                "src", f"/cases/{CASE}/files/{hidden}/thumb"
            )

    page.keyboard.press("Space")  # Space on a revealed picture hides it
    expect(page.locator("#grid img.clear")).to_have_count(0)
    assert focused_tile(page) == third
    pictures_settled(page)
    return [first, second, third]


def test_log_in_with_second_factor_and_see_only_blurred_pictures(
    browser: Browser, app_url: str, web_sqlite: Web
) -> None:
    with tab(browser, app_url) as t:
        log_in(web_sqlite, t, "rita")
        open_gallery(t)
        page = t.page
        tiles = page.locator("#grid .tile")
        expect(tiles).to_have_count(len(items(web_sqlite)))
        sources = page.locator("#grid .tile img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
        assert sources == [f"/cases/{CASE}/files/{file_id}/thumb" for file_id in tile_ids(page)]
        for index in range(tiles.count()):
            expect(tiles.nth(index).locator("img")).to_be_visible()
        assert colour_spread(page, "#grid .tile img >> nth=0") == 0  # grey, as decoded by the browser
        assert len(t.pictures) == len(sources)
        assert not any("/clear" in url for url in t.pictures)  # nothing was sent in clear


def test_keyboard_review_shows_one_clear_picture_at_a_time_and_audits_each_picture_received(
    browser: Browser, app_url: str, web_sqlite: Web
) -> None:
    by_name = items(web_sqlite)
    original, copy = by_name["cam1.jpg"], by_name["cam1-copy.jpg"]
    shown_before = pictures_shown(web_sqlite)
    with tab(browser, app_url) as t:
        log_in(web_sqlite, t, "rita")
        open_gallery(t)
        revealed = review_with_the_keyboard(t)
        assert revealed[0] == original.file_id  # new camera pictures come first
        # The copy's tile in the page got the decision too, without a reload.
        expect(t.page.locator(f"#tile-{copy.file_id} [data-category=illegal]")).to_be_visible()
        received = list(t.pictures)

    with web_sqlite.store.session() as session:
        reviews = session.scalars(select(Review).order_by(Review.id)).all()
        sharing = session.scalars(select(GalleryItem).where(GalleryItem.sha256 == original.sha256))
        copies = {row.file_id: (row.category, row.reviewed) for row in sharing}
        reveals = session.scalars(select(Reveal).order_by(Reveal.id)).all()
    assert [(r.file_id, r.sha256, r.category, r.label, r.reviewer, r.via) for r in reviews] == [
        (original.file_id, original.sha256, "illegal", "1", "rita", "single")
    ]
    assert copies == {original.file_id: ("illegal", True), copy.file_id: ("illegal", True)}
    # Each reveal was closed by the next one, the last by hiding it: the exposure clock stopped every time.
    assert [r.file_id for r in reveals] == revealed
    assert all(r.hidden_at is not None and r.seconds is not None for r in reveals)

    # The trail counts what reached the screen: one picture_shown event per picture the browser received,
    # blurred or clear, including tiles blurred again after a swap.
    clear = [int(url.split("/files/")[1].split("/")[0]) for url in received if "/clear?" in url]
    assert clear == revealed  # each revealed picture fetched in clear exactly once
    assert len(received) > len(by_name)
    assert pictures_shown(web_sqlite) - shown_before == len(received)


def test_whole_stack_and_keyboard_selection_decide_together(
    browser: Browser, app_url: str, web_sqlite: Web
) -> None:
    by_name = items(web_sqlite)
    cam2, small = by_name["cam2.jpg"], by_name["cam2_small.jpg"]
    assert cam2.stack_id is not None and cam2.stack_id == small.stack_id
    members = {cam2.file_id, small.file_id}
    with tab(browser, app_url) as t:
        log_in(web_sqlite, t, "rami")
        page = t.page
        page.goto(f"{GALLERY}?stack={cam2.stack_id}")
        assert set(tile_ids(page)) == members
        page.click("#decide-stack button[value='0']")
        for file_id in members:
            expect(page.locator(f"#tile-{file_id} [data-category=non-pertinent]")).to_be_visible()
        stacked = items(web_sqlite)
        assert {stacked[n].category for n in ("cam2.jpg", "cam2_small.jpg")} == {"non-pertinent"}

        # The same two again, chosen one by one with X and decided with a key: a bulk decision.
        for file_id in tile_ids(page):
            page.locator(f"#tile-{file_id}").focus()
            page.keyboard.press("x")
            expect(page.locator(f"#tile-{file_id}")).to_have_class(re.compile(r"\bselected\b"))
        page.keyboard.press("4")
        for file_id in members:
            expect(page.locator(f"#tile-{file_id} [data-category=comparison]")).to_be_visible()
    with web_sqlite.store.session() as session:
        decided = [(r.category, r.via) for r in session.scalars(select(Review).order_by(Review.id))]
    assert decided == [("non-pertinent", "stack")] * 2 + [("comparison", "bulk")] * 2
    after = items(web_sqlite)
    assert {after[n].category for n in ("cam2.jpg", "cam2_small.jpg")} == {"comparison"}


def test_auditor_finds_the_reviewers_reveal_and_decision(
    browser: Browser, app_url: str, web_sqlite: Web
) -> None:
    with tab(browser, app_url) as reviewer:
        log_in(web_sqlite, reviewer, "rita")
        open_gallery(reviewer)
        reviewer.page.locator("#grid .tile").first.focus()
        reviewer.page.keyboard.press("Space")
        expect(reviewer.page.locator("#grid img.clear")).to_have_count(1)
        reviewer.page.keyboard.press("1")
        expect(reviewer.page.locator("#grid [data-category=illegal]").first).to_be_visible()
    with tab(browser, app_url) as auditor:
        log_in(web_sqlite, auditor, "audrey")
        page = auditor.page
        page.click("nav a[href='/audit']")
        page.fill("input[name=actor]", "rita")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/audit?*actor=rita*")
        rows = page.locator("#audit-events tbody tr")
        actors = rows.locator("td:nth-child(3)").all_inner_texts()
        actions = rows.locator("td.action").all_inner_texts()
        assert actors and set(actors) == {"rita"}
        assert {"login", "picture_revealed", "category_set", "picture_shown"} <= set(actions)
        assert "audit_viewed" not in actions  # audrey's own visit is not rita's


def test_arabic_pages_are_right_to_left_and_arrows_follow_the_reading_direction(
    browser: Browser, app_url: str, web_sqlite: Web
) -> None:
    with tab(browser, app_url) as t:
        log_in(web_sqlite, t, "rita")
        open_gallery(t)
        page = t.page
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.locator("nav")).to_contain_text("القضايا")  # "Cases"
        expect(page.locator("#lang-switch")).to_have_text("English")
        with web_sqlite.store.session() as session:
            assert session.scalar(select(User.language).where(User.username == "rita")) == "ar"

        # The switch answers with the page it came from, by its Referer, which the app's no-referrer policy
        # withholds: the browser lands on the account page, so the gallery is opened again here.
        page.goto(GALLERY)
        expect(page.locator("h1")).to_have_text("معرض الصور")  # "Gallery"
        first, second = tile_ids(page)[:2]
        one, two = (
            page.locator(f"#tile-{first}").bounding_box(),
            page.locator(f"#tile-{second}").bounding_box(),
        )
        assert one and two and two["x"] < one["x"]  # the grid flows from the right
        page.locator(f"#tile-{first}").focus()
        page.keyboard.press("ArrowLeft")
        assert focused_tile(page) == second  # left is forward in Arabic
        page.keyboard.press("ArrowRight")
        assert focused_tile(page) == first


def test_the_console_watch_sees_a_csp_refusal(browser: Browser, app_url: str) -> None:
    # The other tests pass when the console stays quiet; this shows the watch would hear a refusal.
    with tab(browser, app_url, check=False) as t:
        t.page.goto("/login")
        with t.page.expect_console_message(lambda message: message.type == "error"):
            t.page.evaluate(
                """() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                           document.body.append(s); }"""
            )
        ran = t.page.evaluate("() => window.ran === 1")
        violations = t.csp_violations()
    assert ran is False
    assert violations and "script-src" in violations[0]


def test_the_next_request_sees_what_the_last_answer_showed(
    browser: Browser, app_url: str, web_sqlite: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser acts on an answer at once: it follows the log-in redirect, it fetches the clear picture a
    reveal names. Each request's transaction must be committed before its answer leaves, or the next request
    finds no session (back to the log-in page, with the one-time code spent) or no reveal (a 403 picture).
    A slow commit, as on a busy server, makes the order visible every time instead of now and then."""
    transaction = web_sqlite.store.transaction

    @contextmanager
    def slow_commit() -> Iterator[Session]:
        with transaction() as session:
            yield session
            time.sleep(0.3)  # before the commit, after the request's work

    monkeypatch.setattr(web_sqlite.store, "transaction", slow_commit)
    with tab(browser, app_url) as t:
        log_in(web_sqlite, t, "rita")
        t.page.goto(f"{GALLERY}?path=DCIM/cam1.jpg")
        t.page.locator("#grid .tile").first.focus()
        t.page.keyboard.press("Space")
        expect(t.page.locator("#grid img.clear")).to_have_count(1)
        pictures_settled(t.page)
