"""The unit's online settings: kept in the `settings` table under `online.*`, changed with
`himaya online settings KEY VALUE` or on the admin page, each change an audit event.

Nothing here is a secret: the SMTP password comes from $HIMAYA_SMTP_PASSWORD or from the file that
`online.smtp_password_file` names, and is read only when a notice is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya import __version__
from himaya.errors import UsageError
from himaya.store.models import Setting, utcnow

PREFIX = "online."
SMTP_PASSWORD_ENV = "HIMAYA_SMTP_PASSWORD"  # noqa: S105 - the name of the variable, not a password
MIB = 1024 * 1024

# Hosts in these countries get notices in Arabic when online.notice_language is "auto".
ARABIC_SPEAKING = frozenset(
    [
        "AE",
        "BH",
        "DJ",
        "DZ",
        "EG",
        "IQ",
        "JO",
        "KM",
        "KW",
        "LB",
        "LY",
        "MA",
        "MR",
        "OM",
        "PS",
        "QA",
        "SA",
        "SD",
        "SO",
        "SY",
        "TN",
        "YE",
    ]
)


@dataclass(frozen=True)
class OnlineSettings:
    # Fetching
    user_agent: str = f"Himaya/{__version__} (law-enforcement capture)"
    proxy: str = ""
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 120.0
    max_redirects: int = 5
    max_page_bytes: int = 10 * MIB
    max_media_bytes: int = 100 * MIB
    max_media_per_page: int = 500
    depth: int = 1  # 1: the page and its media; 2: also pages it links to on the same host, and theirs
    concurrency: int = 8
    per_host: int = 2
    verify_tls: bool = True
    allow_networks: str = ""  # CIDRs, comma-separated; private ranges stay refused unless listed here
    keep_media: str = "encrypted"  # encrypted | none (media analysed in memory, the WARC keeps headers)
    # Who hosts it
    mmdb: str = ""  # .mmdb paths, comma-separated (GeoLite2-ASN + -Country, or DB-IP lite)
    rdap: bool = False  # look abuse contacts up online (RDAP) when the contacts table has none
    rdap_url: str = "https://rdap.org/"
    # Notices
    unit_name: str = "Cyber-crime unit"
    unit_email: str = ""
    unit_phone: str = ""
    unit_country: str = ""  # ISO alpha-2; hosts elsewhere are referred to a partner channel
    reference_prefix: str = "HMY"
    notice_language: str = "auto"  # auto | en | ar
    legal_basis_en: str = ""
    legal_basis_ar: str = ""
    preservation_first: bool = False
    partner_name: str = "Interpol (ICSE)"
    partner_email: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "starttls"  # none | starttls | tls
    smtp_username: str = ""
    smtp_sender: str = ""
    smtp_password_file: str = ""
    # Re-checks
    recheck_hours: float = 24.0
    follow_up_hours: float = 72.0
    scheduler: bool = False  # `himaya serve` re-checks due locations itself
    scheduler_minutes: float = 15.0
    # ISP requests (attribution): the zone of the "local time" column beside every UTC time, as an IANA
    # name (daylight saving applied per event); the unit's own zone, so a reader can check the times.
    unit_timezone: str = "UTC"

    @property
    def allowed_cidrs(self) -> list[str]:
        return _list(self.allow_networks)

    @property
    def mmdb_paths(self) -> list[Path]:
        return [Path(p).expanduser() for p in _list(self.mmdb)]

    def notice_language_for(self, country: str | None) -> str:
        if self.notice_language in ("en", "ar"):
            return self.notice_language
        return "ar" if country and country.upper() in ARABIC_SPEAKING else "en"

    def legal_basis(self, language: str) -> str:
        return self.legal_basis_ar if language == "ar" else self.legal_basis_en

    def smtp_password(self) -> str | None:
        """Read when sending, never kept: the environment first, then the file the setting names."""
        env = os.environ.get(SMTP_PASSWORD_ENV)
        if env:
            return env
        if self.smtp_password_file:
            path = Path(self.smtp_password_file).expanduser()
            try:
                return path.read_text(encoding="utf-8").strip() or None
            except OSError as error:
                raise UsageError(
                    f"cannot read the SMTP password file {path}: {error.strerror}; fix "
                    "online.smtp_password_file or set $HIMAYA_SMTP_PASSWORD"
                ) from None
        return None


_FIELDS = {f.name: f for f in fields(OnlineSettings)}
KEYS = tuple(PREFIX + name for name in _FIELDS)
_ALLOWED: Mapping[str, tuple[str, ...]] = {
    "keep_media": ("encrypted", "none"),
    "notice_language": ("auto", "en", "ar"),
    "smtp_security": ("none", "starttls", "tls"),
}


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def parse_value(key: str, text: str) -> Any:
    """The typed value of `online.<name>`; UsageError naming the key and what it takes."""
    name = key.removeprefix(PREFIX)
    field = _FIELDS.get(name)
    if field is None or not key.startswith(PREFIX):
        raise UsageError(f"unknown setting {key!r}; the online settings are: {', '.join(KEYS)}")
    default = getattr(OnlineSettings(), name)
    converters: dict[type, Callable[[str], Any]] = {bool: _parse_bool, int: int, float: float, str: str}
    try:
        value = converters[type(default)](text.strip() if not isinstance(default, str) else text)
    except ValueError:
        raise UsageError(f"{key}: {text!r} is not a {type(default).__name__}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise UsageError(f"{key}: must not be negative")
    if name in _ALLOWED and value not in _ALLOWED[name]:
        raise UsageError(f"{key}: {text!r} is not one of {', '.join(_ALLOWED[name])}")
    if name == "allow_networks":
        from himaya.online.guard import AddressPolicy

        AddressPolicy.from_cidrs(_list(value))  # refuses a bad CIDR now, not at the next capture
    if name in ("unit_country",) and value and (len(value) != 2 or not value.isalpha()):
        raise UsageError(f"{key}: give an ISO 3166 alpha-2 country code such as JO")
    if name == "unit_timezone":
        _check_zone(key, value)
    return value.upper() if name == "unit_country" else value


def _check_zone(key: str, value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"{key}: {value!r} is not an IANA time zone; give one such as Asia/Amman or UTC"
        ) from None


def load(session: Session) -> OnlineSettings:
    rows = session.scalars(select(Setting).where(Setting.key.like(PREFIX + "%")))
    values: dict[str, Any] = {}
    for row in rows:
        name = row.key.removeprefix(PREFIX)
        if name in _FIELDS:
            try:
                values[name] = parse_value(row.key, row.value)
            except UsageError:
                continue  # an old or hand-edited value: the default stands, `settings` shows the stored text
    return replace(OnlineSettings(), **values)


def store(session: Session, key: str, text: str, changed_by: str) -> tuple[str | None, Any]:
    """Validate and keep one setting; returns (previous stored text, new value)."""
    value = parse_value(key, text)
    stored = "true" if value is True else "false" if value is False else str(value)
    row = session.get(Setting, key)
    previous = row.value if row is not None else None
    if row is None:
        session.add(Setting(key=key, value=stored, changed_by=changed_by))
    else:
        row.value, row.changed_by, row.changed_at = stored, changed_by, utcnow()
    return previous, value


def describe(settings: OnlineSettings) -> list[tuple[str, str]]:
    return [(PREFIX + name, str(getattr(settings, name))) for name in _FIELDS]
