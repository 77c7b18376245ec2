"""Suite-wide guards and fixtures.

Every test runs with the socket layer patched: a connect to anything outside 127.0.0.0/8 (or ::1, or a
Unix socket) raises, so even broken code under test cannot send a packet off this machine.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from tests.builders.videos import VideoCorpus

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class OutboundConnectionBlocked(AssertionError):
    pass


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already leave the machine


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OutboundConnectionBlocked(f"test tried to connect to {address!r}; only 127.0.0.0/8 is allowed")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OutboundConnectionBlocked(f"test tried to connect to {address!r}; only 127.0.0.0/8 is allowed")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_outbound_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture
def himaya_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A private home and a blob key *outside* it, as on an investigator's laptop."""
    home = tmp_path / "home"
    key_file = tmp_path / "keys" / "blob.key"
    monkeypatch.setenv("HIMAYA_HOME", str(home))
    monkeypatch.setenv("HIMAYA_KEY_FILE", str(key_file))
    monkeypatch.delenv("HIMAYA_DATABASE_URL", raising=False)
    monkeypatch.delenv("HIMAYA_BLOB_KEY", raising=False)
    yield {"home": home, "key_file": key_file}


# The local PostgreSQL server that `@pytest.mark.postgres` tests use: trust auth, database "test".
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL for server mode in a fresh schema of the test database, dropped afterwards.

    The store reaches its schema by search_path (libpq `options`), so tests never share tables. Skips, with
    the reason, when the server is not reachable. Fixtures of any scope build on it.
    """
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 (database 'test') is not reachable: {error}")
    schema = f"himaya_test_{secrets.token_hex(6)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema per test (see `postgres_schema`)."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="session")
def video_corpus(tmp_path_factory: pytest.TempPathFactory) -> VideoCorpus:
    """The video matching corpus (tests.builders.videos.build_corpus), encoded once per test process: about
    15 s on one core, so every video test shares it."""
    from tests.builders.videos import build_corpus  # PyAV is loaded only by the tests that need videos

    return build_corpus(tmp_path_factory.mktemp("videos"))
