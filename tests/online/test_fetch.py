"""Fetches against the local test site: what is recorded, what is refused, and how limits stop a fetch.

The policy allows 127.0.0.1/32 only, so the canary on 127.0.0.2 and every private address stay refused.
socket.getaddrinfo fails every test here that calls it: names are resolved by injected resolvers only.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.errors import OnlineError, UsageError
from himaya.online.fetch import (
    ORIGINAL_TRANSFER_ENCODING,
    ContentTooLargeError,
    Exchange,
    Fetcher,
    FetchLimits,
    decode_content,
)
from himaya.online.guard import AddressPolicy, ResolutionError, SystemResolver, is_ip_literal
from tests.builders.web_server import (
    GZIP_PAGE,
    HUGE_SIZE,
    LAST_MODIFIED,
    Canary,
    TestSite,
    benign_jpeg,
    benign_png,
    etag_of,
    server_certificate_sha256,
    tls_material,
)

LOCAL_ONLY = AddressPolicy.from_cidrs(["127.0.0.1/32"])
FAST = FetchLimits(connect_timeout_s=1.0, read_timeout_s=0.5, total_timeout_s=1.5, max_bytes=1 << 20)


class TableResolver:
    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise ResolutionError(host, "Name or service not known", dns_gone=True)
        return list(self.table[host])


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(autouse=True)
def _no_system_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo of a host name fails the test. (The socket layer still calls it with the pinned IP
    literal to connect, which parses the number and never leaves the machine.)"""

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_ip_literal(str(host)):
            raise AssertionError(f"a test resolved {host!r} through the system resolver")
        return _real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


@pytest.fixture
def resolver() -> TableResolver:
    return TableResolver()


@pytest.fixture
def fetcher(resolver: TableResolver) -> Iterator[Fetcher]:
    with Fetcher(FAST, LOCAL_ONLY, resolver) as made:
        yield made


def only(chain: list[Exchange]) -> Exchange:
    assert len(chain) == 1, [(e.url, e.status, e.error) for e in chain]
    return chain[0]


# A plain page --------------------------------------------------------------------------------------------


def test_page_is_recorded_as_received(test_site: TestSite, fetcher: Fetcher) -> None:
    picture = benign_png(1)
    test_site.add("/pic.png", picture, "image/png", headers={"X-Test": "one"})
    before = datetime.now(UTC)
    exchange = only(fetcher.fetch(test_site.url("/pic.png")))
    assert exchange.error is None
    assert (exchange.status, exchange.reason, exchange.http_version) == (200, "OK", "HTTP/1.1")
    assert exchange.body == picture
    assert exchange.payload_sha256 == hashlib.sha256(picture).hexdigest()
    assert (exchange.server_ip, exchange.server_port) == ("127.0.0.1", test_site.port)
    assert exchange.truncated is None and not exchange.blocked and not exchange.dns_gone
    assert exchange.tls_subject is None and exchange.tls_certificate_sha256 is None
    assert exchange.requested_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= exchange.requested_at <= datetime.now(UTC)
    assert exchange.header("content-type") == "image/png"
    assert exchange.header("x-test") == "one" and exchange.header("ETag") == etag_of(picture)
    assert ("X-Test", "one") in exchange.response_headers  # original spelling and order kept
    assert exchange.elapsed_s > 0
    assert exchange.method == "GET"
    sent = dict((name.lower(), value) for name, value in exchange.request_headers)
    assert sent["user-agent"] == FAST.user_agent
    assert sent["host"] == f"127.0.0.1:{test_site.port}"
    method, path, seen = test_site.requests[-1]
    assert (method, path, seen["user-agent"]) == ("GET", "/pic.png", FAST.user_agent)


def test_extra_request_headers_are_sent_and_recorded(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.add("/a", b"a", "text/plain")
    exchange = only(fetcher.fetch(test_site.url("/a"), headers={"Accept-Language": "ar"}))
    assert ("Accept-Language", "ar") in exchange.request_headers
    assert test_site.requests[-1][2]["accept-language"] == "ar"


def test_head_request(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.add("/pic.jpg", benign_jpeg(2), "image/jpeg")
    exchange = only(fetcher.fetch(test_site.url("/pic.jpg"), method="HEAD"))
    assert (exchange.status, exchange.body, exchange.method) == (200, b"", "HEAD")
    assert exchange.header("content-length") == str(len(benign_jpeg(2)))
    assert test_site.requests[-1][0] == "HEAD"


def test_removed_page_is_a_response_not_an_error(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.add("/gone", b"x", "text/plain")
    test_site.remove("/gone", status=410)
    exchange = only(fetcher.fetch(test_site.url("/gone")))
    assert (exchange.status, exchange.error) == (410, None)


# Redirects -----------------------------------------------------------------------------------------------


def test_redirects_are_followed_and_each_hop_recorded(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.redirect("/start", test_site.url("/middle/"), status=301)
    test_site.redirect("/middle/", "next", status=307)  # relative: resolved against the hop's URL
    test_site.add("/middle/next", b"final", "text/plain")
    chain = fetcher.fetch(test_site.url("/start"))
    assert [(e.url, e.status) for e in chain] == [
        (test_site.url("/start"), 301),
        (test_site.url("/middle/"), 307),
        (test_site.url("/middle/next"), 200),
    ]
    assert chain[1].location == test_site.url("/middle/next")
    assert chain[-1].body == b"final" and chain[-1].location is None
    assert [path for _, path, _ in test_site.requests] == ["/start", "/middle/", "/middle/next"]


def test_redirect_limit_stops_a_loop(test_site: TestSite, resolver: TableResolver) -> None:
    test_site.redirect("/one", "/two")
    test_site.redirect("/two", "/one")
    limits = FetchLimits(connect_timeout_s=1, read_timeout_s=0.5, total_timeout_s=1.5, max_redirects=3)
    with Fetcher(limits, LOCAL_ONLY, resolver) as fetcher:
        chain = fetcher.fetch(test_site.url("/one"))
    assert [e.status for e in chain] == [302, 302, 302, 302, None]
    assert "redirected more than 3 times" in (chain[-1].error or "")
    assert chain[-1].url == test_site.url("/one")
    assert len(test_site.requests) == 4  # three redirects followed, the fourth only recorded


def test_redirects_not_followed_when_asked(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.redirect("/r", "/elsewhere", status=308)
    exchange = only(fetcher.fetch(test_site.url("/r"), follow_redirects=False))
    assert (exchange.status, exchange.error) == (308, None)
    assert exchange.location == test_site.url("/elsewhere")


def test_cookies_live_within_one_fetch_only(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.redirect("/login", "/home", headers={"Set-Cookie": "session=TEST123; Path=/"})
    test_site.add("/home", b"home", "text/plain")
    chain = fetcher.fetch(test_site.url("/login"))
    assert test_site.requests[-1][2].get("cookie") == "session=TEST123"
    assert ("Cookie", "session=TEST123") in [(n.title(), v) for n, v in chain[-1].request_headers]
    fetcher.fetch(test_site.url("/home"))
    assert "cookie" not in test_site.requests[-1][2]


# Refusals (SSRF) -----------------------------------------------------------------------------------------


def test_redirect_to_a_private_address_is_blocked(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.redirect("/r", "http://10.0.0.1/admin")
    chain = fetcher.fetch(test_site.url("/r"))
    assert [e.status for e in chain] == [302, None]
    hop = chain[-1]
    assert hop.blocked and hop.url == "http://10.0.0.1/admin"
    assert "10.0.0.1" in (hop.error or "") and "private network 10.0.0.0/8" in (hop.error or "")
    # (had a packet been sent, the suite's socket guard would have failed this test)


def test_redirect_to_the_canary_is_blocked_before_any_connection(
    test_site: TestSite, fetcher: Fetcher, canary: Canary
) -> None:
    test_site.redirect("/r", canary.url)
    chain = fetcher.fetch(test_site.url("/r"))
    assert chain[-1].blocked and chain[-1].status is None
    assert "loopback" in (chain[-1].error or "")
    assert only(fetcher.fetch(canary.url)).blocked
    assert canary.settled() == []


def test_name_resolving_to_a_private_address_is_blocked(test_site: TestSite) -> None:
    resolver = TableResolver({"intranet.test": ["10.0.0.1"]})
    with Fetcher(FAST, LOCAL_ONLY, resolver) as fetcher:
        exchange = only(fetcher.fetch("http://intranet.test/"))
    assert exchange.blocked and not exchange.dns_gone
    assert exchange.error is not None and exchange.error.startswith("refused to fetch http://intranet.test/")
    assert resolver.calls == ["intranet.test"]


@pytest.mark.parametrize("answers", [["127.0.0.1", "10.0.0.1"], ["10.0.0.1", "127.0.0.1"]])
def test_mixed_public_and_private_answers_are_blocked(test_site: TestSite, answers: list[str]) -> None:
    test_site.add("/", b"should not be served", "text/plain")
    with Fetcher(FAST, LOCAL_ONLY, TableResolver({"mixed.test": answers})) as fetcher:
        exchange = only(fetcher.fetch(f"http://mixed.test:{test_site.port}/"))
    assert exchange.blocked
    assert test_site.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "gopher://x/",
    ],
)
def test_non_http_schemes_are_refused_without_a_request(fetcher: Fetcher, url: str) -> None:
    exchange = only(fetcher.fetch(url))
    assert exchange.status is None and exchange.body == b""
    assert "only http and https" in (exchange.error or "")


def test_redirect_to_a_file_url_is_refused(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.redirect("/r", "file:///etc/passwd")
    chain = fetcher.fetch(test_site.url("/r"))
    assert chain[-1].url == "file:///etc/passwd"
    assert "only http and https" in (chain[-1].error or "")


def test_ip_literals_do_not_use_the_system_resolver(
    test_site: TestSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: SystemResolver, host: str, port: int) -> list[str]:
        raise AssertionError(f"the resolver was asked for the IP literal {host!r}")

    monkeypatch.setattr(SystemResolver, "resolve", refuse)
    test_site.add("/a", b"a", "text/plain")
    with Fetcher(FAST, LOCAL_ONLY) as fetcher:
        assert only(fetcher.fetch(test_site.url("/a"))).status == 200
        assert only(fetcher.fetch("http://[::ffff:10.0.0.1]/")).blocked
        assert only(fetcher.fetch("http://[::ffff:127.0.0.1]:1/")).blocked


def test_vanished_host_name_is_recorded_as_dns_gone(fetcher: Fetcher) -> None:
    exchange = only(fetcher.fetch("https://taken-down.test/picture.jpg"))
    assert exchange.dns_gone and not exchange.blocked and exchange.status is None
    assert "cannot resolve taken-down.test" in (exchange.error or "")


def test_proxy_targets_are_checked_before_anything_is_sent(test_site: TestSite) -> None:
    # The test site doubles as a forward proxy: it serves an absolute-form request by its path.
    test_site.add("/via-proxy", b"proxied", "text/plain")
    limits = FetchLimits(
        connect_timeout_s=1, read_timeout_s=0.5, total_timeout_s=1.5, proxy=test_site.base_url
    )
    with Fetcher(limits, LOCAL_ONLY, TableResolver({"private.test": ["10.0.0.9"]})) as fetcher:
        assert only(fetcher.fetch("http://10.0.0.1/")).blocked
        assert only(fetcher.fetch("http://private.test/")).blocked
        assert test_site.requests == []
        exchange = only(fetcher.fetch("http://127.0.0.1:9/via-proxy"))
    assert (exchange.status, exchange.body) == (200, b"proxied")
    assert test_site.requests[-1][1] == "http://127.0.0.1:9/via-proxy"
    assert exchange.server_ip is None  # the peer was the proxy, not the site


# Limits --------------------------------------------------------------------------------------------------


def test_slow_body_is_bounded_by_the_read_timeout(test_site: TestSite, fetcher: Fetcher) -> None:
    started = time.monotonic()
    exchange = only(fetcher.fetch(test_site.url("/slow")))
    assert time.monotonic() - started < 1.2
    assert exchange.status == 200 and exchange.truncated == "time"
    assert "stopped sending for 0.5 s" in (exchange.error or "")


def test_endless_body_stops_at_the_total_time(test_site: TestSite, resolver: TableResolver) -> None:
    limits = FetchLimits(connect_timeout_s=1, read_timeout_s=0.5, total_timeout_s=0.6, max_bytes=64 << 20)
    started = time.monotonic()
    with Fetcher(limits, LOCAL_ONLY, resolver) as fetcher:
        exchange = only(fetcher.fetch(test_site.url("/endless")))
    assert time.monotonic() - started < 1.2
    assert exchange.truncated == "time" and exchange.error is None
    assert 0 < len(exchange.body) < 64 << 20
    assert set(exchange.body) == {ord("e")}  # de-chunked: no chunk-size lines in the body
    assert exchange.header(ORIGINAL_TRANSFER_ENCODING) == "chunked"
    assert exchange.header("Transfer-Encoding") is None


def test_total_time_also_bounds_the_headers(test_site: TestSite, fetcher: Fetcher) -> None:
    # Each header byte comes well within the read timeout: only the hop's total deadline stops this.
    started = time.monotonic()
    exchange = only(fetcher.fetch(test_site.url("/trickle-headers")))
    assert time.monotonic() - started < FAST.total_timeout_s + 0.5
    assert exchange.status is None and "no complete response" in (exchange.error or "")


def test_endless_body_stops_at_max_bytes(test_site: TestSite, fetcher: Fetcher) -> None:
    exchange = only(fetcher.fetch(test_site.url("/endless"), max_bytes=32 * 1024))
    assert exchange.truncated == "length" and len(exchange.body) == 32 * 1024


def test_huge_body_keeps_at_most_max_bytes(test_site: TestSite, fetcher: Fetcher) -> None:
    exchange = only(fetcher.fetch(test_site.url("/huge"), max_bytes=256 * 1024))
    assert exchange.truncated == "length" and len(exchange.body) == 256 * 1024
    assert exchange.header("Content-Length") == str(HUGE_SIZE)
    # The connection was closed, not drained: the server stops once socket buffers are full.
    time.sleep(0.3)
    assert test_site.huge_bytes_sent < 64 * 1024 * 1024
    test_site.add("/after", b"after", "text/plain")
    assert only(fetcher.fetch(test_site.url("/after"))).body == b"after"


def test_body_of_exactly_max_bytes_is_not_truncated(test_site: TestSite, fetcher: Fetcher) -> None:
    test_site.add("/exact", b"x" * 1000, "text/plain")
    test_site.add("/chunked", b"y" * 5000, "text/plain", chunked=True)
    assert only(fetcher.fetch(test_site.url("/exact"), max_bytes=1000)).truncated is None
    assert only(fetcher.fetch(test_site.url("/exact"), max_bytes=999)).truncated == "length"
    chunked = only(fetcher.fetch(test_site.url("/chunked")))
    assert chunked.body == b"y" * 5000 and chunked.truncated is None


def test_server_that_never_answers_is_an_error(fetcher: Fetcher) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel completes the handshake; nobody ever reads or answers
    try:
        exchange = only(fetcher.fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/"))
    finally:
        silent.close()
    assert exchange.status is None
    assert "no complete response" in (exchange.error or "")


def test_connection_dropped_before_an_answer_is_tried_once_more(fetcher: Fetcher) -> None:
    """What a keep-alive connection closed by the server just as it is reused looks like to the client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(2)
    requests: list[bytes] = []

    def serve(drops: int) -> None:
        for attempt in range(drops + 1):
            conn, _ = listener.accept()
            with conn:
                request = conn.recv(4096)
                if request:
                    requests.append(request)
                if attempt == drops and request:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    port = listener.getsockname()[1]
    try:
        server = threading.Thread(target=serve, args=(1,))
        server.start()
        exchange = only(fetcher.fetch(f"http://127.0.0.1:{port}/again"))
        server.join()
        assert (exchange.status, exchange.body, len(requests)) == (200, b"ok", 2)
        requests.clear()
        server = threading.Thread(target=serve, args=(2,))
        server.start()
        failed = only(fetcher.fetch(f"http://127.0.0.1:{port}/again"))
        assert failed.status is None and "broke off" in (failed.error or "")
        assert len(requests) == 2  # one retry only
        socket.create_connection(("127.0.0.1", port)).close()  # let the server thread finish
        server.join()
    finally:
        listener.close()


def test_closed_port_is_a_connect_error(fetcher: Fetcher) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    exchange = only(fetcher.fetch(f"http://127.0.0.1:{port}/"))
    assert exchange.status is None and "could not connect to 127.0.0.1" in (exchange.error or "")


def test_threads_share_one_fetcher(test_site: TestSite, fetcher: Fetcher) -> None:
    pictures = {f"/p{seed}.png": benign_png(seed) for seed in range(8)}
    for path, body in pictures.items():
        test_site.add(path, body, "image/png")
    paths = list(pictures) * 5
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda path: only(fetcher.fetch(test_site.url(path))), paths))
    assert [r.body for r in results] == [pictures[path] for path in paths]
    assert only(fetcher.fetch(test_site.url("/p0.png"))).status == 200


# Encodings and validators --------------------------------------------------------------------------------


def test_gzip_body_is_kept_raw_and_decodes(test_site: TestSite, fetcher: Fetcher) -> None:
    exchange = only(fetcher.fetch(test_site.url("/gzip")))
    assert exchange.header("Content-Encoding") == "gzip"
    assert exchange.body[:2] == b"\x1f\x8b" and exchange.body == gzip.compress(GZIP_PAGE, mtime=0)
    assert exchange.decoded_body(1 << 20) == GZIP_PAGE
    with pytest.raises(ContentTooLargeError) as caught:
        exchange.decoded_body(100)
    assert caught.value.partial == GZIP_PAGE[:100]


def test_decompression_bomb_stops_at_the_limit(test_site: TestSite, fetcher: Fetcher) -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KB
    test_site.add("/bomb.html", bomb, "text/html", headers={"Content-Encoding": "gzip"})
    exchange = only(fetcher.fetch(test_site.url("/bomb.html")))
    assert exchange.body == bomb
    started = time.monotonic()
    with pytest.raises(ContentTooLargeError) as caught:
        exchange.decoded_body(1 << 20)
    assert time.monotonic() - started < 0.5
    assert caught.value.partial == bytes(1 << 20)


def test_conditional_requests_get_304(test_site: TestSite, fetcher: Fetcher) -> None:
    body = benign_jpeg(5)
    test_site.add("/c.jpg", body, "image/jpeg")
    first = only(fetcher.fetch(test_site.url("/c.jpg")))
    assert first.header("ETag") == etag_of(body) and first.header("Last-Modified") == LAST_MODIFIED
    again = only(fetcher.fetch(test_site.url("/c.jpg"), headers={"If-None-Match": etag_of(body)}))
    assert (again.status, again.body) == (304, b"")
    assert test_site.requests[-1][2]["if-none-match"] == etag_of(body)
    since = only(fetcher.fetch(test_site.url("/c.jpg"), headers={"If-Modified-Since": LAST_MODIFIED}))
    assert since.status == 304
    changed = only(fetcher.fetch(test_site.url("/c.jpg"), headers={"If-None-Match": '"other"'}))
    assert (changed.status, changed.body) == (200, body)


@given(st.binary(max_size=4096), st.sampled_from(["gzip", "deflate", "raw-deflate", "br", "gzip, br"]))
def test_decode_content_round_trips_and_respects_the_limit(data: bytes, coding: str) -> None:
    encoders = {
        "gzip": lambda b: gzip.compress(b),
        "deflate": zlib.compress,
        "raw-deflate": _raw_deflate,
        "br": brotli.compress,
        "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
    }
    encoded = encoders[coding](data)
    header = "deflate" if coding == "raw-deflate" else coding
    assert decode_content(encoded, header, len(data)) == data
    if data:
        with pytest.raises(ContentTooLargeError) as caught:
            decode_content(encoded, header, len(data) - 1)
        if "," not in coding:
            assert caught.value.partial == data[:-1]


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def test_decode_content_edge_cases() -> None:
    page = b"<html>" + b"a" * 5000 + b"</html>"
    assert decode_content(page, None, 10_000) == page
    assert decode_content(page, "identity", 10_000) == page
    two_members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert decode_content(two_members, "gzip", 100) == b"first second"
    cut = gzip.compress(page)[:40]  # a body stopped by max_bytes decodes to what arrived
    assert page.startswith(decode_content(cut, "gzip", 10_000))
    with pytest.raises(OnlineError, match="not supported"):
        decode_content(page, "zstd", 10_000)
    with pytest.raises(OnlineError, match="could not be decoded"):
        decode_content(b"\x1f\x8bnot gzip at all", "gzip", 10_000)
    with pytest.raises(ContentTooLargeError):
        decode_content(page, None, 100)
    bomb = brotli.compress(bytes(16 * 1024 * 1024), quality=1)
    with pytest.raises(ContentTooLargeError) as caught:
        decode_content(bomb, "br", 1 << 20)
    assert caught.value.partial == bytes(1 << 20)


# TLS -----------------------------------------------------------------------------------------------------


def test_tls_certificate_is_recorded(tls_site: TestSite, resolver: TableResolver) -> None:
    assert tls_site.ca_path is not None
    tls_site.add("/secure.png", benign_png(9), "image/png")
    limits = FetchLimits(
        connect_timeout_s=1, read_timeout_s=1, total_timeout_s=2, verify_tls=str(tls_site.ca_path)
    )
    with Fetcher(limits, LOCAL_ONLY, resolver) as fetcher:
        exchange = only(fetcher.fetch(tls_site.url("/secure.png")))
    material = tls_material(tls_site.ca_path.parent)
    assert exchange.error is None and exchange.body == benign_png(9)
    assert exchange.tls_subject == material.server_subject == "CN=himaya-test-server,O=Himaya TEST"
    assert exchange.tls_issuer == material.ca_subject == "CN=Himaya TEST CA,O=Himaya TEST"
    assert exchange.tls_certificate_sha256 == server_certificate_sha256()
    assert exchange.server_ip == "127.0.0.1"


def test_untrusted_certificate_is_an_error_naming_the_problem(tls_site: TestSite, fetcher: Fetcher) -> None:
    tls_site.add("/x", b"x", "text/plain")
    exchange = only(fetcher.fetch(tls_site.url("/x")))  # verify against the public CAs only
    assert exchange.status is None
    assert "TLS certificate of 127.0.0.1 was not accepted" in (exchange.error or "")
    assert "unable to get local issuer certificate" in (exchange.error or "")
    assert tls_site.requests == []


def test_unverified_tls_still_records_the_certificate(tls_site: TestSite, resolver: TableResolver) -> None:
    tls_site.add("/x", b"x", "text/plain")
    limits = FetchLimits(connect_timeout_s=1, read_timeout_s=1, total_timeout_s=2, verify_tls=False)
    with Fetcher(limits, LOCAL_ONLY, resolver) as fetcher:
        exchange = only(fetcher.fetch(tls_site.url("/x")))
    assert exchange.status == 200 and exchange.tls_certificate_sha256 == server_certificate_sha256()


def test_tls_name_is_the_url_host_while_tcp_goes_to_the_checked_address(tls_site: TestSite) -> None:
    assert tls_site.ca_path is not None
    tls_site.add("/x", b"x", "text/plain")
    resolver = TableResolver({"localhost": ["127.0.0.1"], "wrong-name.test": ["127.0.0.1"]})
    limits = FetchLimits(
        connect_timeout_s=1, read_timeout_s=1, total_timeout_s=2, verify_tls=str(tls_site.ca_path)
    )
    with Fetcher(limits, LOCAL_ONLY, resolver) as fetcher:
        good = only(fetcher.fetch(f"https://localhost:{tls_site.port}/x"))
        bad = only(fetcher.fetch(f"https://wrong-name.test:{tls_site.port}/x"))
    assert (good.status, good.server_ip) == (200, "127.0.0.1")  # certificate names "localhost": accepted
    assert bad.status is None and "Hostname mismatch" in (bad.error or "")
    assert resolver.calls == ["localhost", "wrong-name.test"]


def test_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    with pytest.raises(UsageError, match=re.escape(str(missing))):
        Fetcher(FetchLimits(verify_tls=str(missing)), LOCAL_ONLY)
    with pytest.raises(UsageError, match=re.escape("socks5://127.0.0.1:1080")):
        Fetcher(FetchLimits(proxy="socks5://127.0.0.1:1080"), LOCAL_ONLY)
