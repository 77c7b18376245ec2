"""Bounded, recorded fetches: every HTTP exchange of a capture, kept as received, within firm limits.

One `Fetcher` serves every thread of a capture run (one httpx transport and httpcore pool, which are
thread-safe). A fetch follows redirects itself so that each hop is recorded as its own `Exchange` and each
hop's address goes through the guard (`himaya.online.guard`). Nothing here raises for network trouble: a
hop that failed is an `Exchange` with `error` set, because a capture must record what happened, failures
included, rather than stop.

Bodies are kept raw (content-encoding as sent, so the recorded bytes are what the server sent) and
bounded three ways: `max_bytes` per body, `read_timeout_s` between bytes, and `total_timeout_s` per hop,
which a per-thread deadline enforces on every socket operation, the status line and headers included, so
a server trickling one byte at a time cannot hold a worker for hours.
"""

from __future__ import annotations

import hashlib
import importlib
import ssl
import threading
import time
import typing
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx
from cryptography import x509

from himaya import __version__
from himaya.errors import BlockedAddressError, OnlineError, UsageError
from himaya.online.guard import AddressPolicy, GuardedBackend, ResolutionError, Resolver

try:
    _brotli: Any = importlib.import_module("brotli")  # optional: only advertised when installed
except ImportError:  # pragma: no cover - brotli is a dependency of the dev environment
    _brotli = None

Truncation = Literal["length", "time", "disconnect"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Renamed on the way in: the body is stored de-chunked, and a WARC reader that saw "Transfer-Encoding:
# chunked" in the recorded headers would try to de-chunk it again and fail (or silently mangle it).
ORIGINAL_TRANSFER_ENCODING = "X-Himaya-Original-Transfer-Encoding"
ACCEPT_ENCODING = "gzip, deflate, br" if _brotli is not None else "gzip, deflate"


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0  # between bytes
    total_timeout_s: float = 120.0  # one hop, connect to last byte
    max_redirects: int = 5
    max_bytes: int = 100 * 1024 * 1024  # one body; callers pass a smaller one for pages
    user_agent: str = f"Himaya/{__version__} (law-enforcement capture)"
    # With a proxy, the proxy resolves and connects to the target: the target's addresses are still
    # resolved and checked here before each request, but the proxy may resolve differently (not pinned).
    proxy: str | None = None
    verify_tls: bool | str = True  # False, or the path of a CA bundle
    max_connections: int = 16


@dataclass
class Exchange:
    """One hop: the request sent and the response received (or why none came)."""

    url: str
    requested_at: datetime
    request_headers: list[tuple[str, str]]
    status: int | None
    reason: str
    http_version: str
    response_headers: list[tuple[str, str]]
    body: bytes
    truncated: Truncation | None
    server_ip: str | None
    server_port: int | None
    tls_subject: str | None
    tls_issuer: str | None
    tls_certificate_sha256: str | None
    error: str | None
    blocked: bool = False
    dns_gone: bool = False
    elapsed_s: float = 0.0
    method: str = "GET"

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.response_headers:
            if key.lower() == wanted:
                return value
        return None

    def decoded_body(self, limit: int) -> bytes:
        """The body with its content-encoding undone, at most `limit` bytes (see `decode_content`)."""
        return decode_content(self.body, self.header("Content-Encoding"), limit, where=self.url)

    @property
    def location(self) -> str | None:
        if self.status not in REDIRECT_STATUSES:
            return None
        target = self.header("Location")
        if not target or not target.strip():
            return None
        return urljoin(self.url, target.strip())


class ContentTooLargeError(OnlineError):
    """Decoded content would pass its limit (a decompression bomb, or just a big page).

    `partial` holds the first `limit` decoded bytes, for callers that can work with the start of a page.
    """

    def __init__(self, where: str, limit: int, partial: bytes) -> None:
        super().__init__(
            f"{where}: decoded content is larger than {limit} bytes (possibly a decompression bomb); "
            "only the first part was decoded. Raise the limit only if this content is really expected"
        )
        self.where = where
        self.limit = limit
        self.partial = partial


def decode_content(body: bytes, content_encoding: str | None, limit: int, *, where: str = "body") -> bytes:
    """Undo a Content-Encoding (gzip, deflate, br; several in order), never producing more than `limit`.

    Raises ContentTooLargeError (with the first `limit` bytes) past the limit, OnlineError for an unknown
    or corrupt encoding. A body cut short by a fetch limit decodes to the part that was received.
    """
    codings = [coding.strip().lower() for coding in (content_encoding or "").split(",") if coding.strip()]
    codings = [coding for coding in codings if coding != "identity"]
    data = body
    # An inner layer is still compressed data, which for small or incompressible content is a little
    # larger than what it decodes to; it gets room for that, and is still bounded.
    inner_limit = 2 * limit + 65536
    for index, coding in enumerate(reversed(codings)):
        last = index == len(codings) - 1
        decoder = _DECODERS.get(coding)
        if decoder is None or (coding == "br" and _brotli is None):
            raise OnlineError(
                f"{where}: content-encoding {coding!r} is not supported; the raw body is kept as received"
            )
        try:
            data, exceeded = decoder(data, limit if last else inner_limit)
        except (zlib.error, ValueError) as error:
            raise OnlineError(f"{where}: {coding} content could not be decoded ({error})") from error
        except Exception as error:
            if _brotli is not None and isinstance(error, _brotli.error):
                raise OnlineError(f"{where}: {coding} content could not be decoded ({error})") from error
            raise
        if exceeded:
            # An inner layer's partial output is still encoded, so only the last layer's start is useful.
            raise ContentTooLargeError(where, limit, data[:limit] if last else b"")
    if len(data) > limit:
        raise ContentTooLargeError(where, limit, data[:limit])
    return data


def _inflate(data: bytes, limit: int, wbits: int) -> tuple[bytes, bool]:
    out = bytearray()
    decompressor = zlib.decompressobj(wbits)
    pending = data
    while pending:
        # max_length is >= 1 here (we return as soon as out passes limit); 0 would mean "unbounded".
        out += decompressor.decompress(pending, limit + 1 - len(out))
        if len(out) > limit:
            return bytes(out), True
        if decompressor.unconsumed_tail:
            pending = decompressor.unconsumed_tail
        elif decompressor.eof and decompressor.unused_data[:2] == b"\x1f\x8b" and wbits > 15:
            pending = decompressor.unused_data  # gzip allows several members one after another
            decompressor = zlib.decompressobj(wbits)
        else:
            break
    out += decompressor.flush(limit + 1 - len(out))
    return bytes(out), len(out) > limit


def _gunzip(data: bytes, limit: int) -> tuple[bytes, bool]:
    return _inflate(data, limit, 16 + zlib.MAX_WBITS)


def _deflate(data: bytes, limit: int) -> tuple[bytes, bool]:
    # "deflate" should be zlib-wrapped (RFC 9110), but many servers send raw deflate.
    try:
        return _inflate(data, limit, zlib.MAX_WBITS)
    except zlib.error:
        return _inflate(data, limit, -zlib.MAX_WBITS)


def _unbrotli(data: bytes, limit: int) -> tuple[bytes, bool]:
    decompressor = _brotli.Decompressor()
    out = bytearray(decompressor.process(data, output_buffer_limit=limit + 1))
    # Past the output limit brotli keeps the rest of the input; it is drained with empty calls.
    while len(out) <= limit and not decompressor.is_finished() and not decompressor.can_accept_more_data():
        more = decompressor.process(b"", output_buffer_limit=limit + 1 - len(out))
        if not more:
            break
        out += more
    return bytes(out), len(out) > limit


_DECODERS: dict[str, Callable[[bytes, int], tuple[bytes, bool]]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _deflate,
    "br": _unbrotli,
}


# The per-hop deadline ------------------------------------------------------------------------------------

_deadline = threading.local()


@contextmanager
def _hop_deadline(seconds: float) -> Iterator[float]:
    """Every socket operation of this thread must finish by the returned monotonic time."""
    deadline = time.monotonic() + seconds
    previous = getattr(_deadline, "at", None)
    _deadline.at = deadline
    try:
        yield deadline
    finally:
        _deadline.at = previous


def _clamp(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("total time limit of this fetch reached")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose reads, writes and TLS handshake also stop at the thread's hop deadline.

    Pooled connections are shared between threads over time; the deadline is the calling thread's.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, _clamp(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _clamp(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PoolTransport(httpx.HTTPTransport):
    """httpx's transport over a pool we build ourselves.

    httpx 0.28 has no public way to hand httpcore a network backend (encode/httpx PR #3749 is still open),
    so the parent builds its usual pool and we replace it; everything else (request conversion, exception
    mapping to httpx's types) stays httpx's own.
    """

    def __init__(self, pool: httpcore.ConnectionPool, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool.close()
        self._pool = pool


class _SharedTransport(httpx.BaseTransport):
    """Lends the fetcher's transport to a short-lived client without letting the client close it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        # The certificate is still received and recorded; it is just not judged.
        context = ssl.create_default_context(cafile=certifi.where())
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = certifi.where() if verify is True else str(verify)
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise UsageError(
            f"cannot load the CA bundle {cafile}: {error}; give a PEM file of trusted certificates"
        ) from error


# The fetcher ---------------------------------------------------------------------------------------------


class Fetcher:
    """GET requests through the address guard, within `FetchLimits`, each hop recorded as an `Exchange`."""

    def __init__(self, limits: FetchLimits, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.limits = limits
        self.guard = GuardedBackend(policy, resolver)
        ssl_context = _ssl_context(limits.verify_tls)
        pool: httpcore.ConnectionPool
        if limits.proxy is None:
            pool = httpcore.ConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_connections,
                keepalive_expiry=30.0,
                network_backend=_DeadlineBackend(self.guard),
            )
        else:
            proxy = httpx.URL(limits.proxy)
            if proxy.scheme not in ("http", "https"):
                raise UsageError(
                    f"proxy {limits.proxy!r} is not an http:// or https:// URL; give it as http://host:port"
                )
            pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(
                    scheme=proxy.raw_scheme, host=proxy.raw_host, port=proxy.port, target=proxy.raw_path
                ),
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_connections,
                keepalive_expiry=30.0,
                # The unit chose its proxy, so it is not subject to the policy; the targets are (see _hop).
                network_backend=_DeadlineBackend(httpcore.SyncBackend()),
            )
        self._transport = _PoolTransport(pool, ssl_context)
        self._timeout = httpx.Timeout(
            connect=limits.connect_timeout_s,
            read=limits.read_timeout_s,
            write=limits.read_timeout_s,
            pool=limits.total_timeout_s,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        method: Literal["GET", "HEAD"] = "GET",
    ) -> list[Exchange]:
        """GET `url`, following redirects; one Exchange per hop, the last is the final answer.

        HEAD (for re-checks that compare a length) is followed through redirects as HEAD.
        """
        limit = self.limits.max_bytes if max_bytes is None else max_bytes
        chain: list[Exchange] = []
        # A fresh client (and cookie jar) per fetch: cookies set during one redirect chain are sent back
        # within it, as a browser would, but never leak into an unrelated capture.
        with httpx.Client(
            transport=_SharedTransport(self._transport),
            cookies=httpx.Cookies(),
            headers={
                "User-Agent": self.limits.user_agent,
                "Accept": "*/*",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            current = url
            while True:
                exchange = self._hop(client, method, current, limit, headers)
                chain.append(exchange)
                target = exchange.location
                if not follow_redirects or exchange.error is not None or target is None:
                    break
                if len(chain) > self.limits.max_redirects:
                    chain.append(
                        _no_response(
                            target,
                            datetime.now(UTC),
                            [],
                            f"not fetched: {url} redirected more than {self.limits.max_redirects} times "
                            "(a loop, or a chain meant to exhaust the capture); fetch this URL on its own "
                            "if it matters",
                        )
                    )
                    break
                current = target
        for exchange in chain:
            exchange.method = method
        return chain

    def _hop(
        self, client: httpx.Client, method: str, url: str, limit: int, headers: Mapping[str, str] | None
    ) -> Exchange:
        requested_at = datetime.now(UTC)
        started = time.monotonic()
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            return _no_response(
                url,
                requested_at,
                [],
                f"refused to fetch {url}: only http and https URLs are captured (this is "
                f"{scheme + ':' if scheme else 'not a URL'}); check the reported address",
            )
        try:
            request = client.build_request(method, url, headers=headers)
        except (httpx.InvalidURL, ValueError, UnicodeError) as error:
            return _no_response(url, requested_at, [], f"{url} is not a valid URL ({error}); check it")
        host = request.url.host
        try:
            with _hop_deadline(self.limits.total_timeout_s) as deadline:
                if self.limits.proxy is not None:
                    target_host = request.url.raw_host.decode("ascii")  # IDNA-encoded, as DNS sees it
                    self.guard.checked_addresses(target_host, request.url.port or _default_port(scheme), url)
                response = _send(client, request)
                try:
                    exchange = self._record(url, requested_at, request, response)
                    exchange.body, exchange.truncated, exchange.error = _read_body(
                        response, limit, deadline, self.limits
                    )
                finally:
                    response.close()
        except BlockedAddressError as error:
            blocked = BlockedAddressError(url, error.address, error.reason)
            exchange = _no_response(url, requested_at, _headers(request.headers), str(blocked))
            exchange.blocked = True
        except ResolutionError as error:
            exchange = _no_response(url, requested_at, _headers(request.headers), str(error))
            exchange.dns_gone = error.dns_gone
        except (httpx.HTTPError, OnlineError) as error:
            exchange = _no_response(
                url, requested_at, _headers(request.headers), _describe(error, host, self.limits)
            )
        exchange.elapsed_s = time.monotonic() - started
        return exchange

    def _record(
        self, url: str, requested_at: datetime, request: httpx.Request, response: httpx.Response
    ) -> Exchange:
        server_ip: str | None = None
        server_port: int | None = None
        tls = _Tls()
        stream = response.extensions.get("network_stream")
        if stream is not None:
            if self.limits.proxy is None:  # through a proxy the peer is the proxy, not the site
                peer = stream.get_extra_info("server_addr")
                if isinstance(peer, tuple) and len(peer) >= 2:
                    server_ip, server_port = str(peer[0]), int(peer[1])
            tls = _Tls.of(stream.get_extra_info("ssl_object"))
        reason = response.extensions.get("reason_phrase", b"")
        return Exchange(
            url=url,
            requested_at=requested_at,
            request_headers=_headers(request.headers),
            status=response.status_code,
            reason=reason.decode("latin-1") if isinstance(reason, bytes) else str(reason),
            http_version=response.http_version,
            response_headers=[
                (ORIGINAL_TRANSFER_ENCODING if name.lower() == "transfer-encoding" else name, value)
                for name, value in _headers(response.headers)
            ],
            body=b"",
            truncated=None,
            server_ip=server_ip,
            server_port=server_port,
            tls_subject=tls.subject,
            tls_issuer=tls.issuer,
            tls_certificate_sha256=tls.sha256,
            error=None,
        )


@dataclass
class _Tls:
    subject: str | None = None
    issuer: str | None = None
    sha256: str | None = None

    @classmethod
    def of(cls, ssl_object: Any) -> _Tls:
        if ssl_object is None:
            return cls()
        der = ssl_object.getpeercert(True)
        if not der:
            return cls()
        certificate = x509.load_der_x509_certificate(der)
        return cls(
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            sha256=hashlib.sha256(der).hexdigest(),
        )


def _send(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    try:
        return client.send(request, stream=True)
    except httpx.RemoteProtocolError:
        # A pooled keep-alive connection that the server closed just as it was taken fails before any
        # answer ("Server disconnected without sending a response"). GET and HEAD are safe to repeat:
        # once, as browsers do; a server that does it again is recorded as failing.
        return client.send(request, stream=True)


def _read_body(
    response: httpx.Response, limit: int, deadline: float, limits: FetchLimits
) -> tuple[bytes, Truncation | None, str | None]:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_raw():
            room = limit - size
            if len(chunk) > room:
                # Stop here: closing the response closes the connection instead of draining the rest.
                chunks.append(chunk[:room])
                return b"".join(chunks), "length", None
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() >= deadline:
                return b"".join(chunks), "time", None
    except httpx.TimeoutException:
        if time.monotonic() >= deadline - 0.05:
            return b"".join(chunks), "time", None
        return (
            b"".join(chunks),
            "time",
            f"{response.url.host} stopped sending for {limits.read_timeout_s:g} s after {size} bytes; "
            "the body is incomplete (the site may be overloaded or stalling on purpose); re-check later",
        )
    except (httpx.RemoteProtocolError, httpx.NetworkError) as error:
        return (
            b"".join(chunks),
            "disconnect",
            f"{response.url.host} closed the connection after {size} bytes of the body ({error}); "
            "the body is incomplete; re-check later",
        )
    return b"".join(chunks), None, None


def _no_response(
    url: str, requested_at: datetime, request_headers: list[tuple[str, str]], error: str
) -> Exchange:
    return Exchange(
        url=url,
        requested_at=requested_at,
        request_headers=request_headers,
        status=None,
        reason="",
        http_version="",
        response_headers=[],
        body=b"",
        truncated=None,
        server_ip=None,
        server_port=None,
        tls_subject=None,
        tls_issuer=None,
        tls_certificate_sha256=None,
        error=error,
    )


def _headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    # latin-1 maps every byte to one character, so the recorded text turns back into the exact bytes.
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers.raw]


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _describe(error: Exception, host: str, limits: FetchLimits) -> str:
    """A sentence for a hop that got no response: what happened and what to do about it."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"the TLS certificate of {host} was not accepted: {cause.verify_message} "
                f"(certificate verify failed); the site's certificate is not trusted here. Capture with TLS "
                "verification off to record it anyway (the certificate is recorded), or give its CA bundle"
            )
        if isinstance(cause, ssl.SSLError):
            return (
                f"the TLS handshake with {host} failed ({cause.reason or cause}); the site may use an "
                "outdated or broken TLS setup; re-check later or capture it by other means"
            )
    if isinstance(error, httpx.ConnectTimeout):
        return (
            f"connecting to {host} timed out after {limits.connect_timeout_s:g} s; the site may be down or "
            "dropping this network's traffic; re-check later"
        )
    if isinstance(error, httpx.PoolTimeout):
        return (
            f"no connection slot became free within {limits.total_timeout_s:g} s (all "
            f"{limits.max_connections} in use); run fewer captures at once or raise max_connections"
        )
    if isinstance(error, httpx.TimeoutException):
        return (
            f"{host} sent no complete response within the time limits (read {limits.read_timeout_s:g} s, "
            f"total {limits.total_timeout_s:g} s); the site may be overloaded or stalling; re-check later"
        )
    if isinstance(error, httpx.ConnectError):
        return f"could not connect to {host} ({error}); the site may be down or gone; re-check later"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"{host} broke off or garbled the HTTP exchange ({error}); re-check later"
    if isinstance(error, OnlineError):
        return str(error)
    return f"fetching from {host} failed ({type(error).__name__}: {error}); re-check later"


__all__ = [
    "ACCEPT_ENCODING",
    "ORIGINAL_TRANSFER_ENCODING",
    "REDIRECT_STATUSES",
    "ContentTooLargeError",
    "Exchange",
    "FetchLimits",
    "Fetcher",
    "decode_content",
]
