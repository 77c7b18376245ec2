"""The review workspace under test: a scanned TEST case, people in every role, and a logged-in client.

The app runs on SQLite and on PostgreSQL (`web` is parametrised over both); browser tests use SQLite only.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Integer, select, text

from himaya.security import auth
from himaya.security.audit import AuditTrail, checkpoint_path_for
from himaya.security.crypto import load_or_create_key
from himaya.store.blobs import BlobStore
from himaya.store.db import Store, open_store
from himaya.store.models import Base, Case, User
from himaya.web.app import create_app
from himaya.web.state import WebState
from tests.builders.web_case import CASE, WebCase, scanned_case
from tests.conftest import postgres_schema

PASSWORD = "TEST correct horse battery"
# name -> (role, assigned to the case, second factor)
PEOPLE = {
    "admin": ("administrator", False, True),
    "sam": ("supervisor", True, False),
    "ivan": ("investigator", True, False),
    "rita": ("reviewer", True, True),
    "rami": ("reviewer", True, False),
    "audrey": ("auditor", False, False),
    "omar": ("reviewer", False, False),  # a reviewer of other cases: need-to-know keeps him out
}


@dataclass
class Web:
    store: Store
    blobs: BlobStore
    key: bytes
    key_file: Path
    state: WebState
    case: WebCase
    secrets: dict[str, str] = field(default_factory=dict)  # second-factor secrets, as shown once

    def client(self) -> TestClient:
        return TestClient(create_app(self.state), base_url="http://testserver", follow_redirects=False)

    def code(self, username: str) -> str:
        secret = self.secrets.get(username)
        return pyotp.TOTP(secret).now() if secret else ""

    def login(self, username: str, client: TestClient | None = None) -> TestClient:
        client = client or self.client()
        # A code is accepted once per time step: tests log the same person in more than once.
        with self.store.transaction() as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            user.totp_last_step = None
        response = post_form(
            client,
            "/login",
            {"username": username, "password": PASSWORD, "code": self.code(username)},
            page="/login",
        )
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def post_form(client: TestClient, url: str, data: dict[str, object], page: str = "/") -> object:
    """Posts like the page's form does: the CSRF token comes from the page the form is on."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={**data, "csrf_token": token})


def _build(base: Path, monkeypatch: pytest.MonkeyPatch, url: str | None) -> Web:
    home, key_file = base / "home", base / "keys" / "blob.key"
    if url:
        monkeypatch.setenv("HIMAYA_DATABASE_URL", url)
    else:
        monkeypatch.delenv("HIMAYA_DATABASE_URL", raising=False)
    store = open_store(home)
    key = load_or_create_key(key_file, home).key
    blobs = BlobStore(home / "blobs", key)
    case = scanned_case(store, blobs, base)
    trail = AuditTrail(key, checkpoint_path_for(key_file))
    state = WebState(store=store, blobs=blobs, blob_key=key, audit=trail, home=home)
    web = Web(store, blobs, key, key_file, state, case)
    with store.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == CASE))
        assert case_id is not None
        for name, (role, assigned, second_factor) in PEOPLE.items():
            created = auth.create_user(session, key, name, PASSWORD, role, totp=second_factor)
            if created.totp_secret:
                web.secrets[name] = created.totp_secret
            if assigned:
                auth.assign(session, created.user, case_id, "test")
    return web


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scanned SQLite case per test session; every test gets its own copy of it."""
    base = tmp_path_factory.mktemp("web-template")
    with pytest.MonkeyPatch.context() as monkeypatch:
        web = _build(base, monkeypatch, None)
        (base / "secrets.txt").write_text("\n".join(f"{k} {v}" for k, v in web.secrets.items()))
        (base / "known.md5").write_text(web.case.known_md5)
        web.store.close()
    return base


def _copy(template: Path, base: Path, monkeypatch: pytest.MonkeyPatch) -> Web:
    for name in ("home", "keys"):
        shutil.copytree(template / name, base / name)
    monkeypatch.delenv("HIMAYA_DATABASE_URL", raising=False)
    home, key_file = base / "home", base / "keys" / "blob.key"
    store = open_store(home)
    key = load_or_create_key(key_file, home).key
    blobs = BlobStore(home / "blobs", key)
    state = WebState(
        store=store,
        blobs=blobs,
        blob_key=key,
        audit=AuditTrail(key, checkpoint_path_for(key_file)),
        home=home,
    )
    secrets = dict(line.split(" ", 1) for line in (template / "secrets.txt").read_text().splitlines())
    case = WebCase(template / "phone", (template / "known.md5").read_text())
    return Web(store, blobs, key, key_file, state, case, secrets)


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[str]:
    """One PostgreSQL schema for the whole session; each test refills it (see `_to_postgres`)."""
    with postgres_schema() as url:
        yield url


def _to_postgres(web: Web, url: str, monkeypatch: pytest.MonkeyPatch) -> Web:
    """The same scanned case, every row copied into the session's PostgreSQL schema, emptied first
    (scanning into PostgreSQL is tested in tests/pipeline; here the app's queries run on both)."""
    monkeypatch.setenv("HIMAYA_DATABASE_URL", url)
    target = open_store(web.state.home)
    tables = Base.metadata.sorted_tables
    with web.store.session() as source, target.transaction() as session:
        session.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        for table in tables:
            rows = [dict(row._mapping) for row in source.execute(table.select())]
            if rows:
                session.execute(table.insert(), rows)
            if "id" in table.c and isinstance(table.c.id.type, Integer) and table.c.id.primary_key:
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                    )
                )
    web.store.close()
    state = WebState(
        store=target, blobs=web.blobs, blob_key=web.key, audit=web.state.audit, home=web.state.home
    )
    return Web(target, web.blobs, web.key, web.key_file, state, web.case, web.secrets)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def web(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path
) -> Iterator[Web]:
    built = _copy(_sqlite_template, tmp_path, monkeypatch)
    if request.param == "postgresql":
        built = _to_postgres(built, request.getfixturevalue("_postgres_schema"), monkeypatch)
    yield built
    built.store.close()


@pytest.fixture
def web_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path) -> Iterator[Web]:
    built = _copy(_sqlite_template, tmp_path, monkeypatch)
    yield built
    built.store.close()
