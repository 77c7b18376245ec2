"""Persons of a case: the accounts and identifiers its phones' databases name, merged with their contacts,
and who exchanged media with whom.

- **Merge keys.** A WhatsApp JID `962790000001@s.whatsapp.net` is also the phone number +962790000001; a
  phone number is compared by its last 9 digits (so `+962 79 000 0001` and the national `0790000001` are
  one number; two numbers of different countries sharing their last 9 digits would merge too — rare, and
  the person's record shows every identifier so a reviewer can see it); emails in lower case; Telegram
  users by id. Group chats and broadcast lists are not persons.
- **Persons.** Identifiers sharing a merge key, or a card (one address-book card, one app account), are
  one person, with every name any source gave them.
- **Exchanges.** For every message, from its sender (the phone's owner for a sent message) to each
  recipient (the owner for a received direct message; for a received group message, the owner and the
  other participants the database names): messages and media counted, first and last time, apps.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from himaya.store.models import ArtifactIdentity, Message, TipIdentifier, TipPerson, TipReport

__all__ = ["OWNER", "Exchange", "People", "Person", "case_people", "merge_keys", "participant_kind"]

OWNER = "owner"  # the phone's owner, as a party of exchanges
_NOT_PERSONS = ("@g.us", "@broadcast", "@newsletter", "@temp")


def _phone_key(value: str) -> str | None:
    digits = "".join(ch for ch in value if ch.isascii() and ch.isdigit())
    if len(digits) < 3:
        return None
    return "tel:" + digits[-9:]


def participant_kind(app: str, value: str) -> str:
    """The identifier kind of a message's sender or recipient, from its app and shape."""
    if app == "whatsapp":
        return "whatsapp"
    if app == "telegram":
        return "telegram"
    if "@" in value:
        return "email"
    return "phone"


def merge_keys(kind: str, value: str) -> list[str]:
    """The keys under which two identifiers are the same party; empty for groups and lists."""
    text = value.strip()
    if not text:
        return []
    if kind == "whatsapp":
        lowered = text.lower()
        if lowered.endswith(_NOT_PERSONS):
            return []
        keys = ["wa:" + lowered]
        user, _, server = lowered.partition("@")
        if server in ("s.whatsapp.net", "c.us", "") and user.split(":")[0].isdigit():
            phone = _phone_key(user.split(":")[0])
            if phone:
                keys.append(phone)
        return keys
    if kind == "phone":
        phone = _phone_key(text)
        return [phone] if phone else ["raw:" + text.lower()]
    if kind == "email":
        return ["mail:" + text.lower()]
    return [f"{kind}:{text}"]


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent.setdefault(key, key)
        if parent != key:
            root = self.find(parent)
            self.parent[key] = root
            return root
        return key

    def join(self, keys: Iterable[str]) -> None:
        first: str | None = None
        for key in keys:
            root = self.find(key)
            if first is None:
                first = root
            elif root != first:
                # The smaller key stays the root, so a person's key does not depend on reading order.
                low, high = sorted((first, root))
                self.parent[high] = low
                first = low


@dataclass
class Person:
    key: str
    names: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    sources: list[str] = field(default_factory=list)
    # Tips and referrals of the case that name one of this person's phone numbers or emails (report ids).
    tips: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        shown = self.names[0] if self.names else None
        ident = self.identifiers[0][1] if self.identifiers else self.key
        return f"{shown} ({ident})" if shown else ident


@dataclass
class Exchange:
    sender: str  # a person key, or OWNER
    recipient: str
    messages: int = 0
    media: int = 0
    first: datetime | None = None
    last: datetime | None = None
    apps: set[str] = field(default_factory=set)


@dataclass
class People:
    persons: dict[str, Person]
    exchanges: list[Exchange]
    _roots: dict[str, str]

    def person_of(self, kind: str, value: str) -> Person | None:
        for key in merge_keys(kind, value):
            root = self._roots.get(key)
            if root is not None:
                return self.persons.get(root)
        return None

    def name_of(self, app: str, value: str | None) -> str | None:
        if not value:
            return None
        person = self.person_of(participant_kind(app, value), value)
        return person.names[0] if person and person.names else None


def _mark_tips(
    session: Session, case_id: int, persons: dict[str, Person], roots: dict[str, str], union: _Union
) -> None:
    """A phone's person whose number or email a tip of the case names (a reported account, a recipient):
    the link between a referral and the seized phone."""
    named = session.execute(
        select(TipIdentifier.kind, TipIdentifier.value, TipReport.report_id, TipReport.id)
        .join(TipPerson, TipPerson.id == TipIdentifier.person_id)
        .join(TipReport, TipReport.id == TipPerson.report_id)
        .where(TipReport.case_id == case_id, TipIdentifier.kind.in_(("phone", "email")))
        .order_by(TipReport.id)
    ).all()
    for kind, value, reference, report_id in named:
        for key in merge_keys(kind, value):
            root = roots.get(key) or (union.find(key) if key in union.parent else None)
            found = persons.get(root) if root else None
            label = reference or f"report {report_id}"
            if found is not None and label not in found.tips:
                found.tips.append(label)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything was stored in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def case_people(session: Session, case_id: int) -> People:
    union = _Union()
    identities = session.execute(
        select(
            ArtifactIdentity.source_id,
            ArtifactIdentity.parser,
            ArtifactIdentity.kind,
            ArtifactIdentity.value,
            ArtifactIdentity.name,
            ArtifactIdentity.card,
        )
        .where(ArtifactIdentity.case_id == case_id)
        .order_by(ArtifactIdentity.id)
    ).all()
    cards: dict[tuple[int, str], list[str]] = defaultdict(list)
    for source_id, _, kind, value, _, card in identities:
        keys = merge_keys(kind, value)
        union.join(keys)
        if card and keys:
            cards[(source_id, card)].append(keys[0])
    for keys in cards.values():
        union.join(keys)

    # Who took part in messages: grouped in SQL first, so a million messages are a few thousand rows here.
    groups = session.execute(
        select(
            Message.app,
            Message.direction,
            Message.sender,
            Message.recipients,
            func.count(),
            func.sum(case((Message.has_media.is_(True), 1), else_=0)),
            func.min(Message.time_utc),
            func.max(Message.time_utc),
        )
        .where(Message.case_id == case_id)
        .group_by(Message.app, Message.direction, Message.sender, Message.recipients)
    ).all()
    parties: list[tuple[str, str | None, list[str], int, int, datetime | None, datetime | None, str]] = []
    for app, direction, sender, recipients_text, count, media, first, last in groups:
        recipients = [r for r in json.loads(recipients_text or "[]") if isinstance(r, str)]
        named: list[str | None] = [sender, *recipients]
        for party in named:
            if party:
                union.join(merge_keys(participant_kind(app, party), party))
        parties.append(
            (direction, sender, recipients, int(count), int(media or 0), _aware(first), _aware(last), app)
        )

    persons: dict[str, Person] = {}
    roots: dict[str, str] = {}

    def person(kind: str, value: str) -> Person | None:
        keys = merge_keys(kind, value)
        if not keys:
            return None
        root = union.find(keys[0])
        for key in keys:
            roots[key] = root
        found = persons.get(root)
        if found is None:
            found = persons[root] = Person(key=root)
        if (kind, value) not in found.identifiers:
            found.identifiers.append((kind, value))
        return found

    for _, parser, kind, value, name, _ in identities:
        found = person(kind, value)
        if found is None:
            continue
        if name and name not in found.names:
            found.names.append(name)
        if parser not in found.sources:
            found.sources.append(parser)

    edges: dict[tuple[str, str], Exchange] = {}
    for direction, sender, recipients, count, media, first, last, app in parties:
        source_party = OWNER
        if direction == "received" and sender:
            found = person(participant_kind(app, sender), sender)
            source_party = found.key if found else sender
        targets: list[str] = []
        for value in recipients:
            found = person(participant_kind(app, value), value)
            if found is not None and found.key != source_party:
                targets.append(found.key)
        if direction == "received":
            targets.append(OWNER)
        for target in dict.fromkeys(targets):
            edge = edges.get((source_party, target))
            if edge is None:
                edge = edges[(source_party, target)] = Exchange(source_party, target)
            edge.messages += count
            edge.media += media
            edge.first = _earlier(edge.first, first)
            edge.last = _later(edge.last, last)
            edge.apps.add(app)
    _mark_tips(session, case_id, persons, roots, union)
    for found in persons.values():
        found.identifiers.sort()
    exchanges = sorted(edges.values(), key=lambda e: (-e.media, -e.messages, e.sender, e.recipient))
    return People(persons, exchanges, roots)
