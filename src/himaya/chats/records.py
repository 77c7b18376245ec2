"""One reading of a case's messages for every output (export, report, review app), so they agree.

A message's matches are those of the file its media is linked to, plus, when its media is gone (or the
file found holds other content), the hash-set entries its recorded SHA-256 names: a deleted picture is
still matched through the hash the app kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Bundle, Session, aliased, selectinload

from himaya.chats.people import People, case_people
from himaya.hashsets.categories import CategoryMap
from himaya.matching.active import latest_versions
from himaya.matching.exact import lookup_exact
from himaya.reports.records import MatchRecord, match_records
from himaya.store.models import (
    ArtifactIdentity,
    ArtifactSource,
    Case,
    Chat,
    EvidenceItem,
    File,
    HashEntry,
    HashSetVersion,
    Match,
    Message,
)

__all__ = ["MessageRecord", "carrying_messages", "message_records", "messages_by_file"]

SQL_IN = 900


@dataclass
class MessageRecord:
    id: int
    evidence: str
    database: str
    app: str
    chat: str
    chat_name: str | None
    chat_type: str
    direction: str
    sender: str | None
    sender_name: str | None
    recipients: list[str]
    time_utc: datetime | None
    text: str | None
    media_path: str | None
    media_sha256: str | None
    media_mime: str | None
    media_name: str | None
    media_present: bool | None
    forwarded: bool
    file_id: int | None
    file_path_in_case: str | None
    link_method: str | None
    matches: list[MatchRecord]

    def contract(self, case_number: str) -> dict[str, Any]:
        """The `messages-jsonl` object: the issue's fields first, then the grown ones."""
        return {
            "app": self.app,
            "chat": self.chat,
            "chat_type": self.chat_type,
            "direction": self.direction,
            "sender": self.sender,
            "recipients": self.recipients,
            "time_utc": iso_utc(self.time_utc),
            "text": self.text,
            "media_path": self.media_path,
            "media_sha256": self.media_sha256,
            "media_present": self.media_present,
            "forwarded": self.forwarded,
            "file_path_in_case": self.file_path_in_case,
            "case": case_number,
            "evidence": self.evidence,
            "database": self.database,
            "chat_name": self.chat_name,
            "sender_name": self.sender_name,
            "media_mime": self.media_mime,
            "media_name": self.media_name,
            "link_method": self.link_method,
            "matches": [m.contract() for m in self.matches],
        }


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; they were stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _file_matches(
    session: Session, file_ids: Iterable[int], categories: CategoryMap | None
) -> dict[int, list[MatchRecord]]:
    ids = sorted(set(file_ids))
    found: dict[int, list[Match]] = {}
    for start in range(0, len(ids), SQL_IN):
        rows = session.scalars(
            select(Match)
            .where(Match.file_id.in_(ids[start : start + SQL_IN]), Match.retired_at.is_(None))
            .options(
                selectinload(Match.entry),
                selectinload(Match.hash_set_version).selectinload(HashSetVersion.hash_set),
            )
        )
        for match in rows:
            found.setdefault(match.file_id, []).append(match)
    return {file_id: match_records(matches, categories) for file_id, matches in found.items()}


def _digest_matches(
    session: Session, digests: Iterable[str], categories: CategoryMap | None
) -> dict[str, list[MatchRecord]]:
    """Active SHA-256 entries naming these digests, as match records (method sha256)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    versions = latest_versions(session)
    hits = lookup_exact(session, versions, sha256s=wanted)
    if not hits:
        return {}
    entry_ids = sorted({hit.entry_id for found in hits.values() for hit in found})
    entries: dict[int, HashEntry] = {}
    for start in range(0, len(entry_ids), SQL_IN):
        for entry in session.scalars(
            select(HashEntry).where(HashEntry.id.in_(entry_ids[start : start + SQL_IN]))
        ):
            entries[entry.id] = entry
    categories = categories or CategoryMap.default()
    schemes = {
        version_id: scheme
        for version_id, scheme in session.execute(
            select(HashSetVersion.id, HashSetVersion.category_scheme).where(
                HashSetVersion.id.in_(list(versions))
            )
        )
    }
    result: dict[str, list[MatchRecord]] = {}
    for (_, value), found in hits.items():
        records = []
        for hit in found:
            entry = entries[hit.entry_id]
            version = versions[hit.version_id]
            scheme = schemes.get(hit.version_id)
            records.append(
                MatchRecord(
                    hashset=hit.hash_set_name,
                    hashset_version=version.version,
                    kind=hit.kind,
                    method="sha256",
                    distance=0,
                    category=entry.category,
                    series=entry.series,
                    pdq_pipeline=None,
                    internal_category=categories.internal(entry.category, scheme),
                    category_scheme=scheme,
                    victim_identified=entry.victim_identified,
                    offender_identified=entry.offender_identified,
                )
            )
        result[value] = sorted(records, key=lambda r: (r.hashset, r.hashset_version))
    return result


def message_records(
    session: Session,
    case: Case,
    *,
    only_matches: bool = False,
    file_ids: Iterable[int] | None = None,
    categories: CategoryMap | None = None,
    people: People | None = None,
) -> Iterator[MessageRecord]:
    """The case's messages in time order (undated last), or those carrying the files `file_ids`."""
    people = people if people is not None else case_people(session, case.id)
    condition = [Message.case_id == case.id]
    wanted = sorted(set(file_ids)) if file_ids is not None else None
    # Matches are looked up once for every linked file and every recorded digest, not per message.
    if wanted is not None:
        by_file = _file_matches(session, wanted, categories)
        by_digest: dict[str, list[MatchRecord]] = {}
    else:
        linked = session.execute(
            select(Message.file_id, Message.media_sha256, Message.media_present).where(
                *condition, Message.has_media.is_(True)
            )
        ).all()
        by_file = _file_matches(session, (f for f, _, _ in linked if f is not None), categories)
        by_digest = _digest_matches(session, (d for _, d, present in linked if d and not present), categories)

    database_file = aliased(File)
    media_file = aliased(File)
    # Plain columns, not ORM objects: a million messages are read without an identity map.
    columns: Bundle[Any] = Bundle(
        "message",
        Message.id,
        Message.app,
        Message.direction,
        Message.sender,
        Message.recipients,
        Message.time_utc,
        Message.text,
        Message.forwarded,
        Message.media_path,
        Message.media_sha256,
        Message.media_mime,
        Message.media_name,
        Message.media_present,
        Message.file_id,
        Message.link_method,
    )
    query = (
        select(
            columns,
            Chat.key,
            Chat.name,
            Chat.chat_type,
            database_file.path,
            EvidenceItem.name,
            media_file.path,
        )
        .join(Chat, Chat.id == Message.chat_id)
        .join(ArtifactSource, ArtifactSource.id == Message.source_id)
        .join(database_file, database_file.id == ArtifactSource.file_id)
        .join(EvidenceItem, EvidenceItem.id == database_file.evidence_id)
        .outerjoin(media_file, media_file.id == Message.file_id)
        .where(*condition)
        .order_by(Message.time_utc.is_(None), Message.time_utc, Message.id)
        .execution_options(yield_per=5000)
    )
    names: dict[tuple[str, str | None], str | None] = {}

    def sender_name(app: str, sender: str | None) -> str | None:
        key = (app, sender)
        if key not in names:
            names[key] = people.name_of(app, sender)
        return names[key]

    chunks: list[list[int]] | list[None] = [None]
    if wanted is not None:
        chunks = [wanted[i : i + SQL_IN] for i in range(0, len(wanted), SQL_IN)]
    for chunk in chunks:
        selected = query if chunk is None else query.where(Message.file_id.in_(chunk))
        for message, key, chat_name, chat_type, database, evidence, media_path in session.execute(selected):
            matches = list(by_file.get(message.file_id, [])) if message.file_id is not None else []
            if message.media_sha256 and not message.media_present:
                matches += by_digest.get(message.media_sha256, [])
            if only_matches and not matches:
                continue
            recipients = json.loads(message.recipients or "[]")
            yield MessageRecord(
                id=message.id,
                evidence=evidence,
                database=database,
                app=message.app,
                chat=key.split(":", 1)[1] if ":" in key else key,
                chat_name=chat_name,
                chat_type=chat_type,
                direction=message.direction,
                sender=message.sender,
                sender_name=sender_name(message.app, message.sender),
                recipients=[r for r in recipients if isinstance(r, str)],
                time_utc=message.time_utc,
                text=message.text,
                media_path=message.media_path,
                media_sha256=message.media_sha256,
                media_mime=message.media_mime,
                media_name=message.media_name,
                media_present=message.media_present,
                forwarded=bool(message.forwarded),
                file_id=message.file_id,
                file_path_in_case=media_path,
                link_method=message.link_method,
                matches=matches,
            )


def carrying_messages(
    session: Session, case_id: int, file_ids: list[int], sha256: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    """The messages that carried a content (any of its copies, or its recorded SHA-256 when the file is
    gone), for the item view: light, without persons merged or matches."""
    from sqlalchemy import or_

    wanted: list[ColumnElement[bool]] = [Message.file_id.in_(file_ids[:SQL_IN])]
    if sha256:
        wanted.append(Message.media_sha256 == sha256)
    rows = session.execute(
        select(Message, Chat.key, Chat.name, Chat.chat_type)
        .join(Chat, Chat.id == Message.chat_id)
        .where(Message.case_id == case_id, or_(*wanted))
        .order_by(Message.time_utc.is_(None), Message.time_utc, Message.id)
        .limit(limit)
    ).all()
    senders = sorted({m.sender for m, *_ in rows if m.sender})
    names: dict[str, str] = {}
    for start in range(0, len(senders), SQL_IN):
        for value, name in session.execute(
            select(ArtifactIdentity.value, ArtifactIdentity.name).where(
                ArtifactIdentity.case_id == case_id,
                ArtifactIdentity.value.in_(senders[start : start + SQL_IN]),
                ArtifactIdentity.name.is_not(None),
            )
        ):
            if name:
                names.setdefault(value, name)
    return [
        {
            "time_utc": iso_utc(m.time_utc),
            "app": m.app,
            "chat": key.split(":", 1)[1] if ":" in key else key,
            "chat_name": chat_name,
            "chat_type": chat_type,
            "direction": m.direction,
            "sender": m.sender,
            "sender_name": names.get(m.sender or ""),
            "recipients": [r for r in json.loads(m.recipients or "[]") if isinstance(r, str)],
            "text": m.text,
            "forwarded": bool(m.forwarded),
            "media_present": m.media_present,
            "link_method": m.link_method,
        }
        for m, key, chat_name, chat_type in rows
    ]


def messages_by_file(
    session: Session, case: Case, file_ids: Iterable[int], categories: CategoryMap | None = None
) -> dict[int, list[MessageRecord]]:
    """The messages that carried each of these files."""
    result: dict[int, list[MessageRecord]] = {}
    for record in message_records(session, case, file_ids=file_ids, categories=categories):
        if record.file_id is not None:
            result.setdefault(record.file_id, []).append(record)
    return result
