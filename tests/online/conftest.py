"""Fixtures of the online tests: a local web site (plain and TLS) and a canary that must never be reached.

Every server listens on 127.0.0.1 (the canary on 127.0.0.2); nothing here resolves a real host name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.smtp_sink import SmtpSink
from tests.builders.web_server import Canary, TestSite, tls_material


@pytest.fixture
def test_site() -> Iterator[TestSite]:
    site = TestSite()
    yield site
    site.close()


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[TestSite]:
    """The same site over HTTPS; `tls_site.ca_path` is the throw-away CA to pass as verify_tls."""
    material = tls_material(tmp_path / "tls")
    site = TestSite(tls=material.server_context(), ca_path=material.ca_path)
    yield site
    site.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A local SMTP server on 127.0.0.1 that keeps what it receives."""
    with SmtpSink() as sink:
        yield sink
