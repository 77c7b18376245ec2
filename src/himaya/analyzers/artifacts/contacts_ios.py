"""The iPhone's address book: people's phone numbers and e-mail addresses from `AddressBook.sqlitedb`.

Reads ABPerson (ROWID, First, Last, Organization, Nickname) and ABMultiValue (record_id: the person,
property: 3 a phone number, 4 an e-mail address; value). Each phone number and e-mail address becomes
an Identity named "First Last" (else the organization, else the nickname), with card "person:<ROWID>"
so that the identifiers of one card stay one person. Postal addresses, web pages, related names and the
labels ("mobile", "home") are not read; a card with no phone or e-mail yields nothing. Numbers are
reported as the owner typed them ("+962 79 000 0001"); matching them to other databases' forms is the
people module's job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from himaya.analyzers.artifacts.interface import ArtifactParser, Identity, Record, Schema, has_columns

__all__ = ["ContactsIos"]

_KINDS = {3: "phone", 4: "email"}


def _text(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a number typed without formatting may be stored as an integer
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class ContactsIos(ArtifactParser):
    NAME = "contacts-ios"
    DESCRIPTION = "iPhone address book: names with their phone numbers and e-mail addresses"
    APP = "contacts"

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return has_columns(schema, "ABPerson", "First", "Last") and has_columns(
            schema, "ABMultiValue", "record_id", "property", "value"
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        def person(column: str) -> str:
            return f"p.{column}" if has_columns(schema, "ABPerson", column) else "NULL"

        order = "v.record_id, v.UID" if has_columns(schema, "ABMultiValue", "UID") else "v.record_id"
        seen: set[tuple[int, str, str]] = set()
        for record_id, prop, value, first, last, organization, nickname in db.execute(
            f"SELECT v.record_id, v.property, v.value, p.First, p.Last, {person('Organization')}, "  # noqa: S608
            f"{person('Nickname')} FROM ABMultiValue v LEFT JOIN ABPerson p ON p.ROWID = v.record_id "
            f"WHERE v.property IN (3, 4) ORDER BY {order}"
        ):
            kind = _KINDS.get(prop) if isinstance(prop, int) else None
            identifier = _text(value)
            if kind is None or identifier is None or not isinstance(record_id, int):
                continue
            if (record_id, kind, identifier) in seen:
                continue
            seen.add((record_id, kind, identifier))
            full = " ".join(part for part in (_text(first), _text(last)) if part)
            yield Identity(
                kind=kind,
                value=identifier,
                name=full or _text(organization) or _text(nickname),
                card=f"person:{record_id}",
                source=self.NAME,
            )
