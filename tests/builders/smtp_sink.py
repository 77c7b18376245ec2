"""A local SMTP server for tests: listens on 127.0.0.1 (a free port), records every message it accepts.

Speaks just enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT and
AUTH PLAIN/LOGIN (any credentials accepted unless `reject_auth`). It never offers STARTTLS and never speaks
TLS, so a client that insists on encryption fails against it. Hostile modes for the error paths:

- `fail=True`: answers 554 to DATA;
- `reject_auth=True`: answers 535 to AUTH;
- `echo_credentials=True`: those refusals quote the credentials received (plain and base64), as a badly
  written server might, so a test can prove the client never repeats the password.

The credentials received are kept in `logins` (the test's own made-up password), to prove they arrived.
"""

from __future__ import annotations

import base64
import binascii
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from types import TracebackType

_MAX_LINE = 64 * 1024
_Reply = Callable[[str], None]
_Read = Callable[[], "str | None"]


@dataclass
class SinkMessage:
    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class SinkLogin:
    mechanism: str
    username: str
    password: str


@dataclass
class _Session:
    authenticated_as: str | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    last_credentials: str = ""


class SmtpSink:
    """Start with `with SmtpSink() as sink:`; `sink.port`, `sink.messages`, `sink.logins`."""

    def __init__(
        self, *, fail: bool = False, reject_auth: bool = False, echo_credentials: bool = False
    ) -> None:
        self.fail = fail
        self.reject_auth = reject_auth
        self.echo_credentials = echo_credentials
        self.messages: list[SinkMessage] = []
        self.logins: list[SinkLogin] = []
        self.commands: list[str] = []  # every command verb received, in order
        self._lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 5

            def handle(self) -> None:
                sink._serve(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = "127.0.0.1"
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="smtp-sink", daemon=True)

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------------ protocol

    def _serve(self, handler: socketserver.StreamRequestHandler) -> None:
        session = _Session()

        def reply(line: str) -> None:
            handler.wfile.write(line.encode("utf-8", "replace") + b"\r\n")
            handler.wfile.flush()

        def read() -> str | None:
            raw = handler.rfile.readline(_MAX_LINE)
            if not raw:
                return None
            return raw.rstrip(b"\r\n").decode("utf-8", "replace")

        reply("220 127.0.0.1 TEST smtp sink ready")
        try:
            while (line := read()) is not None:
                verb, _, argument = line.partition(" ")
                verb = verb.upper()
                with self._lock:
                    self.commands.append(verb)
                if verb == "EHLO":
                    reply("250-127.0.0.1 greets you")
                    reply("250-8BITMIME")
                    reply("250 AUTH PLAIN LOGIN")
                elif verb == "HELO":
                    reply("250 127.0.0.1")
                elif verb == "AUTH":
                    self._auth(argument, session, reply, read)
                elif verb == "MAIL":
                    session.mail_from = _address(argument)
                    session.rcpt_to = []
                    reply("250 OK")
                elif verb == "RCPT":
                    if session.mail_from is None:
                        reply("503 MAIL first")
                    else:
                        session.rcpt_to.append(_address(argument))
                        reply("250 OK")
                elif verb == "DATA":
                    self._data(session, reply, handler)
                elif verb == "RSET":
                    session.mail_from, session.rcpt_to = None, []
                    reply("250 OK")
                elif verb == "NOOP":
                    reply("250 OK")
                elif verb == "QUIT":
                    reply("221 bye")
                    return
                else:
                    reply("502 command not implemented")
        except (OSError, TimeoutError):
            return

    def _auth(self, argument: str, session: _Session, reply: _Reply, read: _Read) -> None:
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial:
                reply("334 ")
                initial = read() or ""
            encoded = [initial]
            try:
                _, username, password = base64.b64decode(initial).decode("utf-8").split("\0")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                reply("501 malformed AUTH PLAIN")
                return
        elif mechanism == "LOGIN":
            reply("334 VXNlcm5hbWU6")  # "Username:"
            user_line = read() or ""
            reply("334 UGFzc3dvcmQ6")  # "Password:"
            password_line = read() or ""
            encoded = [user_line, password_line]
            try:
                username = base64.b64decode(user_line).decode("utf-8")
                password = base64.b64decode(password_line).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                reply("501 malformed AUTH LOGIN")
                return
        else:
            reply("504 unrecognised authentication mechanism")
            return
        with self._lock:
            self.logins.append(SinkLogin(mechanism, username, password))
        session.last_credentials = f"user={username} password={password} sent={' '.join(encoded)}"
        if self.reject_auth:
            echo = f": {session.last_credentials}" if self.echo_credentials else ""
            reply(f"535 5.7.8 authentication failed{echo}")
            return
        session.authenticated_as = username
        reply("235 2.7.0 authenticated")

    def _data(self, session: _Session, reply: _Reply, handler: socketserver.StreamRequestHandler) -> None:
        if session.mail_from is None or not session.rcpt_to:
            reply("503 MAIL and RCPT first")
            return
        if self.fail:
            echo = f" ({session.last_credentials})" if self.echo_credentials else ""
            reply(f"554 5.7.1 TEST sink refuses every message{echo}")
            return
        reply("354 end with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        while True:
            raw = handler.rfile.readline(_MAX_LINE)
            if not raw:
                return
            if raw in (b".\r\n", b".\n"):
                break
            lines.append(raw[1:] if raw.startswith(b".") else raw)  # dot-unstuffing (RFC 5321 4.5.2)
        data = b"".join(lines)
        parsed = message_from_bytes(data, policy=default)
        with self._lock:
            self.messages.append(
                SinkMessage(session.mail_from, list(session.rcpt_to), data, parsed, session.authenticated_as)
            )
        session.mail_from, session.rcpt_to = None, []
        reply("250 OK queued")


def _address(argument: str) -> str:
    """`FROM:<a@b> SIZE=12` → `a@b`."""
    _, _, rest = argument.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1 : rest.find(">")] if ">" in rest else rest[1:]
    return rest.split(" ")[0]
