"""Android's address book, `contacts2.db` of com.android.providers.contacts, read into identities.

Every account that syncs contacts (Google, the SIM, WhatsApp, Telegram) keeps its own *raw contact*
(`raw_contacts`); the provider aggregates raw contacts it takes for one person into a *contact*
(`raw_contacts.contact_id`). A raw contact's details are rows of `data` whose kind is named in
`mimetypes`: phone numbers (`phone_v2`), e-mail addresses (`email_v2`), the structured name (`name`),
and the profile rows messaging apps add (WhatsApp's JID, Telegram's user id), all in `data1`.

Each phone number, e-mail address, WhatsApp JID and Telegram user id becomes an `Identity` with the raw
contact's display name (else its structured name) and the card `contact:<contact_id>`, so raw contacts
aggregated into one contact are one person; a raw contact not (or no longer) aggregated gets
`raw_contact:<id>`.

Limits:
- Raw contacts marked deleted (`deleted = 1`, waiting for their account to sync the deletion) are read
  like the others: a contact the user deleted is still evidence of who they knew. `Identity` has no
  flag for it.
- Other kinds of detail (postal addresses, notes, photos, other apps' profile rows) are not read.
- Values are as the user or app wrote them; numbers are not normalised here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from himaya.analyzers.artifacts.interface import ArtifactParser, Identity, Record, Schema, has_columns
from himaya.analyzers.artifacts.values import decode_text, sqlite_codec

__all__ = ["ContactsAndroid"]

_NAME_TYPE = "vnd.android.cursor.item/name"
_KINDS = {
    "vnd.android.cursor.item/phone_v2": "phone",
    "vnd.android.cursor.item/email_v2": "email",
    # WhatsApp (and WhatsApp Business) add a profile row and call rows, each with the JID in data1.
    "vnd.android.cursor.item/vnd.com.whatsapp.profile": "whatsapp",
    "vnd.android.cursor.item/vnd.com.whatsapp.voip.call": "whatsapp",
    "vnd.android.cursor.item/vnd.com.whatsapp.video.call": "whatsapp",
    "vnd.android.cursor.item/vnd.com.whatsapp.w4b.profile": "whatsapp",
    # Telegram's profile row has the user id in data1 (and a "Message +number" label in data3).
    "vnd.android.cursor.item/vnd.org.telegram.messenger.android.profile": "telegram",
}
# A number column's value, NULL when it holds text: SQLite would fail decoding text that is not UTF-8.
_NUMBER = "(CASE WHEN typeof({0}) IN ('integer', 'real') THEN {0} END)"


class ContactsAndroid(ArtifactParser):
    NAME = "contacts-android"
    DESCRIPTION = "Android contacts (com.android.providers.contacts contacts2.db)"
    APP = "contacts"

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return (
            has_columns(schema, "raw_contacts", "_id", "contact_id")
            and has_columns(schema, "data", "_id", "raw_contact_id", "mimetype_id", "data1")
            and has_columns(schema, "mimetypes", "_id", "mimetype")
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        codec = sqlite_codec(db)
        display = (
            "CAST(display_name AS BLOB)" if has_columns(schema, "raw_contacts", "display_name") else "NULL"
        )
        raw_contacts: dict[int, tuple[str, str | None]] = {}
        for raw_id, contact_id, name in db.execute(
            f"SELECT _id, {_NUMBER.format('contact_id')}, {display} FROM raw_contacts"  # noqa: S608
        ):
            if isinstance(raw_id, int):
                raw_contacts[raw_id] = (_card(raw_id, contact_id), decode_text(name, codec))
        structured: dict[int, str] = {}
        for raw_id, name in db.execute(
            f"SELECT {_NUMBER.format('d.raw_contact_id')}, CAST(d.data1 AS BLOB) FROM data d "  # noqa: S608
            "JOIN mimetypes m ON m._id = d.mimetype_id WHERE m.mimetype = ?",
            (_NAME_TYPE,),
        ):
            text = decode_text(name, codec)
            if isinstance(raw_id, int) and text and raw_id not in structured:
                structured[raw_id] = text
        marks = ", ".join("?" for _ in _KINDS)
        seen: set[tuple[str | None, str, str]] = set()
        for raw_id, mimetype, value_raw in db.execute(
            f"SELECT {_NUMBER.format('d.raw_contact_id')}, m.mimetype, CAST(d.data1 AS BLOB) FROM data d "  # noqa: S608
            f"JOIN mimetypes m ON m._id = d.mimetype_id WHERE m.mimetype IN ({marks}) "
            "ORDER BY d.raw_contact_id, d._id",
            tuple(_KINDS),
        ):
            kind = _KINDS.get(mimetype) if isinstance(mimetype, str) else None
            value = decode_text(value_raw, codec)
            if kind is None or value is None:
                continue
            if not isinstance(raw_id, int):
                known: tuple[str | None, str | None] = (None, None)  # no card: it would join strangers
            else:
                # A detail whose raw contact row is gone still names someone the phone knew.
                known = raw_contacts.get(raw_id) or (f"raw_contact:{raw_id}", None)
            card, name = known
            if (card, kind, value) in seen:
                continue
            seen.add((card, kind, value))
            if name is None and isinstance(raw_id, int):
                name = structured.get(raw_id)
            yield Identity(kind=kind, value=value, name=name, card=card, source=self.NAME)


def _card(raw_id: int, contact_id: Any) -> str:
    if isinstance(contact_id, int) and not isinstance(contact_id, bool):
        return f"contact:{contact_id}"
    return f"raw_contact:{raw_id}"
