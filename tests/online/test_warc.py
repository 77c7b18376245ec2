"""WARC records of real exchanges with the local site: valid for warcio, digests checked, tampering found."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import socket
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from himaya.errors import OnlineError
from himaya.online.fetch import ContentTooLargeError, Exchange, Fetcher, FetchLimits
from himaya.online.guard import AddressPolicy, ResolutionError, is_ip_literal
from himaya.online.warc import (
    WARC_HEADER_PAYLOAD_SHA256,
    WARC_HEADER_TLS_CERTIFICATE_SHA256,
    WARC_HEADER_TLS_ISSUER,
    WARC_HEADER_TLS_SUBJECT,
    exchange_records,
    resource_record,
    response_payload,
    strip_payload,
    verify,
    warcinfo_record,
)
from tests.builders.web_server import GZIP_PAGE, TestSite, benign_png, server_certificate_sha256

LOCAL_ONLY = AddressPolicy.from_cidrs(["127.0.0.1/32"])
FAST = FetchLimits(connect_timeout_s=1.0, read_timeout_s=0.5, total_timeout_s=1.5, max_bytes=1 << 20)


class NoNames:
    def resolve(self, host: str, port: int) -> list[str]:
        raise ResolutionError(host, "Name or service not known", dns_gone=True)


@pytest.fixture(autouse=True)
def _no_system_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert is_ip_literal(str(host)), f"a test resolved {host!r} through the system resolver"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST, LOCAL_ONLY, NoNames()) as made:
        yield made


def records(warc: bytes) -> list[tuple[Any, bytes]]:
    """(warcio record, payload bytes) for every record, read with warcio itself."""
    found = []
    for record in ArchiveIterator(io.BytesIO(warc)):
        found.append((record, record.raw_stream.read()))
    return found


def sha256_b32(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        members.append(decompressor.decompress(data))
        data = decompressor.unused_data
    return members


def tamper(warc: bytes, old: bytes, new: bytes) -> bytes:
    """Change `old` to `new` inside the records, re-compressing each gzip member (as an editor would)."""
    members = gzip_members(warc)
    assert any(old in member for member in members)
    return b"".join(gzip.compress(member.replace(old, new, 1)) for member in members)


@pytest.fixture
def capture(test_site: TestSite, fetcher: Fetcher) -> list[Exchange]:
    """A redirect, a picture, and a blocked hop: every kind of record."""
    test_site.redirect("/start", "/pic.png")
    test_site.add("/pic.png", benign_png(3), "image/png")
    test_site.redirect("/to-private", "http://10.0.0.1/")
    return fetcher.fetch(test_site.url("/start")) + fetcher.fetch(test_site.url("/to-private"))


def test_concatenated_records_form_a_valid_warc(capture: list[Exchange]) -> None:
    info = warcinfo_record({"description": "TEST capture", "isPartOf": "CASE-TEST-1"})
    warc = info + b"".join(exchange_records(exchange) for exchange in capture)
    assert warc[:2] == b"\x1f\x8b"
    found = records(warc)
    assert [r.rec_type for r, _ in found] == [
        "warcinfo",
        *("request", "response") * 3,  # redirect, picture, redirect
        "metadata",  # the blocked hop
    ]
    assert all(r.rec_headers.protocol == "WARC/1.1" for r, _ in found)
    assert verify(warc) == []
    warcinfo = found[0][1].decode()
    assert "software: Himaya/" in warcinfo and "description: TEST capture" in warcinfo
    assert "isPartOf: CASE-TEST-1" in warcinfo


def test_request_and_response_records_carry_the_exchange(capture: list[Exchange]) -> None:
    picture = capture[1]
    (request, request_body), (response, payload) = records(exchange_records(picture))
    headers = response.rec_headers
    assert headers.get_header("WARC-Target-URI") == picture.url
    assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert headers.get_header("WARC-Date") == picture.requested_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(headers.get_header("WARC-Date")) == len("2024-01-01T00:00:00.000000Z")
    assert headers.get_header("WARC-Payload-Digest") == sha256_b32(picture.body)
    assert headers.get_header(WARC_HEADER_PAYLOAD_SHA256) == picture.payload_sha256
    assert headers.get_header("WARC-Truncated") is None
    assert payload == picture.body == benign_png(3)
    assert response.http_headers.get_statuscode() == "200"
    assert response.http_headers.get_header("Content-Type") == "image/png"
    # Request and response name each other.
    assert request.rec_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert headers.get_header("WARC-Concurrent-To") == request.rec_headers.get_header("WARC-Record-ID")
    assert request.http_headers.protocol == "GET" and request.http_headers.statusline.startswith("/pic.png ")
    assert request.http_headers.get_header("User-Agent") == FAST.user_agent
    assert request_body == b""


def test_digests_are_sha256_of_what_is_stored(capture: list[Exchange]) -> None:
    warc = exchange_records(capture[1])
    raw = gzip.decompress(warc)
    for record, payload in records(warc):
        block_digest = record.rec_headers.get_header("WARC-Block-Digest")
        assert block_digest.startswith("sha256:")
        if record.rec_type == "response":
            block = record.http_headers.to_ascii_bytes() + payload
            assert block in raw
            assert block_digest == sha256_b32(block)


def test_verify_finds_a_flipped_payload_byte(capture: list[Exchange]) -> None:
    picture = capture[1]
    warc = exchange_records(picture)
    middle = picture.body[len(picture.body) // 2 : len(picture.body) // 2 + 16]
    flipped = bytes([middle[0] ^ 0x01]) + middle[1:]
    problems = verify(tamper(warc, middle, flipped))
    assert any("block digest failed" in problem for problem in problems), problems
    assert any("payload digest failed" in problem for problem in problems), problems
    assert any(WARC_HEADER_PAYLOAD_SHA256 in problem for problem in problems), problems


def test_verify_finds_an_edited_header_and_damaged_compression(capture: list[Exchange]) -> None:
    warc = exchange_records(capture[1])
    assert any("block digest failed" in p for p in verify(tamper(warc, b"image/png", b"image/gif")))
    damaged = bytearray(warc)
    damaged[len(damaged) // 2] ^= 0xFF
    assert verify(bytes(damaged)) != []
    assert verify(b"") == ["no WARC records found"]
    assert verify(b"not a warc at all") != []


def test_metadata_record_for_a_blocked_hop(capture: list[Exchange]) -> None:
    blocked = capture[-1]
    assert blocked.blocked
    ((record, fields),) = records(exchange_records(blocked))
    assert record.rec_type == "metadata"
    assert record.rec_headers.get_header("WARC-Target-URI") == "http://10.0.0.1/"
    assert record.rec_headers.get_header("Content-Type") == "application/warc-fields"
    text = fields.decode()
    assert "blocked: true\r\n" in text and "dns-gone: false\r\n" in text
    assert "error: refused to fetch http://10.0.0.1/" in text
    assert verify(exchange_records(blocked)) == []
    with pytest.raises(OnlineError, match="0 response records"):
        response_payload(exchange_records(blocked), 1000)


def test_without_payload_the_record_keeps_headers_and_the_hash(capture: list[Exchange]) -> None:
    picture = capture[1]
    warc = exchange_records(picture, keep_payload=False)
    (_, _), (response, payload) = records(warc)
    assert payload == b""
    assert response.rec_headers.get_header("WARC-Truncated") == "unspecified"
    assert (
        response.rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256)
        == hashlib.sha256(benign_png(3)).hexdigest()
    )
    assert response.http_headers.get_header("Content-Type") == "image/png"
    assert benign_png(3) not in gzip.decompress(warc)
    assert verify(warc) == []


def test_strip_payload_matches_keep_payload_false(capture: list[Exchange]) -> None:
    picture = capture[1]
    kept = exchange_records(picture)
    stripped = strip_payload(kept)
    assert verify(stripped) == []
    before, after = records(kept), records(stripped)
    assert [r.rec_headers.get_header("WARC-Record-ID") for r, _ in before] == [
        r.rec_headers.get_header("WARC-Record-ID") for r, _ in after
    ]
    response, payload = after[1]
    assert payload == b"" and response.rec_headers.get_header("WARC-Truncated") == "unspecified"
    assert response.rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256) == picture.payload_sha256
    assert benign_png(3) not in gzip.decompress(stripped)
    # A response recorded without Himaya's hash header gains it from the body being dropped.
    foreign = tamper(kept, WARC_HEADER_PAYLOAD_SHA256.encode(), b"X-Some-Other-Tool-Header")
    assert records(foreign)[1][0].rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256) is None
    adopted = records(strip_payload(foreign))[1][0]
    assert adopted.rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256) == picture.payload_sha256
    twice = strip_payload(stripped)  # stripping again keeps the original body's hash, not the empty one's
    assert verify(twice) == []
    assert records(twice)[1][0].rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256) == picture.payload_sha256


def test_response_payload_decodes_what_was_stored(test_site: TestSite, fetcher: Fetcher) -> None:
    (gzipped,) = fetcher.fetch(test_site.url("/gzip"))
    warc = exchange_records(gzipped)
    assert response_payload(warc, 1 << 20) == GZIP_PAGE
    with pytest.raises(ContentTooLargeError):
        response_payload(warc, 100)
    test_site.add("/chunked.html", b"<p>chunked TEST page</p>" * 100, "text/html", chunked=True)
    (chunked,) = fetcher.fetch(test_site.url("/chunked.html"))
    warc = exchange_records(chunked)
    (_, _), (response, payload) = records(warc)
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.http_headers.get_header("X-Himaya-Original-Transfer-Encoding") == "chunked"
    assert payload == response_payload(warc, 1 << 20) == b"<p>chunked TEST page</p>" * 100
    with pytest.raises(OnlineError, match="2 response records"):
        response_payload(exchange_records(gzipped) + warc, 1 << 20)
    with pytest.raises(OnlineError, match="cannot be read"):
        response_payload(b"\x1f\x8b garbage", 100)


def test_truncated_and_tls_exchanges_say_so(
    test_site: TestSite, tls_site: TestSite, fetcher: Fetcher
) -> None:
    (huge,) = fetcher.fetch(test_site.url("/huge"), max_bytes=4096)
    (_, _), (response, payload) = records(exchange_records(huge))
    assert response.rec_headers.get_header("WARC-Truncated") == "length" and payload == bytes(4096)
    assert verify(exchange_records(huge)) == []

    assert tls_site.ca_path is not None
    tls_site.add("/s", b"secure TEST", "text/plain")
    limits = FetchLimits(
        connect_timeout_s=1, read_timeout_s=1, total_timeout_s=2, verify_tls=str(tls_site.ca_path)
    )
    with Fetcher(limits, LOCAL_ONLY, NoNames()) as tls_fetcher:
        (secure,) = tls_fetcher.fetch(tls_site.url("/s"))
    (_, _), (response, _) = records(exchange_records(secure))
    assert response.rec_headers.get_header(WARC_HEADER_TLS_SUBJECT) == "CN=himaya-test-server,O=Himaya TEST"
    assert response.rec_headers.get_header(WARC_HEADER_TLS_ISSUER) == "CN=Himaya TEST CA,O=Himaya TEST"
    assert response.rec_headers.get_header(WARC_HEADER_TLS_CERTIFICATE_SHA256) == server_certificate_sha256()


def made_exchange(**changes: Any) -> Exchange:
    values: dict[str, Any] = {
        "url": "https://example.test/a.jpg",
        "requested_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "request_headers": [("Host", "example.test"), ("User-Agent", "Himaya TEST")],
        "status": 200,
        "reason": "OK",
        "http_version": "HTTP/1.1",
        "response_headers": [("Content-Type", "image/jpeg"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        "body": b"TEST body",
        "truncated": None,
        "server_ip": "203.0.113.7",
        "server_port": 443,
        "tls_subject": "CN=example.test",
        "tls_issuer": "CN=TEST CA",
        "tls_certificate_sha256": "ab" * 32,
        "error": None,
    }
    values.update(changes)
    return Exchange(**values)


def test_hostile_values_cannot_forge_record_headers() -> None:
    exchange = made_exchange(
        url="https://example.test/a\r\nWARC-Type: revisit",
        tls_subject="CN=evil\r\nWARC-Truncated: length",
        response_headers=[("Content-Type", "text/html\r\nX-Injected: 1")],
    )
    warc = exchange_records(exchange)
    assert verify(warc) == []
    (_, _), (response, _) = records(warc)
    assert response.rec_type == "response" and response.rec_headers.get_header("WARC-Truncated") is None
    assert "\\x0d\\x0a" in response.rec_headers.get_header("WARC-Target-URI")
    assert response.http_headers.get_header("X-Injected") is None
    assert (
        response.rec_headers.get_header(WARC_HEADER_TLS_SUBJECT) == "CN=evil\\x0d\\x0aWARC-Truncated: length"
    )


def test_duplicate_response_headers_are_kept_in_order() -> None:
    (_, _), (response, _) = records(exchange_records(made_exchange()))
    assert response.http_headers.headers == [
        ("Content-Type", "image/jpeg"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert response.rec_headers.get_header("WARC-Date") == "2024-05-06T07:08:09.123456Z"


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)


@given(
    body=st.binary(max_size=2048),
    headers=st.lists(
        st.tuples(header_text.filter(lambda s: ":" not in s and s.strip() == s), header_text), max_size=5
    ),
    keep=st.booleans(),
)
def test_any_exchange_round_trips(body: bytes, headers: list[tuple[str, str]], keep: bool) -> None:
    exchange = made_exchange(body=body, response_headers=headers)
    warc = exchange_records(exchange, keep_payload=keep)
    assert verify(warc) == []
    assert verify(warc + warc) == []
    if keep and not any(name.lower() in ("content-encoding", "transfer-encoding") for name, _ in headers):
        assert response_payload(warc, 4096) == body


def test_an_inline_picture_is_a_resource_record_that_verifies() -> None:
    picture = benign_png(77)
    found_at = datetime(2026, 11, 28, 9, 30, 0, 123456, tzinfo=UTC)
    data = resource_record(
        "http://127.0.0.1/TEST/p.html#inline-1",
        picture,
        "image/png",
        found_at,
        "http://127.0.0.1/TEST/p.html",
    )
    assert verify(data) == []
    assert response_payload(data, 1 << 20) == picture
    [record] = list(ArchiveIterator(io.BytesIO(data)))
    assert record.rec_type == "resource"
    assert record.rec_headers.get_header("WARC-Date") == "2026-11-28T09:30:00.123456Z"
    assert record.rec_headers.get_header(WARC_HEADER_PAYLOAD_SHA256) == hashlib.sha256(picture).hexdigest()
    assert record.rec_headers.get_header("Content-Type") == "image/png"
    damaged = bytearray(gzip.decompress(data))
    damaged[-10] ^= 0xFF
    assert verify(gzip.compress(bytes(damaged))) != []
