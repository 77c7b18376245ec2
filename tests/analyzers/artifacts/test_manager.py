"""The registry: every database of the test corpus is read by exactly its own parser(s), and no lookalike
by any; every parser has a name, a description and an app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from himaya.analyzers.artifacts.manager import PARSERS, parse_files, parser_named
from tests.builders.chats import android_telephony as telephony
from tests.builders.chats import ios, telegram
from tests.builders.chats import whatsapp_android as wa

DATABASES: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "msgstore.db": (wa.build_msgstore, ["whatsapp-android"]),
    "msgstore-legacy.db": (wa.build_msgstore_legacy, ["whatsapp-android-legacy"]),
    "wa.db": (wa.build_wa_db, ["whatsapp-contacts-android"]),
    "cache4.db": (telegram.build_cache4, ["telegram-android"]),
    "cache4-legacy.db": (telegram.build_cache4_legacy, ["telegram-android"]),
    "mmssms.db": (telephony.build_mmssms, ["sms-android"]),
    "contacts2.db": (telephony.build_contacts2, ["contacts-android"]),
    "ChatStorage.sqlite": (ios.build_chatstorage, ["whatsapp-ios"]),
    "sms.db": (ios.build_sms_db, ["sms-ios"]),
    "AddressBook.sqlitedb": (ios.build_addressbook, ["contacts-ios"]),
    "lookalike-msgstore.db": (wa.build_lookalike, []),
}
LOOKALIKES: list[tuple[str, Callable[[Path], Path]]] = [
    *((f"ios-{name}", lambda p, n=name: ios.build_lookalike(p, n)) for name in ios.LOOKALIKE_SCHEMAS),
    *(
        (f"tg-{name}", lambda p, n=name: telegram.build_lookalike(p, n))
        for name in telegram.LOOKALIKE_SCHEMAS
    ),
    *(
        (f"sms-{name}", lambda p, sql=sql: telephony.build_schema_only(p, sql))
        for name, sql in telephony.MMSSMS_LOOKALIKES.items()
    ),
    ("contacts2-lookalike", lambda p: telephony.build_schema_only(p, telephony.CONTACTS2_LOOKALIKE)),
]


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_each_database_is_read_by_its_own_parser_only(name: str, tmp_path: Path) -> None:
    build, expected = DATABASES[name]
    parsed = parse_files(build(tmp_path / name))
    assert parsed.parsers == expected
    assert bool(parsed.records) == bool(expected)


@pytest.mark.parametrize("name,build", LOOKALIKES, ids=[name for name, _ in LOOKALIKES])
def test_no_parser_reads_a_lookalike(name: str, build: Callable[[Path], Path], tmp_path: Path) -> None:
    parsers = parse_files(build(tmp_path / f"{name}.db")).parsers
    if name == "ios-android-msgstore":  # an iOS parser's lookalike, and a real Android msgstore's shape
        assert parsers == ["whatsapp-android"]
    else:
        assert parsers == []


def test_every_parser_is_named_described_and_found_by_name() -> None:
    names = [parser.NAME for parser in PARSERS]
    assert len(names) == len(set(names)) == 9
    for parser in PARSERS:
        assert parser.DESCRIPTION and parser.APP
        assert parser_named(parser.NAME) is parser
    with pytest.raises(KeyError):
        parser_named("no-such-parser")


def test_message_count_for_the_progress_display(tmp_path: Path) -> None:
    from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema
    from himaya.analyzers.artifacts.manager import count_messages, recognise

    path = wa.build_msgstore(tmp_path / "msgstore.db")
    with open_private_copy(DatabaseFiles(path, Path(f"{path}-wal"))) as db:
        schema = read_schema(db)
        rows = db.execute("SELECT count(*) FROM message").fetchone()[0]
        assert (
            count_messages(db, schema, recognise(schema)) == rows == len(wa.EXPECTED_SENDERS) + 1
        )  # + system
    contacts = telephony.build_contacts2(tmp_path / "contacts2.db")
    with open_private_copy(DatabaseFiles(contacts)) as db:
        schema = read_schema(db)
        assert count_messages(db, schema, recognise(schema)) is None  # no message table


def test_progress_says_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from himaya.pipeline import artifacts

    clock = [1010.0]
    monkeypatch.setattr(artifacts.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    report = artifacts._progress(Console(file=out, width=200), "msgstore.db", 1000.0, 1_000_000)
    report(250_000)  # 25,000 a second for 10 s: 750,000 left, 30 s
    assert "msgstore.db: 250,000 of about 1,000,000 messages (25,000/s, about 30 s left)" in out.getvalue()
    clock[0] = 1012.0
    report(300_000)  # within 5 s of the last line: nothing more
    assert out.getvalue().count("\n") == 1
