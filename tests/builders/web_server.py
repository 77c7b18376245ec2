"""A local web site for the online tests: HTTP/1.1 with keep-alive on 127.0.0.1, plain or over TLS.

Pages are added per test (`add`, `redirect`, `remove`); a few built-in endpoints misbehave on purpose:
"/slow" (headers, then one byte every 2 s), "/endless" (chunked, never ends), "/huge" (announces 2 GiB,
streams zeros), "/gzip" (a gzip-encoded page) and "/trickle-headers" (a header byte every 0.2 s,
forever). `tls_material` makes a throw-away CA and a server certificate for 127.0.0.1 / localhost with
`cryptography`; `Canary` is a bare TCP listener on 127.0.0.2 that records every connection, so an SSRF
test can prove nothing reached it. Content is benign and generated (`benign_png`, `benign_jpeg`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import gzip
import hashlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.builders.images import encode, gradient_picture

LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
_LAST_MODIFIED_AT = email.utils.parsedate_to_datetime(LAST_MODIFIED)
GZIP_PAGE = (
    b"<!doctype html><html><body><h1>TEST gzip page</h1>" + b"<p>benign text</p>" * 200 + b"</body></html>"
)
HUGE_SIZE = 2 * 1024**3
SLOW_SIZE = 100
CONNECTION_ERRORS = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
    ssl.SSLError,
)


def benign_png(seed: int, width: int = 96, height: int = 72) -> bytes:
    return encode(gradient_picture(seed, width, height, shapes=4), "PNG")


def benign_jpeg(seed: int, width: int = 96, height: int = 72) -> bytes:
    return encode(gradient_picture(seed, width, height, shapes=4), "JPEG")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@dataclass
class _Route:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    conditional: bool = False  # ETag / Last-Modified sent and honoured
    chunked: bool = False


class TestSite:
    """A running site; `requests` lists (method, path, headers with lower-case names) as they came in."""

    __test__ = False  # a helper, not a test class

    def __init__(self, tls: ssl.SSLContext | None = None, ca_path: Path | None = None) -> None:
        self.ca_path = ca_path
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.huge_bytes_sent = 0  # how much of "/huge" left the server before the client hung up
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self.stopped = threading.Event()
        self._server = _Server(self, tls)
        port = self._server.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.port = port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        chunked: bool = False,
    ) -> None:
        """Serve `body` at `path`, with an ETag (quoted sha256 prefix) and a fixed Last-Modified."""
        route_headers = [("Content-Type", content_type), *(headers or {}).items()]
        with self._lock:
            self._routes[path] = _Route(status, body, route_headers, conditional=True, chunked=chunked)

    def remove(self, path: str, status: int = 404) -> None:
        """Taken down: 404 (or 410 Gone) from now on."""
        with self._lock:
            self._routes[path] = _Route(status, b"removed", [("Content-Type", "text/plain")])

    def redirect(
        self, path: str, location: str, status: int = 302, *, headers: Mapping[str, str] | None = None
    ) -> None:
        with self._lock:
            self._routes[path] = _Route(status, b"", [("Location", location), *(headers or {}).items()])

    def requests_for(self, path: str) -> list[tuple[str, str, dict[str, str]]]:
        with self._lock:
            return [request for request in self.requests if request[1] == path]

    def close(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def _route(self, path: str) -> _Route | None:
        with self._lock:
            return self._routes.get(path) or self._routes.get(urlsplit(path).path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections may idle in their threads; close() shuts them

    def __init__(self, site: TestSite, tls: ssl.SSLContext | None) -> None:
        self.site = site
        self.tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the connection's own thread, so a client that never finishes it
        # cannot stall the accept loop.
        if self.tls is None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                super().finish_request(request, client_address)
            return
        try:
            request.settimeout(5)
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        # The TLS socket replaces the accepted one (which wrap_socket detached), so it is closed here.
        with self._open_lock:
            self._open.add(wrapped)
        try:
            with contextlib.suppress(*CONNECTION_ERRORS):
                super().finish_request(wrapped, client_address)
        finally:
            with self._open_lock:
                self._open.discard(wrapped)
            wrapped.close()

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end on their own
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        site = self.server.site
        site._log(self.command, self.path, {name.lower(): value for name, value in self.headers.items()})
        route = site._route(self.path)
        if route is None:
            builtin = _BUILTINS.get(urlsplit(self.path).path)
            if builtin is not None:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    builtin(self, site.stopped)
                return
            route = _Route(404, b"not found", [("Content-Type", "text/plain")])
        self._send(route, head)

    def _send(self, route: _Route, head: bool) -> None:
        status, body = route.status, route.body
        validators: list[tuple[str, str]] = []
        if route.conditional:
            validators = [("ETag", etag_of(body)), ("Last-Modified", LAST_MODIFIED)]
            if self._not_modified(etag_of(body)):
                self.send_response(304)
                for name, value in validators:
                    self.send_header(name, value)
                self.end_headers()
                return
        self.send_response(status)
        for name, value in [*route.headers, *validators]:
            self.send_header(name, value)
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not head:
                for start in range(0, len(body), 1000):
                    piece = body[start : start + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _not_modified(self, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is not None:
            try:
                return email.utils.parsedate_to_datetime(since) >= _LAST_MODIFIED_AT
            except (TypeError, ValueError):
                return False
        return False


def _closing(handler: _Handler) -> None:
    """The streaming endpoints end by closing the connection, and say so."""
    handler.close_connection = True
    handler.send_header("Connection", "close")


def _slow(handler: _Handler, stopped: threading.Event) -> None:
    handler.send_response(200)
    _closing(handler)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(SLOW_SIZE))
    handler.end_headers()
    handler.wfile.flush()
    for _ in range(SLOW_SIZE):
        if stopped.wait(2):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()


def _trickle_headers(handler: _Handler, stopped: threading.Event) -> None:
    handler.close_connection = True
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
    while not stopped.wait(0.2):  # a header byte now and then: never idle long enough for a read timeout
        handler.wfile.write(b"a")


def _endless(handler: _Handler, stopped: threading.Event) -> None:
    handler.send_response(200)
    _closing(handler)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    piece = b"e" * 8192
    while not stopped.wait(0.005):  # about 1.6 MB/s: a time limit of a second stops it well before 64 MiB
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()


def _huge(handler: _Handler, stopped: threading.Event) -> None:
    handler.send_response(200)
    _closing(handler)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(HUGE_SIZE))
    handler.end_headers()
    zeros = bytes(65536)
    site = handler.server.site
    while site.huge_bytes_sent < HUGE_SIZE and not stopped.is_set():
        handler.wfile.write(zeros)
        site.huge_bytes_sent += len(zeros)


def _gzip(handler: _Handler, stopped: threading.Event) -> None:
    body = gzip.compress(GZIP_PAGE, mtime=0)
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


_BUILTINS: dict[str, Callable[[_Handler, threading.Event], None]] = {
    "/slow": _slow,
    "/endless": _endless,
    "/huge": _huge,
    "/gzip": _gzip,
    "/trickle-headers": _trickle_headers,
}


# TLS ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsMaterial:
    ca_path: Path
    cert_path: Path
    key_path: Path
    ca_subject: str  # RFC 4514, as the fetcher records it
    server_subject: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


@cache
def _tls_pems() -> tuple[bytes, bytes, bytes, str, str]:
    """(CA cert, server cert, server key) PEMs, made once per test process: EC keys, valid for a day."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Himaya TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Himaya TEST CA"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Himaya TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, "himaya-test-server"),
        ]
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(server_name)
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM),
        server.public_bytes(serialization.Encoding.PEM),
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        ca_name.rfc4514_string(),
        server_name.rfc4514_string(),
    )


def tls_material(directory: Path) -> TlsMaterial:
    ca_pem, cert_pem, key_pem, ca_subject, server_subject = _tls_pems()
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in ("test-ca.pem", "server.pem", "server.key")}
    for (_name, path), pem in zip(paths.items(), (ca_pem, cert_pem, key_pem), strict=True):
        path.write_bytes(pem)
    return TlsMaterial(
        paths["test-ca.pem"], paths["server.pem"], paths["server.key"], ca_subject, server_subject
    )


def server_certificate_sha256() -> str:
    """SHA-256 of the server certificate's DER bytes (what the fetcher records)."""
    cert_pem = _tls_pems()[1]
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


# The canary -----------------------------------------------------------------------------------------------


class Canary:
    """A TCP listener on 127.0.0.2 that only records who connected: it must stay empty in SSRF tests."""

    host = "127.0.0.2"

    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((self.host, 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def settled(self, seconds: float = 0.15) -> list[tuple[str, int]]:
        """The connections seen, after giving a late one time to be accepted and recorded."""
        time.sleep(seconds)
        return list(self.connections)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append((str(peer[0]), int(peer[1])))
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
