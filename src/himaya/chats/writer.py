"""Parsed records of one database into the store: chats, messages and identities, in batches.

A database is written whole in one transaction, after the rows an earlier (killed) attempt may have left
for the same source are deleted: parsing it again never duplicates a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.orm import Session

from himaya.analyzers.artifacts.interface import ChatMessage, Identity, Record
from himaya.store.models import ArtifactIdentity, Chat, Message

BATCH = 5000
_MESSAGES = cast(Table, Message.__table__)
_IDENTITIES = cast(Table, ArtifactIdentity.__table__)


@dataclass
class WrittenCounts:
    messages: int = 0
    identities: int = 0
    chats: int = 0


def clear_source(session: Session, source_id: int) -> None:
    session.execute(delete(Message).where(Message.source_id == source_id))
    session.execute(delete(Chat).where(Chat.source_id == source_id))
    session.execute(delete(ArtifactIdentity).where(ArtifactIdentity.source_id == source_id))


def _text(value: str | None, limit: int | None = None) -> str | None:
    if value is None:
        return None
    # Text from a seized database may hold lone surrogates or NULs that no driver accepts.
    cleaned = value.replace("\x00", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return cleaned[:limit] if limit is not None else cleaned


def _sha256(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value if len(value) == 64 and all(ch in "0123456789abcdef" for ch in value) else None


def write_records(
    session: Session,
    case_id: int,
    source_id: int,
    records: Iterable[tuple[str, Record]],
    progress: Any = None,
) -> WrittenCounts:
    """Insert every (parser name, record); `progress(messages)` is called after each batch."""
    counts = WrittenCounts()
    chats: dict[tuple[str, str], int] = {}
    names: dict[int, str] = {}
    messages: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []

    def chat_id(message: ChatMessage) -> int:
        key = (message.app, message.chat)
        found = chats.get(key)
        if found is None:
            found = session.execute(
                insert(Chat).returning(Chat.id),
                {
                    "case_id": case_id,
                    "source_id": source_id,
                    "app": message.app,
                    # One database may hold the same chat id for two apps (SMS and MMS threads).
                    "key": _text(f"{message.app}:{message.chat}"),
                    "name": _text(message.chat_name),
                    "chat_type": message.chat_type,
                },
            ).scalar_one()
            chats[key] = found
            counts.chats += 1
            if message.chat_name:
                names[found] = message.chat_name
        elif message.chat_name and found not in names:
            names[found] = message.chat_name
        return found

    def flush() -> None:
        # Core executemany on the table: the ORM's bulk insert sends mixed rows one statement each.
        connection = session.connection()
        if messages:
            connection.execute(insert(_MESSAGES), messages)
            counts.messages += len(messages)
            messages.clear()
            if progress is not None:
                progress(counts.messages)
        if identities:
            connection.execute(insert(_IDENTITIES), identities)
            counts.identities += len(identities)
            identities.clear()

    for parser, record in records:
        if isinstance(record, ChatMessage):
            media = record.media
            messages.append(
                {
                    "case_id": case_id,
                    "source_id": source_id,
                    "chat_id": chat_id(record),
                    "app": record.app,
                    "source_row": _text(record.source_row, 200),
                    "direction": record.direction,
                    "sender": _text(record.sender),
                    "recipients": json.dumps([_text(r) for r in record.recipients], ensure_ascii=False),
                    "time_utc": record.time_utc,
                    "text": _text(record.text),
                    "forwarded": record.forwarded,
                    "has_media": media is not None,
                    "media_path": _text(media.path) if media else None,
                    "media_sha256": _sha256(media.sha256) if media else None,
                    "media_mime": _text(media.mime, 200) if media else None,
                    "media_size": media.size if media else None,
                    "media_name": _text(media.name) if media else None,
                    "file_id": None,
                    "link_method": None,
                    "media_present": False if media is not None else None,
                }
            )
        elif isinstance(record, Identity):
            identities.append(
                {
                    "case_id": case_id,
                    "source_id": source_id,
                    "parser": parser,
                    "kind": record.kind[:20],
                    "value": _text(record.value),
                    "name": _text(record.name),
                    "card": _text(record.card, 200),
                }
            )
        if len(messages) >= BATCH or len(identities) >= BATCH:
            flush()
    flush()
    for chat, name in names.items():
        session.execute(update(Chat).where(Chat.id == chat, Chat.name.is_(None)).values(name=_text(name)))
    return counts
