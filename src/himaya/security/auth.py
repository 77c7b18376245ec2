"""Accounts: argon2id passwords, TOTP second factor, sessions, log-in throttling, roles.

Nothing here stores a secret in clear. Passwords are argon2id hashes; TOTP secrets are AES-GCM encrypted
with the blob key (the user's id as associated data, so a secret copied onto another account fails to
decrypt); a session cookie's token is kept only as its SHA-256, so a copy of the database cannot be
turned into a logged-in browser; CSRF tokens are an HMAC of the session token and are never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from himaya.errors import HimayaError
from himaya.store.models import CaseAssignment, LoginAttempt, User, WebSession

ROLES = ("administrator", "supervisor", "investigator", "reviewer", "auditor")

# What each role may do. Need-to-know comes on top: every case permission holds only on cases the user is
# assigned to. An administrator manages people and settings; seeing a case's pictures still needs an
# assignment. An auditor reads the audit trail (every case) and nothing else.
PERMISSIONS: dict[str, frozenset[str]] = {
    "administrator": frozenset(
        {"manage_users", "change_settings", "view_audit", "view_case", "view_pictures"}
    ),
    "supervisor": frozenset(
        {
            "view_case",
            "view_pictures",
            "categorise",
            "propose",
            "confirm",
            "export",
            "view_exposure_all",
            "view_audit",
            # Online takedown: only a supervisor approves notices and lifts a hold (docs/online.md).
            "view_online",
            "capture_online",
            "confirm_online",
            "approve_notice",
            "send_notice",
            "hold_notices",
            "lift_hold",
            # Attribution: tips, referrals and IP events.
            "view_tips",
            "import_tips",
            # Phones' messages: persons and who exchanged media with whom.
            "view_messages",
        }
    ),
    "investigator": frozenset(
        {
            "view_case",
            "view_pictures",
            "categorise",
            "propose",
            "confirm",
            "export",
            "view_online",
            "capture_online",
            "confirm_online",
            "send_notice",
            "hold_notices",
            "view_tips",
            "import_tips",
            "view_messages",
        }
    ),
    "reviewer": frozenset({"view_case", "view_pictures", "categorise", "propose", "confirm"}),
    "auditor": frozenset({"view_audit", "view_audit_all"}),
}

# Log-in throttling: per account, a lock-out after consecutive failures; per address, a cap on failures
# in a sliding window (a password-spraying client tries many accounts once each).
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
IP_WINDOW = timedelta(minutes=10)
MAX_FAILURES_PER_IP = 20

SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=12)

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults
# A hash to verify against when the user does not exist: the answer then takes as long as for a real one.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class AuthError(HimayaError):
    """A log-in refused; `reason` is safe to show (it never says whether the user exists)."""


class Throttled(AuthError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def can(user: User, permission: str) -> bool:
    return permission in PERMISSIONS.get(user.role, frozenset())


# --- passwords -----------------------------------------------------------------------------------------


MIN_PASSWORD_LENGTH = 12


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"a password must have at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- TOTP ----------------------------------------------------------------------------------------------


def _totp_key(blob_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"himaya totp secrets v1").derive(
        blob_key
    )


def encrypt_totp_secret(blob_key: bytes, user_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_totp_key(blob_key)).encrypt(nonce, secret.encode(), f"totp:{user_id}".encode())
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def decrypt_totp_secret(blob_key: bytes, user_id: int, stored: str) -> str:
    if not stored.startswith("v1:"):
        raise AuthError("the stored second-factor secret has an unknown format")
    raw = base64.b64decode(stored[3:])
    try:
        return AESGCM(_totp_key(blob_key)).decrypt(raw[:12], raw[12:], f"totp:{user_id}".encode()).decode()
    except InvalidTag as error:
        raise AuthError(
            "the second-factor secret cannot be decrypted with this blob key; an administrator can "
            "re-enrol the user with `himaya user totp NAME`"
        ) from error


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Himaya")


def totp_step(secret: str, code: str, last_step: int | None, at: float | None = None) -> int | None:
    """The time step a code belongs to (one step of clock drift either way), or None when it is wrong or
    was already used: a code seen on a shoulder or in a proxy log cannot be replayed."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if at is None else at
    current = int(moment // totp.interval)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            if last_step is not None and step <= last_step:
                return None
            return step
    return None


# --- users ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    user: User
    totp_secret: str | None  # shown once to whoever created the account, never stored in clear


def create_user(
    session: Session,
    blob_key: bytes,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    language: str = "en",
    totp: bool | None = None,
) -> NewUser:
    """A new account. Administrators always get a second factor; others when `totp` is true."""
    username = username.strip()
    if not username or len(username) > 100 or any(ch.isspace() for ch in username):
        raise AuthError("a user name is 1 to 100 characters without spaces")
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    if language not in ("en", "ar"):
        raise AuthError("language is 'en' or 'ar'")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AuthError(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        language=language,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    secret = None
    if totp or role == "administrator":
        secret = enrol_totp(session, blob_key, user)
    return NewUser(user, secret)


def enrol_totp(session: Session, blob_key: bytes, user: User) -> str:
    secret = new_totp_secret()
    user.totp_secret_enc = encrypt_totp_secret(blob_key, user.id, secret)
    user.totp_last_step = None
    session.flush()
    return secret


def assign(session: Session, user: User, case_id: int, by: str) -> bool:
    if session.get(CaseAssignment, (user.id, case_id)) is not None:
        return False
    session.add(CaseAssignment(user_id=user.id, case_id=case_id, assigned_by=by))
    session.flush()
    return True


def unassign(session: Session, user: User, case_id: int) -> bool:
    row = session.get(CaseAssignment, (user.id, case_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def assigned_case_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(CaseAssignment.case_id).where(CaseAssignment.user_id == user.id)))


def is_assigned(session: Session, user: User, case_id: int) -> bool:
    return session.get(CaseAssignment, (user.id, case_id)) is not None


# --- log-in --------------------------------------------------------------------------------------------


def _check_ip_throttle(session: Session, ip: str | None, at: datetime) -> None:
    if ip is None:
        return
    failures = session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.ip == ip, LoginAttempt.at >= at - IP_WINDOW, LoginAttempt.success.is_(False)
        )
    )
    if failures is not None and failures >= MAX_FAILURES_PER_IP:
        raise Throttled("too many failed log-ins from this address; wait a few minutes", 60)


def authenticate(
    session: Session, blob_key: bytes, username: str, password: str, code: str | None, ip: str | None
) -> User:
    """The user for these credentials, or AuthError. Records the attempt and locks the account after
    MAX_FAILED_LOGINS consecutive failures. The caller commits (also on failure: the attempt counts)."""
    at = now()
    _check_ip_throttle(session, ip, at)
    username = username.strip()[:100]
    user = session.scalar(select(User).where(User.username == username))

    def fail(message: str = "wrong user name, password or code") -> AuthError:
        session.add(LoginAttempt(username=username, ip=ip, at=at, success=False))
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = at + LOCKOUT
        session.flush()
        return AuthError(message)

    locked_until = aware(user.locked_until) if user is not None else None
    if user is not None and locked_until is not None and locked_until > at:
        session.add(LoginAttempt(username=username, ip=ip, at=at, success=False))
        session.flush()
        raise Throttled(
            f"this account is locked until {locked_until:%H:%M} UTC after repeated failed log-ins; "
            "an administrator can unlock it with `himaya user unlock NAME`",
            int((locked_until - at).total_seconds()) + 1,
        )
    if not password_matches(user.password_hash if user else None, password) or user is None:
        raise fail()
    if not user.active:
        raise fail("this account is disabled; ask an administrator")
    if user.totp_secret_enc:
        secret = decrypt_totp_secret(blob_key, user.id, user.totp_secret_enc)
        step = totp_step(secret, code or "", user.totp_last_step)
        if step is None:
            raise fail()
        user.totp_last_step = step
    elif user.role == "administrator":
        raise fail("an administrator needs a second factor: enrol one with `himaya user totp NAME`")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = at
    session.add(LoginAttempt(username=username, ip=ip, at=at, success=True))
    session.flush()
    return user


def unlock(session: Session, user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


# --- sessions ------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, ip: str | None, user_agent: str | None) -> str:
    """A new session; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    at = now()
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=at,
            last_seen_at=at,
            expires_at=at + SESSION_MAX,
            ip=ip,
            user_agent=(user_agent or "")[:500],
        )
    )
    session.flush()
    return token


def session_for(session: Session, token: str | None) -> tuple[WebSession, User] | None:
    """The live session and its user for a cookie token; refreshes the idle clock."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    at = now()
    expires, seen = aware(row.expires_at), aware(row.last_seen_at)
    if expires is None or seen is None or expires <= at or seen + SESSION_IDLE <= at:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    # Written at most once a minute: a gallery page loads many thumbnails, each one a request.
    if at - seen > timedelta(minutes=1):
        row.last_seen_at = at
    return row, user


def end_session(session: Session, token: str | None) -> None:
    if token:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == _token_hash(token)))
        if row is not None and row.ended_at is None:
            row.ended_at = now()


def end_sessions_of(session: Session, user: User) -> None:
    """Every browser of this user logged out (a password change, a disabled account)."""
    for row in session.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ):
        row.ended_at = now()


def prune_login_attempts(session: Session, older_than: timedelta = timedelta(days=90)) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now() - older_than))


# --- CSRF ----------------------------------------------------------------------------------------------


def csrf_key(blob_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"himaya csrf v1").derive(blob_key)


def csrf_token(key: bytes, bound_to: str) -> str:
    """A form token bound to the session token (or, before log-in, to a random pre-session cookie)."""
    return hmac.new(key, bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, bound_to: str | None, presented: str | None) -> bool:
    if not bound_to or not presented:
        return False
    return hmac.compare_digest(csrf_token(key, bound_to), presented)
