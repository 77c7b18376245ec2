"""Log-in: argon2id, TOTP (required for administrators, replay refused), cookies, throttling, lock-out."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from himaya.security import auth
from himaya.store.models import AuditEvent, LoginAttempt, User, WebSession
from himaya.web.app import create_app
from tests.web.conftest import PASSWORD, Web, post_form


def _login(web: Web, username: str, password: str = PASSWORD, code: str = "") -> object:
    client = web.client()
    return client, post_form(
        client, "/login", {"username": username, "password": password, "code": code}, page="/login"
    )


def test_log_in_with_totp_sets_a_strict_http_only_cookie(web: Web) -> None:
    client, response = _login(web, "rita", code=web.code("rita"))
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP on 127.0.0.1; Secure under TLS (next test)
    assert client.get("/").status_code == 200
    with web.store.session() as session:
        token = client.cookies.get("himaya_session")
        stored = session.scalars(select(WebSession.token_hash)).all()
        assert token not in stored  # only the token's hash is kept
        assert (
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login"))
            == 1
        )


def test_cookies_are_secure_under_tls(web_sqlite: Web) -> None:
    web_sqlite.state.secure_cookies = True
    client = TestClient(create_app(web_sqlite.state), base_url="https://testserver", follow_redirects=False)
    response = post_form(client, "/login", {"username": "rami", "password": PASSWORD}, page="/login")
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"]


def test_a_wrong_or_replayed_code_is_refused(web: Web) -> None:
    _client, response = _login(web, "rita", code="000000" if web.code("rita") != "000000" else "111111")
    assert response.status_code == 401
    code = web.code("rita")
    _c, first = _login(web, "rita", code=code)
    assert first.status_code == 303
    _c, replay = _login(web, "rita", code=code)  # the same code again, within its 30 s
    assert replay.status_code == 401


def test_an_administrator_without_a_second_factor_cannot_log_in(web: Web) -> None:
    with web.store.transaction() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        admin.totp_secret_enc = None
    _client, response = _login(web, "admin")
    assert response.status_code == 401
    assert "second factor" in response.text


def test_the_totp_secret_is_stored_encrypted(web: Web) -> None:
    with web.store.session() as session:
        stored = session.scalar(select(User.totp_secret_enc).where(User.username == "rita"))
    assert stored is not None and web.secrets["rita"] not in stored
    assert auth.decrypt_totp_secret(web.key, _user_id(web, "rita"), stored) == web.secrets["rita"]
    assert pyotp.TOTP(web.secrets["rita"]).now().isdigit()


def _user_id(web: Web, name: str) -> int:
    with web.store.session() as session:
        found = session.scalar(select(User.id).where(User.username == name))
    assert found is not None
    return found


def test_brute_force_locks_the_account_and_throttles_the_address(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_IP", 8)  # the same rule, with fewer argon2 checks to wait for
    for _ in range(auth.MAX_FAILED_LOGINS):
        _client, response = _login(web, "rami", password="TEST wrong password guess")
        assert response.status_code == 401
    # Locked now: even the right password is refused, with what to do next.
    _client, response = _login(web, "rami")
    assert response.status_code == 429
    assert "himaya user unlock" in response.text
    assert int(response.headers["retry-after"]) > 60
    # The address is throttled across accounts too (password spraying).
    statuses = [
        _login(web, f"nobody{i}", password="TEST wrong password guess")[1].status_code
        for i in range(auth.MAX_FAILURES_PER_IP)
    ]
    assert statuses[-1] == 429
    with web.store.session() as session:
        failed = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login_failed")
        )
        assert failed is not None and failed >= auth.MAX_FAILED_LOGINS + 1
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) > 0
        details = " ".join(d or "" for d in session.scalars(select(AuditEvent.detail)))
    assert "TEST wrong password guess" not in details and PASSWORD not in details


def test_password_is_stored_as_argon2id_and_never_in_the_trail(web: Web) -> None:
    web.login("rita")
    with web.store.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "rita"))
        details = " ".join(d or "" for d in session.scalars(select(AuditEvent.detail)))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in details
    if web.store.engine.dialect.name == "sqlite":
        database = web.state.home / "himaya.db"
        assert PASSWORD.encode() not in database.read_bytes()
        assert web.secrets["rita"].encode() not in database.read_bytes()


def test_log_out_ends_the_session(web: Web) -> None:
    client = web.login("rami")
    assert post_form(client, "/logout", {}).status_code == 303
    assert client.get("/").status_code == 303


def test_security_headers(web: Web) -> None:
    client = web.login("rami")
    response = client.get("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


def test_account_language_password_and_new_second_factor(web: Web) -> None:
    client = web.login("rami")
    switched = post_form(client, "/account/language", {"language": "ar", "next": "/exposure"})
    assert switched.status_code == 303 and switched.headers["location"] == "/exposure"
    page = client.get("/account").text
    assert 'dir="rtl"' in page and 'lang="ar"' in page
    outside = post_form(client, "/account/language", {"language": "en", "next": "//evil.example/x"})
    assert outside.headers["location"] == "/account"  # never a redirect off this server
    wrong = post_form(client, "/account/totp", {"current": "TEST not my password"}, page="/account")
    assert wrong.status_code == 400
    enrolled = post_form(client, "/account/totp", {"current": PASSWORD}, page="/account")
    secret = re.search(r'id="totp-secret">([A-Z2-7]{32})<', enrolled.text)
    assert enrolled.status_code == 200 and secret
    web.secrets["rami"] = secret.group(1)
    with web.store.session() as session:
        stored = session.scalar(select(User.totp_secret_enc).where(User.username == "rami"))
    assert stored and secret.group(1) not in stored
    short = post_form(client, "/account/password", {"current": PASSWORD, "new": "short"}, page="/account")
    assert short.status_code == 400
    changed = post_form(
        client, "/account/password", {"current": PASSWORD, "new": PASSWORD + " 2"}, page="/account"
    )
    assert changed.status_code == 303
    assert client.get("/").status_code == 303  # the password change ended this session
    _client, again = _login(web, "rami", password=PASSWORD + " 2")
    assert again.status_code == 401  # a second factor is now needed
    _client, with_code = _login(web, "rami", password=PASSWORD + " 2", code=web.code("rami"))
    assert with_code.status_code == 303
