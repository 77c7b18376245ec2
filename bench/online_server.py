"""A lean HTTP/1.1 keep-alive web site for bench_online.py, run in its own process.

It runs apart from the benchmark (multiprocessing spawn) so that answering requests never takes the GIL
from the client being measured; on a 2-core machine the server gets one core and the client the other.
asyncio with a hand-written request parser, one task per keep-alive connection. bench_online.py also
measures tests/builders/web_server.py's TestSite (http.server, a thread per connection, headers parsed by
email.parser), run the same way through `serve_test_site`, against the same plain client.

Routes, all benign and generated:
  /p/<page>.html     a page with <img> tags for its media, /m/<page>-<n>.jpg
  /m/<page>-<n>.jpg  a JPEG read from the media folder (file m<index>.jpg, index = page * per_page + n)
  /r/<n>             a tracked URL: ETag "r-<n>"; 304 Not Modified when If-None-Match carries it
Anything else is 404. GET and HEAD only. Only 127.0.0.x addresses are bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass
class Counters:
    requests: int = 0
    not_modified: int = 0
    connections: int = 0
    bytes_sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "not_modified": self.not_modified,
            "connections": self.connections,
            "bytes_sent": self.bytes_sent,
            "statuses": dict(self.statuses),
        }


@dataclass(frozen=True)
class SiteSpec:
    addresses: tuple[str, ...]  # one listener each, e.g. ("127.0.0.1", "127.0.0.2")
    media_folder: str | None = None  # m<index>.jpg files; None: no /m/ and /p/ routes
    pages: int = 0
    per_page: int = 0


_REASONS = {200: b"OK", 304: b"Not Modified", 404: b"Not Found", 405: b"Method Not Allowed"}


def _response(status: int, headers: list[tuple[str, str]], body: bytes, head: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS[status])]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    if status != 304:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head or status == 304 else body)


class Site:
    def __init__(self, spec: SiteSpec) -> None:
        self.spec = spec
        self.counters = Counters()
        self.media: dict[str, bytes] = {}
        if spec.media_folder is not None:
            folder = Path(spec.media_folder)
            for page in range(spec.pages):
                for n in range(spec.per_page):
                    data = (folder / f"m{page * spec.per_page + n}.jpg").read_bytes()
                    self.media[f"/m/{page}-{n}.jpg"] = data

    def page_html(self, page: int) -> bytes:
        images = "".join(f'<img src="/m/{page}-{n}.jpg" alt="">' for n in range(self.spec.per_page))
        return (
            f"<!doctype html><html><head><title>TEST bench page {page}</title></head>"
            f"<body><h1>TEST benign page {page}</h1>{images}</body></html>"
        ).encode()

    def answer(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            return 405, [("Allow", "GET, HEAD")], b""
        if path.startswith("/r/"):
            etag = f'"r-{path[3:]}"'
            if headers.get("if-none-match") == etag:
                return 304, [("ETag", etag)], b""
            return 200, [("Content-Type", "text/plain"), ("ETag", etag)], b"TEST benign " + path.encode()
        if path.startswith("/m/"):
            data = self.media.get(path)
            if data is not None:
                return 200, [("Content-Type", "image/jpeg")], data
        elif path.startswith("/p/") and path.endswith(".html"):
            number = path[3:-5]
            if number.isdigit() and int(number) < self.spec.pages:
                return 200, [("Content-Type", "text/html; charset=utf-8")], self.page_html(int(number))
        return 404, [("Content-Type", "text/plain")], b"TEST not found"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters.connections += 1
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = raw.decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                status, extra, body = self.answer(method, target.split("?", 1)[0], headers)
                data = _response(status, extra, body, method == "HEAD")
                counters = self.counters
                counters.requests += 1
                counters.not_modified += status == 304
                counters.bytes_sent += len(data)
                counters.statuses[status] = counters.statuses.get(status, 0) + 1
                writer.write(data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except ConnectionError:
            return
        finally:
            writer.close()


def serve(spec: SiteSpec, control: Connection) -> None:
    """Process entry point: bind, report {address: port} on `control`, then answer its commands.

    Commands: "stats" (counters since the last "stats", then reset), "stop" (the last counters, then exit).
    """
    for address in spec.addresses:
        if ipaddress.ip_address(address) not in LOOPBACK:
            raise ValueError(f"{address}: the bench site binds loopback addresses only")
    site = Site(spec)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [
            await asyncio.start_server(site.serve, address, 0, backlog=1024, limit=65536)
            for address in spec.addresses
        ]
        ports = {
            address: server.sockets[0].getsockname()[1]
            for address, server in zip(spec.addresses, servers, strict=True)
        }
        done = asyncio.Event()

        def take() -> dict[str, Any]:
            snapshot = site.counters.snapshot()
            site.counters = Counters()
            return snapshot

        def commands() -> None:
            while True:
                command = control.recv()
                future = asyncio.run_coroutine_threadsafe(_call(take), loop)
                control.send(future.result())
                if command == "stop":
                    loop.call_soon_threadsafe(done.set)
                    return

        control.send(ports)
        threading.Thread(target=commands, daemon=True).start()
        await done.wait()
        for server in servers:
            server.close()

    asyncio.run(main())


async def _call(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return function()  # on the loop's thread, so the counters are read between requests


def serve_test_site(count: int, control: Connection) -> None:
    """The tests' TestSite in this process, serving /r/0 .. /r/<count-1> with ETags, for comparison."""
    from tests.builders.web_server import TestSite, etag_of

    site = TestSite()
    for n in range(count):
        site.add(f"/r/{n}", b"TEST benign /r/%d" % n, "text/plain")
    control.send({"127.0.0.1": site.port, "etags": [etag_of(b"TEST benign /r/%d" % n) for n in range(count)]})
    seen = 0
    while True:
        command = control.recv()
        requests = site.requests[seen:]
        seen += len(requests)
        control.send({"requests": len(requests), "not_modified": None, "connections": None})
        if command == "stop":
            site.close()
            return
