"""WARC 1.1 records of captured exchanges, as bytes (the caller encrypts and stores them).

Each `exchange_records` call returns gzip members of its own, so the outputs of many calls concatenate into
one valid .warc.gz. Digests are SHA-256 ("sha256:<base32>"), computed here: warcio's writer only knows
SHA-1 and takes no hash type, but it keeps digests a record already carries.

warcio writes HTTP headers as ASCII: a header value holding bytes above 0x7F is stored %-encoded
(RFC 8187), so such a value differs from the wire bytes. The block digest covers what is stored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.bufferedreaders import ChunkedDataReader  # type: ignore[import-untyped]
from warcio.recordbuilder import RecordBuilder  # type: ignore[import-untyped]
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from himaya import __version__
from himaya.errors import OnlineError
from himaya.online.fetch import Exchange, decode_content

WARC_HEADER_TLS_SUBJECT = "WARC-Himaya-TLS-Subject"
WARC_HEADER_TLS_ISSUER = "WARC-Himaya-TLS-Issuer"
WARC_HEADER_TLS_CERTIFICATE_SHA256 = "WARC-Himaya-TLS-Certificate-SHA256"
WARC_HEADER_PAYLOAD_SHA256 = "WARC-Himaya-Payload-SHA256"
WARC_HEADER_FOUND_IN = "WARC-Himaya-Found-In"  # the page that held an inline (data:) picture

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def warcinfo_record(info: Mapping[str, str]) -> bytes:
    """A gzip-compressed warcinfo record: software and format, then `info` (which may override them).

    It describes the capture, never the operator: WARC files may be handed to a court or a host.
    """
    fields = {
        "software": f"Himaya/{__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "description": "Capture of reported URLs: every HTTP exchange as sent and received",
    }
    fields.update(info)
    block = _warc_fields(fields.items())
    headers = {
        "WARC-Type": "warcinfo",
        "WARC-Record-ID": _record_id(),
        "WARC-Date": _warc_date(datetime.now(UTC)),
        "WARC-Block-Digest": _digest(block),
    }
    return _write([_record("", "warcinfo", block, headers, content_type="application/warc-fields")])


def exchange_records(exchange: Exchange, *, keep_payload: bool = True) -> bytes:
    """Gzip-compressed WARC records of one hop: request + response, or metadata when no response came.

    keep_payload=False keeps the status line and headers but no body (the unit's "do not keep media"):
    the record says WARC-Truncated: unspecified and keeps the body's real SHA-256 in
    WARC-Himaya-Payload-SHA256, so a later copy can still be proven identical.
    """
    date = _warc_date(exchange.requested_at)
    uri = _clean(exchange.url)
    if exchange.status is None:
        return _write([_metadata_record(exchange, uri, date)])

    request_id, response_id = _record_id(), _record_id()
    common: dict[str, str] = {"WARC-Date": date, "WARC-Target-URI": uri}
    if exchange.server_ip:
        common["WARC-IP-Address"] = exchange.server_ip
    version = exchange.http_version or "HTTP/1.1"

    target = urlsplit(exchange.url)
    request_target = (target.path or "/") + (f"?{target.query}" if target.query else "")
    request_http = StatusAndHeaders(
        f"{_clean(request_target)} {version}",
        _http_headers(exchange.request_headers),
        protocol=_clean(exchange.method or "GET"),
    )
    request_headers = {
        "WARC-Type": "request",
        "WARC-Record-ID": request_id,
        **common,
        "WARC-Concurrent-To": response_id,
    }
    request = _http_record(uri, "request", request_http, b"", request_headers)

    payload = exchange.body if keep_payload else b""
    response_http = StatusAndHeaders(
        f"{exchange.status} {_clean(exchange.reason)}".rstrip(),
        _http_headers(exchange.response_headers),
        protocol=version,
    )
    response_headers = {"WARC-Type": "response", "WARC-Record-ID": response_id, **common}
    response_headers["WARC-Concurrent-To"] = request_id
    truncated = exchange.truncated if keep_payload else "unspecified"
    if truncated:
        response_headers["WARC-Truncated"] = truncated
    for name, value in (
        (WARC_HEADER_TLS_SUBJECT, exchange.tls_subject),
        (WARC_HEADER_TLS_ISSUER, exchange.tls_issuer),
        (WARC_HEADER_TLS_CERTIFICATE_SHA256, exchange.tls_certificate_sha256),
    ):
        if value:
            response_headers[name] = _clean(value)
    response_headers[WARC_HEADER_PAYLOAD_SHA256] = exchange.payload_sha256
    response = _http_record(uri, "response", response_http, payload, response_headers)
    return _write([request, response])


def resource_record(uri: str, data: bytes, content_type: str, found_at: datetime, page_url: str) -> bytes:
    """A picture a page holds itself (a `data:` URI): one `resource` record, since nothing was fetched.

    `uri` names it (the page URL with a fragment; the data: URI itself can be megabytes long); the page it
    came from is in WARC-Himaya-Found-In, and that page's own response record holds the data: URI as
    written.
    """
    headers = {
        "WARC-Type": "resource",
        "WARC-Record-ID": _record_id(),
        "WARC-Date": _warc_date(found_at),
        "WARC-Target-URI": _clean(uri),
        "WARC-Payload-Digest": _digest(data),
        "WARC-Block-Digest": _digest(data),
        WARC_HEADER_PAYLOAD_SHA256: hashlib.sha256(data).hexdigest(),
        WARC_HEADER_FOUND_IN: _clean(page_url),
    }
    return _write([_record(_clean(uri), "resource", data, headers, content_type=_clean(content_type))])


def response_payload(warc: bytes, limit: int) -> bytes:
    """The HTTP payload of the one response record in `warc`, chunking and content-encoding undone; or
    the content of its one `resource` record (a picture found inline in a page).

    At most `limit` bytes: ContentTooLargeError (an OnlineError, holding the first `limit` bytes) past it.
    """
    found: list[tuple[str, Any, bytes]] = []
    try:
        for record in ArchiveIterator(io.BytesIO(warc)):
            if record.rec_type not in ("response", "resource"):
                continue
            uri = record.rec_headers.get_header("WARC-Target-URI") or "?"
            if record.rec_type == "resource":
                # No HTTP layer: the block is the content itself.
                found.append((uri, _NO_HTTP, record.raw_stream.read()))
                continue
            found.append((uri, record.http_headers, record.raw_stream.read()))
    except Exception as error:  # warcio raises assorted types for damaged input
        raise OnlineError(
            f"stored WARC cannot be read ({error}); the stored capture is damaged: capture the URL again"
        ) from error
    if len(found) != 1:
        raise OnlineError(
            f"stored WARC holds {len(found)} response records, expected exactly one; it is not a single "
            "exchange record from Himaya"
        )
    uri, http_headers, raw = found[0]
    if http_headers is _NO_HTTP:
        return decode_content(raw, None, limit, where=f"WARC resource record for {uri}")
    if http_headers is None:
        raise OnlineError(f"WARC response record for {uri} has no HTTP headers; it cannot be decoded")
    if "chunked" in (http_headers.get_header("Transfer-Encoding") or "").lower():
        raw = ChunkedDataReader(io.BytesIO(raw), raise_exceptions=True).read()
    return decode_content(
        raw, http_headers.get_header("Content-Encoding"), limit, where=f"WARC response record for {uri}"
    )


def strip_payload(warc: bytes) -> bytes:
    """The same records with every response body dropped, as `exchange_records(keep_payload=False)` makes.

    Record IDs, dates and other headers stay; each stripped response keeps (or gains) the SHA-256 of the
    body it had in WARC-Himaya-Payload-SHA256, and every digest is recomputed for what is now stored.
    """
    records: list[Any] = []
    try:
        for record in ArchiveIterator(io.BytesIO(warc)):
            headers, http_headers = record.rec_headers, record.http_headers
            payload = record.raw_stream.read()
            if record.rec_type == "response" and http_headers is not None:
                if headers.get_header("WARC-Truncated") != "unspecified":
                    headers.replace_header(WARC_HEADER_PAYLOAD_SHA256, hashlib.sha256(payload).hexdigest())
                    headers.replace_header("WARC-Truncated", "unspecified")
                payload = b""
            for name in ("Content-Length", "WARC-Block-Digest", "WARC-Payload-Digest"):
                headers.remove_header(name)
            block = payload
            if http_headers is not None:
                http_headers.compute_headers_buffer()
                block = http_headers.headers_buff + payload
            if record.rec_type != "warcinfo":
                headers.add_header("WARC-Payload-Digest", _digest(payload))
            headers.add_header("WARC-Block-Digest", _digest(block))
            records.append(
                _BUILDER.create_warc_record(
                    headers.get_header("WARC-Target-URI") or "",
                    record.rec_type,
                    payload=io.BytesIO(payload),
                    length=len(payload),
                    warc_content_type=headers.get_header("Content-Type") or "",
                    warc_headers=headers,
                    http_headers=http_headers,
                )
            )
    except Exception as error:  # warcio raises assorted types for damaged input
        raise OnlineError(
            f"stored WARC cannot be read ({error}); the stored capture is damaged, so its payload was kept"
        ) from error
    return _write(records)


def verify(warc: bytes) -> list[str]:
    """Problems found in `warc`: empty when every record parses with warcio and every digest matches."""
    problems: list[str] = []
    count = 0
    try:
        for record in ArchiveIterator(io.BytesIO(warc), check_digests=True):
            count += 1
            headers = record.rec_headers
            name = (
                f"record {count} ({record.rec_type} {headers.get_header('WARC-Target-URI') or ''})".replace(
                    " )", ")"
                )
            )
            payload = record.raw_stream.read()
            if not headers.get_header("WARC-Block-Digest"):
                problems.append(f"{name}: no WARC-Block-Digest")
            problems.extend(f"{name}: {problem}" for problem in record.digest_checker.problems)
            expected = headers.get_header(WARC_HEADER_PAYLOAD_SHA256)
            kept = headers.get_header("WARC-Truncated") != "unspecified"
            if expected and kept and hashlib.sha256(payload).hexdigest() != expected:
                problems.append(f"{name}: payload does not match {WARC_HEADER_PAYLOAD_SHA256} {expected}")
    except Exception as error:  # warcio and zlib raise assorted types for damaged input
        problems.append(f"record {count + 1}: cannot be read ({type(error).__name__}: {error})")
    if count == 0 and not problems:
        problems.append("no WARC records found")
    return problems


# Building records ----------------------------------------------------------------------------------------


def _metadata_record(exchange: Exchange, uri: str, date: str) -> Any:
    block = _warc_fields(
        [
            ("error", exchange.error or "no response"),
            ("blocked", "true" if exchange.blocked else "false"),
            ("dns-gone", "true" if exchange.dns_gone else "false"),
            ("elapsed-seconds", f"{exchange.elapsed_s:.3f}"),
        ]
    )
    headers = {
        "WARC-Type": "metadata",
        "WARC-Record-ID": _record_id(),
        "WARC-Date": date,
        "WARC-Target-URI": uri,
        "WARC-Payload-Digest": _digest(block),
        "WARC-Block-Digest": _digest(block),
    }
    return _record(uri, "metadata", block, headers, content_type="application/warc-fields")


def _http_record(
    uri: str, record_type: str, http_headers: Any, payload: bytes, warc_headers: dict[str, str]
) -> Any:
    # The buffer warcio will write; computed now so the block digest covers exactly those bytes.
    http_headers.compute_headers_buffer()
    warc_headers["WARC-Payload-Digest"] = _digest(payload)
    warc_headers["WARC-Block-Digest"] = _digest(http_headers.headers_buff + payload)
    return _record(uri, record_type, payload, warc_headers, http_headers=http_headers)


def _record(
    uri: str,
    record_type: str,
    payload: bytes,
    warc_headers: dict[str, str],
    *,
    content_type: str = "",
    http_headers: Any = None,
) -> Any:
    return _BUILDER.create_warc_record(
        uri,
        record_type,
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_content_type=content_type,
        warc_headers_dict=warc_headers,
        http_headers=http_headers,
    )


_BUILDER = RecordBuilder(warc_version="1.1")
_NO_HTTP = object()  # a resource record's marker in response_payload: its block has no HTTP headers


def _write(records: Iterable[Any]) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    for record in records:
        writer.write_record(record)
    return out.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean(value: str) -> str:
    """A header value without control characters: a CR/LF in a URL or certificate name must not be able
    to start a forged header line in the record."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", value)


def _http_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(_clean(name), _clean(value)) for name, value in headers]


def _warc_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{_clean(name)}: {_clean(value)}\r\n" for name, value in fields).encode("utf-8")
