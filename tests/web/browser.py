"""Helpers for browser tests: Debian's Chromium driven by Playwright, the app on 127.0.0.1, no internet.

Playwright normally downloads a browser build of its own; Himaya's tests never do. They drive the
Chromium that Debian packages (`make setup` installs it), which also keeps the browser patched by the
distribution instead of pinned in a cache folder. Playwright 1.65.2 (whose own build is Chromium 159)
drives Debian bookworm's Chromium 156.0.8078.108 without trouble; pin that Playwright in pyproject, since
a much newer Playwright may speak a DevTools protocol the packaged Chromium does not know yet.

The browser is a separate process, so the suite's socket guard (tests/conftest.py) cannot see its
connections. It is kept off the internet by three layers, each enough for ordinary page traffic:
  1. every context's requests go through a route handler that aborts any host but 127.0.0.1 (and
     WebSockets likewise), and records what it blocked, so a test can also assert "nothing tried";
  2. the host resolver maps every name except 127.0.0.1 to "not found", so no DNS query leaves;
  3. all traffic that is not to loopback goes to a proxy address on 127.0.0.1 where nothing listens,
     and WebRTC may not send UDP around it, which stops connections to literal addresses too.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Route, WebSocketRoute, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = "install Debian's chromium: make setup"
LOCAL_HOST = "127.0.0.1"
# Nothing listens on the discard port; a request sent there fails at once, on this machine.
_DEAD_PROXY = f"{LOCAL_HOST}:9"
_NON_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})
DEFAULT_TIMEOUT_MS = 10_000  # a local page that takes longer is a failure worth seeing, not waiting for


def require_chromium() -> None:
    """Skip the calling test, with the way to fix it, when Debian's Chromium is not installed."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(MISSING_CHROMIUM)


def launch_args() -> list[str]:
    args = [
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOCAL_HOST}",
        f"--proxy-server=http://{_DEAD_PROXY}",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]
    # Chromium's sandbox needs user namespaces that root in a container does not get; as any other user
    # the sandbox stays on.
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


@contextmanager
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with the resolver and proxy guards; closed on exit.

    Contexts for pages should come from `offline_context`, which adds the per-request guard.
    """
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=launch_args())
        try:
            yield browser
        finally:
            browser.close()


def is_local(url: str) -> bool:
    """True for URLs the browser may fetch: 127.0.0.1 only, plus content that needs no network."""
    parts = urlsplit(url)
    return parts.scheme in _NON_NETWORK_SCHEMES or parts.hostname == LOCAL_HOST


def guard_offline(context: BrowserContext, blocked: list[str] | None = None) -> list[str]:
    """Abort every request and WebSocket of `context` to a host other than 127.0.0.1.

    Returns the list the blocked URLs are appended to (`blocked`, when given).
    """
    record = blocked if blocked is not None else []

    def on_request(route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            record.append(url)
            route.abort("blockedbyclient")

    def on_websocket(websocket: WebSocketRoute) -> None:
        # Never connected to a server: closing the mock refuses it.
        record.append(websocket.url)
        websocket.close()

    context.route("**/*", on_request)
    context.route_web_socket(lambda url: not is_local(url), on_websocket)
    return record


@contextmanager
def offline_context(
    browser: Browser, blocked: list[str] | None = None, **options: Any
) -> Iterator[BrowserContext]:
    """A new browser context (own cookies: one per simulated user) that cannot leave 127.0.0.1.

    `options` go to `Browser.new_context` (e.g. `locale="ar"`, `base_url=...`). Service workers are
    blocked by default: their requests would bypass the route guard. Pass a list as `blocked` to see
    which outside URLs a page tried to reach.
    """
    options.setdefault("service_workers", "block")
    context = browser.new_context(**options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    guard_offline(context, blocked)
    try:
        yield context
    finally:
        context.close()


def serve_in_thread(app: Callable[..., Any], startup_timeout: float = 10.0) -> tuple[str, Callable[[], None]]:
    """Run the ASGI `app` with uvicorn on 127.0.0.1 in a background thread.

    Returns its base URL (`http://127.0.0.1:PORT`, no trailing slash) and a function that stops it.
    The socket is bound here, before the thread starts, so the port is known and nothing else can take
    it between choosing and listening.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOCAL_HOST, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, host=LOCAL_HOST, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[listener])
        except BaseException as error:  # reported to the caller below, not lost in the thread
            failure.append(error)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive():
            listener.close()
            raise RuntimeError(f"the test server on port {port} did not start: {failure or 'thread ended'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            raise RuntimeError(f"the test server on port {port} did not start within {startup_timeout} s")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()

    return f"http://{LOCAL_HOST}:{port}", stop


@contextmanager
def served(app: Callable[..., Any]) -> Iterator[str]:
    """`serve_in_thread` as a context manager: yields the base URL, stops the server on exit."""
    base_url, stop = serve_in_thread(app)
    try:
        yield base_url
    finally:
        stop()
