"""The unit's online settings: typed, validated before they are kept, never a secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.errors import UsageError
from himaya.online import settings as online_settings
from himaya.online.settings import KEYS, OnlineSettings, parse_value
from himaya.store.db import Store, open_store
from himaya.store.models import Setting


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    opened = open_store(himaya_env["home"])
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("key", "text", "problem"),
    [
        ("online.nothing", "1", "unknown setting"),
        ("online.depth", "two", "is not a int"),
        ("online.depth", "-1", "must not be negative"),
        ("online.verify_tls", "maybe", "is not a bool"),
        ("online.keep_media", "plain", "not one of encrypted, none"),
        ("online.smtp_security", "ssl", "not one of none, starttls, tls"),
        ("online.unit_country", "Jordan", "ISO 3166 alpha-2"),
        ("online.allow_networks", "10.0.0.0/33", "10.0.0.0/33"),
    ],
)
def test_a_bad_value_is_refused_with_the_reason(key: str, text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem.replace("(", r"\(")):
        parse_value(key, text)


def test_values_are_typed_and_kept(store: Store) -> None:
    with store.transaction() as session:
        assert online_settings.store(session, "online.unit_country", "jo", "TEST") == (None, "JO")
        online_settings.store(session, "online.verify_tls", "no", "TEST")
        online_settings.store(session, "online.recheck_hours", "12.5", "TEST")
        assert online_settings.store(session, "online.unit_country", "SA", "TEST") == ("JO", "SA")
    with store.session() as session:
        loaded = online_settings.load(session)
        assert (loaded.unit_country, loaded.verify_tls, loaded.recheck_hours) == ("SA", False, 12.5)
        assert session.get(Setting, "online.verify_tls").value == "false"  # type: ignore[union-attr]


def test_a_hand_edited_bad_value_falls_back_to_the_default(store: Store) -> None:
    with store.transaction() as session:
        session.add(Setting(key="online.depth", value="deep", changed_by="TEST"))
    with store.session() as session:
        assert online_settings.load(session).depth == OnlineSettings().depth


def test_no_setting_holds_a_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not [key for key in KEYS if key.endswith("password")]  # only a file path may be given
    secret = tmp_path / "smtp.pw"
    secret.write_text("TEST-smtp-pw\n")
    monkeypatch.delenv(online_settings.SMTP_PASSWORD_ENV, raising=False)
    assert OnlineSettings().smtp_password() is None
    assert OnlineSettings(smtp_password_file=str(secret)).smtp_password() == "TEST-smtp-pw"
    monkeypatch.setenv(online_settings.SMTP_PASSWORD_ENV, "TEST-from-env")
    assert OnlineSettings(smtp_password_file=str(secret)).smtp_password() == "TEST-from-env"
    monkeypatch.delenv(online_settings.SMTP_PASSWORD_ENV)
    with pytest.raises(UsageError, match=r"online\.smtp_password_file"):
        OnlineSettings(smtp_password_file=str(tmp_path / "missing")).smtp_password()


def test_notice_language_follows_the_host_country() -> None:
    auto = OnlineSettings()
    assert (
        auto.notice_language_for("JO"),
        auto.notice_language_for("NL"),
        auto.notice_language_for(None),
    ) == (
        "ar",
        "en",
        "en",
    )
    assert OnlineSettings(notice_language="en").notice_language_for("JO") == "en"
