"""The tamper-evident audit trail: who logged in, saw which picture, set which category, exported what.

Design, and why:

- **A keyed hash chain.** Each event's `hash` is HMAC-SHA256(audit key, previous hash || the event's
  canonical JSON). The audit key is derived (HKDF) from the blob key, which never enters the database:
  someone who can write to the database but does not hold the key can edit, remove or reorder a row, but
  cannot compute the hashes that would hide it. A plain SHA-256 chain would not do: anyone with database
  access could recompute it after a rewrite.
- **A checkpoint outside the database.** A chain alone cannot show that its tail was cut off, or that the
  whole chain was replaced by another one written with the key. So after every commit the new head
  (sequence number and hash) is appended, as one line with its own MAC, to a file beside the blob key
  (`checkpoint_path_for`). `verify` compares the two: an event the file names must be in the database,
  with the same hash. The supervisor's page shows the head too, so a person can note it.
- **Writers are serialised by the head row.** `record` first runs `UPDATE audit_head SET seq = seq + n`:
  on SQLite that takes the database's write lock before anything is read (a transaction that read first
  could not upgrade to a writer in WAL mode once another writer committed), on PostgreSQL it takes the
  row lock. The next writer waits, then continues from the committed head: sequence numbers have no gaps.
- **Checkpoint lines follow commits, never transactions.** The head to checkpoint is read in the
  session's `before_commit` (so savepoints rolled back inside the transaction leave nothing behind) and
  appended in `after_commit`; a rolled-back transaction appends nothing. Concurrent writers may append
  their lines out of order, so `verify` treats the lines as a set of claims, not as a sequence.
- **Each line names its trail.** Every home on a machine shares the default key file, hence its
  checkpoint; a line starts with the first 16 hex digits of its trail's first event hash (the chain id),
  and `verify` reads only the lines of its own trail.

`detail` is stored in clear and read by auditors: it must never hold a secret. `record` refuses keys
named like one (password, secret, token, key, ...) as a guard; what else goes in is the caller's care.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Table, bindparam, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from himaya.errors import HimayaError
from himaya.store.models import AuditEvent, AuditHead

log = logging.getLogger(__name__)

# --- What is recorded: the app and the command line use these names, auditors filter by them. ----------
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
PICTURE_SHOWN = "picture_shown"  # a thumbnail or full picture sent to a browser (blurred or not)
PICTURE_REVEALED = "picture_revealed"  # a reviewer lifted the blur on one picture
PICTURE_HIDDEN = "picture_hidden"  # the revealed picture was blurred again (exposure ends)
CATEGORY_SET = "category_set"
EXPORT = "export"
REPORT_DOWNLOADED = "report_downloaded"
SETTING_CHANGED = "setting_changed"
USER_CHANGED = "user_changed"  # created, role changed, locked, unlocked, password or 2FA reset
CASE_ASSIGNED = "case_assigned"  # assigned or unassigned (detail says which)
HASH_PROPOSED = "hash_proposed"
HASH_CONFIRMED = "hash_confirmed"
HASH_REJECTED = "hash_rejected"
CASE_VIEWED = "case_viewed"
EVIDENCE_VIEWED = "evidence_viewed"
GALLERY_VIEWED = "gallery_viewed"
ITEM_VIEWED = "item_viewed"
AUDIT_VIEWED = "audit_viewed"
# Online detection and takedown (docs/online.md)
ONLINE_CAPTURED = "online_captured"  # reported URLs fetched into a case
LOCATION_CONFIRMED = "location_confirmed"
LOCATION_APPROVED = "location_approved"  # a supervisor approved notifying the host
HOLD_SET = "hold_set"  # deconfliction: do not notify
HOLD_LIFTED = "hold_lifted"
NOTICE_CREATED = "notice_created"
NOTICE_SENT = "notice_sent"
# Attribution (docs/formats.md, "Tips and IP events")
TIPS_IMPORTED = "tips_imported"
TIPS_VIEWED = "tips_viewed"
ISP_REQUEST_DRAFTED = "isp_request_drafted"  # a preservation / subscriber request or a partner referral
ISP_REQUEST_SENT = "isp_request_sent"
ISP_REQUEST_ANSWERED = "isp_request_answered"
MESSAGES_VIEWED = "messages_viewed"  # a case's phone persons and exchanges were shown (messages summary)
MESSAGES_PARSED = "messages_parsed"  # a case's kept chat databases were read again (messages parse)

ACTIONS = frozenset(
    {
        LOGIN,
        LOGIN_FAILED,
        LOGOUT,
        PICTURE_SHOWN,
        PICTURE_REVEALED,
        PICTURE_HIDDEN,
        CATEGORY_SET,
        EXPORT,
        REPORT_DOWNLOADED,
        SETTING_CHANGED,
        USER_CHANGED,
        CASE_ASSIGNED,
        HASH_PROPOSED,
        HASH_CONFIRMED,
        HASH_REJECTED,
        CASE_VIEWED,
        EVIDENCE_VIEWED,
        GALLERY_VIEWED,
        ITEM_VIEWED,
        AUDIT_VIEWED,
        ONLINE_CAPTURED,
        LOCATION_CONFIRMED,
        LOCATION_APPROVED,
        HOLD_SET,
        HOLD_LIFTED,
        NOTICE_CREATED,
        NOTICE_SENT,
        TIPS_IMPORTED,
        TIPS_VIEWED,
        ISP_REQUEST_DRAFTED,
        ISP_REQUEST_SENT,
        ISP_REQUEST_ANSWERED,
        MESSAGES_VIEWED,
        MESSAGES_PARSED,
    }
)

GENESIS = "0" * 64  # the head before the first event (inserted by migration 0004)
HEAD_ID = 1
CHECKPOINT_ENV = "HIMAYA_AUDIT_CHECKPOINT"
CHECKPOINT_SUFFIX = ".audit-chain"
CHECKPOINT_FORMAT = "v1"
CHAIN_ID_LENGTH = 16

# `verify`: events after the last checkpoint line that are only a warning (a crash between commit and
# append loses one line per transaction in flight); a longer uncheckpointed tail looks like a checkpoint
# file put back from an older copy, which would let the tail be cut off unnoticed.
TAIL_TOLERANCE = 256
MAX_PROBLEMS = 100
_VERIFY_CHUNK = 5000
_LOOKUP_CHUNK = 500

_EVENT_INFO = b"himaya audit chain v1"
_CHECKPOINT_INFO = b"himaya audit checkpoint v1"

_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "pass", "pwd", "secret", "token", "key", "apikey", "otp", "totp",
     "credential", "credentials", "cookie", "pin"}
)  # fmt: skip
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


class AuditError(HimayaError):
    """The trail cannot be written or read as it stands."""


# --- Keys, canonical form, hashes -----------------------------------------------------------------------


def _derive(blob_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(blob_key)


def audit_key(blob_key: bytes) -> bytes:
    """The key that hashes the chain, derived from the blob key so that one key file protects both."""
    return _derive(blob_key, _EVENT_INFO)


def _checkpoint_key(blob_key: bytes) -> bytes:
    # A key of its own: a checkpoint line's MAC can never be mistaken for an event hash.
    return _derive(blob_key, _CHECKPOINT_INFO)


def utc_iso(at: datetime) -> str:
    """`at` as UTC ISO 8601 with microseconds. SQLite hands back the stored UTC time without tzinfo and
    PostgreSQL in the session's time zone: both become the same string."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_event(
    *,
    seq: int,
    at: datetime,
    actor: str | None,
    action: str,
    case_id: int | None,
    file_id: int | None,
    detail: str | None,
    ip: str | None,
) -> bytes:
    """The bytes an event's hash covers: every column but the hashes, in canonical JSON.

    `detail` is covered as the stored text (itself canonical JSON), so verifying never re-serialises it.
    """
    record = {
        "seq": seq,
        "at": utc_iso(at),
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "file_id": file_id,
        "detail": detail,
        "ip": ip,
    }
    return _canonical(record).encode("utf-8")


def event_hash(key: bytes, prev_hash: str, canonical: bytes) -> str:
    """HMAC-SHA256(audit key, prev_hash || canonical); `key` is `audit_key(blob_key)`."""
    mac = hmac.new(key, prev_hash.encode("utf-8"), hashlib.sha256)
    mac.update(canonical)
    return mac.hexdigest()


def _row_hash(key: bytes, row: Any) -> str:
    canonical = canonical_event(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        case_id=row.case_id,
        file_id=row.file_id,
        detail=row.detail,
        ip=row.ip,
    )
    return event_hash(key, row.prev_hash, canonical)


# --- The checkpoint file ----------------------------------------------------------------------------------


def checkpoint_path_for(key_file: Path) -> Path:
    """Where the chain head is checkpointed: `$HIMAYA_AUDIT_CHECKPOINT` when set, else beside the blob key
    file (`blob.key` -> `blob.key.audit-chain`).

    Beside the key because both must stay out of the home folder, which may be copied or seized with the
    database. With the key in `$HIMAYA_BLOB_KEY` there is no key file: `key_file` is then the place one
    would be (`--key-file`, `$HIMAYA_KEY_FILE` or the user config folder) unless the variable says otherwise.
    """
    override = os.environ.get(CHECKPOINT_ENV)
    if override:
        return Path(override).expanduser()
    key_file = Path(key_file).expanduser()
    return key_file.with_name(key_file.name + CHECKPOINT_SUFFIX)


@dataclass(frozen=True)
class CheckpointLine:
    """One line of the checkpoint: the head of trail `chain` after a commit."""

    chain: str
    seq: int
    hash: str
    at: str
    mac: str

    def text(self) -> str:
        return f"{CHECKPOINT_FORMAT} {self.chain} {self.seq} {self.hash} {self.at} {self.mac}\n"


def _line_mac(key: bytes, chain: str, seq: int, head_hash: str, at: str) -> str:
    message = f"{CHECKPOINT_FORMAT} {chain} {seq} {head_hash} {at}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHAIN = re.compile(rf"[0-9a-f]{{{CHAIN_ID_LENGTH}}}")


def parse_checkpoint_line(text: str) -> CheckpointLine | None:
    """A line's fields, or None when it is not a checkpoint line at all (its MAC is not checked here)."""
    parts = text.rstrip("\n").split(" ")
    if len(parts) != 6 or parts[0] != CHECKPOINT_FORMAT:
        return None
    _, chain, seq, head_hash, at, mac = parts
    if not (
        _CHAIN.fullmatch(chain) and seq.isdigit() and _HEX64.fullmatch(head_hash) and _HEX64.fullmatch(mac)
    ):
        return None
    return CheckpointLine(chain, int(seq), head_hash, at, mac)


def last_checkpoint(checkpoint: Path) -> CheckpointLine | None:
    """The last line of the checkpoint file (any trail), read from its end; None when there is none.

    For the supervisor's page, beside `head(session)`; lines are not authenticated here (`verify` does).
    """
    try:
        with open(checkpoint, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for text in reversed(tail.splitlines()):
        parsed = parse_checkpoint_line(text)
        if parsed is not None:
            return parsed
    return None


# --- Writing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAuditEvent:
    """What a caller says about one event; the trail adds seq, time and hashes."""

    action: str
    actor: str | None = None
    case_id: int | None = None
    file_id: int | None = None
    detail: Mapping[str, Any] | None = None
    ip: str | None = None


def _check_text(name: str, value: str | None, limit: int, *, required: bool = False) -> None:
    # Checked here, not left to the database: PostgreSQL refuses an over-long value where SQLite keeps it.
    if value is None:
        if required:
            raise ValueError(f"audit event {name} is required")
        return
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"audit event {name} must be a non-empty string, got {value!r}")
    if len(value) > limit or "\x00" in value:
        raise ValueError(f"audit event {name} {value[:40]!r}... is longer than {limit} or holds NUL")


def _secret_like(name: str) -> bool:
    words = {word.lower() for word in _WORD.findall(name)}
    return bool(words & _SECRET_WORDS) or any(part in name.lower() for part in ("password", "secret"))


def _refuse_secrets(value: object, path: str) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str):
                raise ValueError(f"audit detail {path}: keys must be strings, got {name!r}")
            if _secret_like(name):
                raise ValueError(
                    f"audit detail {path}{name!r} is named like a secret; the trail is read by auditors "
                    "and must never hold passwords, tokens or keys: leave it out, or name what it is "
                    "(e.g. 'key_id' -> 'fingerprint')"
                )
            _refuse_secrets(item, f"{path}{name}.")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secrets(item, path)


def detail_text(detail: Mapping[str, Any] | None) -> str | None:
    """`detail` as the canonical JSON that is stored and hashed; ValueError when it is not plain JSON or
    names a secret."""
    if detail is None:
        return None
    _refuse_secrets(detail, "")
    try:
        return _canonical(dict(detail))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"audit detail is not plain JSON ({error}); pass str, int, float, bool, None, lists and dicts"
        ) from None


def _validate(new: NewAuditEvent) -> str | None:
    _check_text("action", new.action, 60, required=True)
    _check_text("actor", new.actor, 100)
    _check_text("ip", new.ip, 64)
    for name, number in (("case_id", new.case_id), ("file_id", new.file_id)):
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise ValueError(f"audit event {name} must be an integer, got {number!r}")
    return detail_text(new.detail)


_HEAD = cast(Table, AuditHead.__table__)
_EVENTS = cast(Table, AuditEvent.__table__)
# Built once: building a statement costs more than SQLite takes to run it.
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=_HEAD.c.seq + bindparam("count"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(hash=bindparam("head_hash"))
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)
_FIRST_HASH = select(_EVENTS.c.hash).where(_EVENTS.c.seq == 1)
_PENDING = "himaya.audit.pending"  # session.info: {checkpoint path: trail} written in this transaction
_HEADS = "himaya.audit.heads"  # session.info: heads read in before_commit, appended after the commit


class AuditTrail:
    """Records audit events in the caller's transaction and checkpoints each committed head.

    `key` is the blob key (the audit key is derived from it); `checkpoint` is the file the heads are
    appended to, normally `checkpoint_path_for(key_file)`. One instance may serve many threads.
    """

    def __init__(self, key: bytes, checkpoint: Path) -> None:
        self._key = audit_key(key)
        self._line_key = _checkpoint_key(key)
        self.checkpoint = Path(checkpoint)

    @classmethod
    def for_key_file(cls, key: bytes, key_file: Path) -> AuditTrail:
        return cls(key, checkpoint_path_for(key_file))

    def __repr__(self) -> str:  # the keys stay out of logs and tracebacks
        return f"AuditTrail(checkpoint={str(self.checkpoint)!r})"

    def record(
        self,
        session: Session,
        *,
        actor: str | None,
        action: str,
        case_id: int | None = None,
        file_id: int | None = None,
        detail: Mapping[str, Any] | None = None,
        ip: str | None = None,
    ) -> AuditEvent:
        """Add one event to the trail inside the caller's transaction; it counts once that commits."""
        new = NewAuditEvent(
            action=action, actor=actor, case_id=case_id, file_id=file_id, detail=detail, ip=ip
        )
        return self.record_many(session, [new])[0]

    def record_many(self, session: Session, events: Iterable[NewAuditEvent]) -> list[AuditEvent]:
        """Add several events with one head update (e.g. every thumbnail of a gallery page)."""
        batch = list(events)
        details = [_validate(new) for new in batch]  # all checked before the write lock is taken
        if not batch:
            return []
        # Core statements on the session's connection: the ORM's bulk-update path would triple the cost of
        # an event, and nothing here needs the identity map.
        connection = session.connection()
        head = connection.execute(_ADVANCE_HEAD, {"count": len(batch)}).one_or_none()
        if head is None:
            raise AuditError(
                "the audit_head row is missing, so the trail cannot be continued: the store was not "
                "migrated, or the row was deleted; run 'himaya audit verify' and restore the store "
                "from backup"
            )
        seq = head.seq - len(batch)
        prev = head.hash
        rows = []
        for new, detail in zip(batch, details, strict=True):
            seq += 1
            at = datetime.now(UTC)  # read under the head's lock: times follow seq unless the clock steps back
            canonical = canonical_event(
                seq=seq,
                at=at,
                actor=new.actor,
                action=new.action,
                case_id=new.case_id,
                file_id=new.file_id,
                detail=detail,
                ip=new.ip,
            )
            digest = event_hash(self._key, prev, canonical)
            rows.append(
                AuditEvent(
                    seq=seq,
                    at=at,
                    actor=new.actor,
                    action=new.action,
                    case_id=new.case_id,
                    file_id=new.file_id,
                    detail=detail,
                    ip=new.ip,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        session.add_all(rows)
        session.flush()
        connection.execute(_SET_HEAD_HASH, {"head_hash": prev})
        session.info.setdefault(_PENDING, {})[str(self.checkpoint)] = self
        return rows

    # -- checkpointing, driven by the session events below --

    def _committed_head(self, session: Session) -> tuple[int, str, str] | None:
        """(seq, hash, chain id) as this transaction will commit them; read inside it."""
        connection = session.connection()
        row = connection.execute(_READ_HEAD).one_or_none()
        first = connection.execute(_FIRST_HASH).scalar_one_or_none()
        if row is None or row.seq < 1:
            return None
        if first is None:
            log.warning(
                "audit event 1 is missing, so no checkpoint line can name the trail; "
                "run 'himaya audit verify'"
            )
            return None
        return row.seq, row.hash, first[:CHAIN_ID_LENGTH]

    def _append(self, chain: str, seq: int, head_hash: str) -> None:
        at = utc_iso(datetime.now(UTC))
        line = CheckpointLine(chain, seq, head_hash, at, _line_mac(self._line_key, chain, seq, head_hash, at))
        try:
            self.checkpoint.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_APPEND and one write() per line: lines of concurrent writers (threads or processes) never
            # interleave. No fsync per line: a line lost in a power cut only shows as "events after the
            # last checkpoint line" (a warning), while an fsync would cost every picture shown a disk
            # flush. The event itself is as durable as the database makes it.
            fd = os.open(self.checkpoint, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.text().encode("ascii"))
            finally:
                os.close(fd)
        except OSError as error:
            # The transaction has committed; raising here would tell the caller it had not.
            log.error(
                "audit event %d is committed but could not be checkpointed in %s (%s); make the file "
                "writable (or set $%s), then run 'himaya audit verify'",
                seq,
                self.checkpoint,
                error.strerror or error.__class__.__name__,
                CHECKPOINT_ENV,
            )


def _is_outermost(session: Session) -> bool:
    # after_commit fires for savepoints too; only the real transaction counts.
    return not session.in_nested_transaction()


@event.listens_for(Session, "before_commit")
def _read_heads(session: Session) -> None:
    pending: dict[str, AuditTrail] | None = session.info.get(_PENDING)
    if not pending:
        return
    # Read on every commit, savepoints included: the outermost commit reads last and wins. Reading the
    # head (not remembering what record() wrote) keeps a rolled-back savepoint's events out of the file.
    session.info[_HEADS] = {path: (trail, trail._committed_head(session)) for path, trail in pending.items()}


@event.listens_for(Session, "after_commit")
def _append_heads(session: Session) -> None:
    if not _is_outermost(session):
        return
    heads: dict[str, tuple[AuditTrail, tuple[int, str, str] | None]] = session.info.pop(_HEADS, {})
    session.info.pop(_PENDING, None)
    for trail, head_now in heads.values():
        if head_now is not None:
            seq, head_hash, chain = head_now
            trail._append(chain, seq, head_hash)


@event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: SessionTransaction) -> None:
    # The real transaction ended (after after_commit, or by rollback or close): nothing stays pending.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_HEADS, None)


# --- Reading ----------------------------------------------------------------------------------------------


def head(session: Session) -> tuple[int, str]:
    """The chain head (seq, hash) as the database has it; (0, GENESIS) before the first event."""
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one_or_none()
    if row is None:
        raise AuditError("the audit_head row is missing; run 'himaya audit verify' and restore from backup")
    return int(row.seq), str(row.hash)


def _utc(at: datetime) -> datetime:
    # SQLite compares the stored UTC wall time as text: a bound value must be UTC too.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def query(
    session: Session,
    *,
    case_ids: Collection[int] | None = None,
    actor: str | None = None,
    action: str | Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    file_id: int | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events newest first, for the auditor's page; page on with `before_seq` = the last seq shown.

    `case_ids` limits to those cases (an empty collection gives nothing: an auditor assigned to no case
    sees no case's events); None means every event, logins and settings included. `since` is inclusive,
    `until` exclusive; a naive datetime is taken as UTC. `limit` is capped at 1000.
    """
    statement = select(AuditEvent)
    if case_ids is not None:
        statement = statement.where(AuditEvent.case_id.in_(list(case_ids)))
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
    if isinstance(action, str):
        statement = statement.where(AuditEvent.action == action)
    elif action is not None:
        statement = statement.where(AuditEvent.action.in_(list(action)))
    if since is not None:
        statement = statement.where(AuditEvent.at >= _utc(since))
    if until is not None:
        statement = statement.where(AuditEvent.at < _utc(until))
    if file_id is not None:
        statement = statement.where(AuditEvent.file_id == file_id)
    if before_seq is not None:
        statement = statement.where(AuditEvent.seq < before_seq)
    statement = statement.order_by(AuditEvent.seq.desc()).limit(max(1, min(limit, 1000)))
    return list(session.scalars(statement))


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """One event as plain JSON values (`detail` parsed), for JSON lines and the app's API."""
    return {
        "seq": row.seq,
        "at": utc_iso(row.at),
        "actor": row.actor,
        "action": row.action,
        "case_id": row.case_id,
        "file_id": row.file_id,
        "detail": json.loads(row.detail) if row.detail else None,
        "ip": row.ip,
        "hash": row.hash,
    }


# --- Verifying --------------------------------------------------------------------------------------------


@dataclass
class AuditVerification:
    """The outcome of `verify`. `ok` is False when any problem was found; warnings never fail it."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checkpoint: Path | None = None
    checkpoint_lines: int = 0  # lines of this trail checked against the database
    last_checkpoint_seq: int | None = None


class _Problems:
    """Problems in the order found, capped: a chain rewritten under another key fails on every event."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, text: str, *, first: bool = False) -> None:
        if first:
            self.items.insert(0, text)  # a summary that explains the problems after it
            if len(self.items) > MAX_PROBLEMS:
                self.items.pop()
                self.dropped += 1
        elif len(self.items) < MAX_PROBLEMS:
            self.items.append(text)
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def listed(self) -> list[str]:
        return self.items + ([f"... and {self.dropped} more problems"] if self.dropped else [])


_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.case_id,
    AuditEvent.file_id,
    AuditEvent.detail,
    AuditEvent.ip,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


@dataclass
class _ChainWalk:
    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    first_hash: str | None = None
    bad_hashes: int = 0
    expected_found: bool = False


def _walk_chain(
    session: Session, key: bytes, up_to: int, problems: _Problems, expected: tuple[int, str] | None
) -> _ChainWalk:
    walk = _ChainWalk()
    statement = (
        select(*_COLUMNS)
        .where(AuditEvent.seq <= up_to)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=_VERIFY_CHUNK)
    )
    for row in session.execute(statement):
        walk.events += 1
        if row.seq == 1:
            walk.first_hash = row.hash
        said: list[str] = []
        if row.seq != walk.last_seq + 1:
            missing = (
                f"{walk.last_seq + 1}"
                if row.seq == walk.last_seq + 2
                else f"{walk.last_seq + 1}-{row.seq - 1}"
            )
            problems.add(f"events {missing} are missing before event {row.seq} (removed from the trail)")
        elif row.prev_hash != walk.last_hash:
            said.append(f"its link to event {walk.last_seq} is broken (moved, reordered or rewritten)")
        if _row_hash(key, row) != row.hash:
            walk.bad_hashes += 1
            said.append("its content does not match its hash (edited, or written without this key)")
        if said:
            problems.add(f"event {row.seq}: " + "; ".join(said))
        if expected is not None and row.seq == expected[0]:
            walk.expected_found = row.hash.startswith(expected[1].lower())
        walk.last_seq, walk.last_hash = row.seq, row.hash
    return walk


@dataclass
class _LineCheck:
    lines: int = 0  # lines of this trail compared with the database
    last_seq: int | None = None
    first_seq: int | None = None
    beyond: int = 0  # lines naming events past the trail's end
    beyond_max: int = 0
    beyond_first_line: int = 0
    foreign_chains: set[str] = field(default_factory=set)


def _read_lines(
    checkpoint: Path, size_before: int, line_key: bytes, problems: _Problems
) -> Iterator[tuple[int, CheckpointLine, bool]]:
    """(line number, line, written before verify began) for every authentic line; others are problems."""
    offset = 0
    with open(checkpoint, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            old = offset < size_before
            offset += len(raw)
            text = raw.decode("utf-8", errors="replace")
            parsed = parse_checkpoint_line(text)
            if parsed is None:
                if not raw.endswith(b"\n") and not old:
                    continue  # being written right now
                problems.add(
                    f"checkpoint line {number} is not a checkpoint line (edited or damaged): {text[:80]!r}"
                )
                continue
            if not hmac.compare_digest(
                parsed.mac, _line_mac(line_key, parsed.chain, parsed.seq, parsed.hash, parsed.at)
            ):
                problems.add(
                    f"checkpoint line {number} (event {parsed.seq}) was edited, or written with another key"
                )
                continue
            yield number, parsed, old


def _check_lines(
    session: Session,
    checkpoint: Path,
    size_before: int,
    line_key: bytes,
    chain: str | None,
    head_seq: int,
    problems: _Problems,
) -> _LineCheck:
    check = _LineCheck()
    batch: list[tuple[int, CheckpointLine]] = []

    def compare() -> None:
        seqs = sorted({line.seq for _, line in batch})
        found_rows = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs)))
        stored = {row.seq: row.hash for row in found_rows}
        for number, line in batch:
            found = stored.get(line.seq)
            if found is None:
                continue  # a gap, already reported by the chain walk
            if found != line.hash:
                problems.add(
                    f"event {line.seq}: its hash differs from checkpoint line {number} (the event or the "
                    "chain before it was rewritten)"
                )
        batch.clear()

    for number, line, old in _read_lines(checkpoint, size_before, line_key, problems):
        if chain is None or line.chain != chain:
            check.foreign_chains.add(line.chain)
            continue
        if line.seq > head_seq:
            if old:  # written before the head was read: the event was committed, and is gone now
                if check.beyond == 0:
                    check.beyond_first_line = number
                check.beyond += 1
                check.beyond_max = max(check.beyond_max, line.seq)
            continue  # else committed while verify ran
        check.lines += 1
        check.last_seq = line.seq if check.last_seq is None else max(check.last_seq, line.seq)
        check.first_seq = line.seq if check.first_seq is None else min(check.first_seq, line.seq)
        batch.append((number, line))
        if len(batch) >= _LOOKUP_CHUNK:
            compare()
    if batch:
        compare()
    return check


def _chain_of_file(checkpoint: Path, line_key: bytes) -> set[str]:
    ignored = _Problems()
    return {line.chain for _, line, _ in _read_lines(checkpoint, 0, line_key, ignored)}


def verify(
    session: Session,
    key: bytes,
    checkpoint: Path,
    *,
    expected_head: tuple[int, str] | None = None,
    tail_tolerance: int = TAIL_TOLERANCE,
) -> AuditVerification:
    """Check the whole trail: every hash, every link, no gap, and agreement with the checkpoint file.

    `key` is the blob key. `expected_head` is a (seq, hash prefix) a supervisor noted earlier: that event
    must still be there with that hash, which catches a trail cut short together with its checkpoint.
    Events are streamed in seq order in chunks, and checkpoint lines are looked up in batches, so a trail of
    millions never sits in memory. Safe while others write: only events up to the head read at the start
    are checked, and checkpoint lines appended after that are not held against the trail.
    """
    event_key, line_key = audit_key(key), _checkpoint_key(key)
    problems, warnings = _Problems(), list[str]()
    checkpoint = Path(checkpoint)
    # The file's size first, then the database: a line already in the file names a committed event, so
    # every such line must be found in what is read next.
    try:
        size_before: int | None = checkpoint.stat().st_size
    except FileNotFoundError:
        size_before = None
    max_seq = session.execute(select(func.max(AuditEvent.seq))).scalar_one_or_none() or 0
    head_seq, head_hash = head(session)

    walk = _walk_chain(session, event_key, head_seq, problems, expected_head)
    if walk.events and walk.bad_hashes == walk.events:
        problems.add(
            f"none of the {walk.events} events matches its hash under this key: the trail was rewritten, or "
            "this is not the blob key the trail was written with (check --key-file / $HIMAYA_BLOB_KEY)",
            first=True,
        )
    if (walk.last_seq, walk.last_hash) != (head_seq, head_hash):
        problems.add(
            f"the audit head says event {head_seq} (hash {head_hash[:12]}...) is the last, but the trail "
            f"ends at event {walk.last_seq} (hash {walk.last_hash[:12]}...): the head or the last events "
            "were changed"
        )
    if max_seq > head_seq:
        problems.add(
            f"events up to {max_seq} exist beyond the audit head (event {head_seq}): the head was rewound"
        )
    if expected_head is not None:
        seq, prefix = expected_head
        if not walk.expected_found:
            problems.add(
                f"the head noted earlier (event {seq}, hash {prefix}...) is not in the trail with that hash: "
                + ("the trail was cut short" if seq > head_seq else "the trail was rewritten")
            )

    result = AuditVerification(ok=False, events=walk.events, head_seq=head_seq, head_hash=head_hash)
    result.checkpoint = checkpoint
    if size_before is None:
        if walk.events:
            problems.add(
                f"the checkpoint file {checkpoint} is missing while the trail has {walk.events} events: "
                f"it was deleted or moved; restore it from backup (or point ${CHECKPOINT_ENV} at it)"
            )
    else:
        chain = walk.first_hash[:CHAIN_ID_LENGTH] if walk.first_hash else None
        if chain is None:
            chains = _chain_of_file(checkpoint, line_key)
            if walk.events == 0 and chains:
                problems.add(
                    f"the checkpoint {checkpoint} records events of trail(s) {', '.join(sorted(chains))} but "
                    "this store has none: the trail was emptied, or the key file is shared with another "
                    "home (give each home its own --key-file, or set $HIMAYA_AUDIT_CHECKPOINT)"
                )
            chain = next(iter(chains)) if len(chains) == 1 else None
        lines = _check_lines(session, checkpoint, size_before, line_key, chain, head_seq, problems)
        result.checkpoint_lines, result.last_checkpoint_seq = lines.lines, lines.last_seq
        if lines.beyond:
            problems.add(
                f"the checkpoint records events up to {lines.beyond_max} (from line "
                f"{lines.beyond_first_line}, {lines.beyond} lines) but the trail ends at event {head_seq}: "
                "events were cut off the end"
            )
        if walk.events and lines.lines == 0 and lines.foreign_chains:
            problems.add(
                f"the checkpoint {checkpoint} has no line for this trail (chain {chain}), only for "
                f"{', '.join(sorted(lines.foreign_chains))}: the trail was replaced by another one, or the "
                "file belongs to another home"
            )
        elif walk.events:
            _judge_coverage(lines, head_seq, tail_tolerance, checkpoint, problems, warnings)
    result.problems = problems.listed()
    result.warnings = warnings
    result.ok = not problems
    return result


def _judge_coverage(
    lines: _LineCheck,
    head_seq: int,
    tolerance: int,
    checkpoint: Path,
    problems: _Problems,
    warnings: list[str],
) -> None:
    last = lines.last_seq or 0
    if lines.first_seq is not None and lines.first_seq > tolerance:
        problems.add(
            f"the checkpoint {checkpoint} has no line before event {lines.first_seq}: the file was replaced "
            "or started late; restore the original file from backup"
        )
    if last >= head_seq:
        return
    text = (
        f"events {last + 1}-{head_seq} were committed after the last checkpoint line"
        if last + 1 < head_seq
        else f"event {head_seq} was committed after the last checkpoint line"
    )
    if head_seq - last <= tolerance:
        warnings.append(text + " (a crash between commit and checkpoint, or written while verify ran)")
    else:
        problems.add(text + f": the checkpoint file {checkpoint} looks put back from an older copy")
