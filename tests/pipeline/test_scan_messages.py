"""Phone extractions with chat databases: messages read after the scan, media linked, deleted media still
matched through the SHA-256 WhatsApp recorded, nothing duplicated by a second run, evidence untouched."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ArtifactSettings, ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.html import write_report
from himaya.reports.messages import export_messages
from himaya.store.blobs import BlobStore
from himaya.store.db import Store, open_store
from himaya.store.models import ArtifactSource, Case, File, Message, ScanRun
from tests.builders.chats import ios
from tests.builders.chats import whatsapp_android as wa
from tests.builders.phones import tar_tree, zip_tree

WA_ROOT = "data/media/0/Android/media/com.whatsapp/WhatsApp"
DATABASES = "data/data/com.whatsapp/databases"


def android_extraction(root: Path) -> Path:
    """A full-file-system extraction with WhatsApp's databases (newest messages in the -wal) and media;
    the deleted picture is absent."""
    wa.build_msgstore(root / DATABASES / "msgstore.db", wal=True)
    wa.build_wa_db(root / DATABASES / "wa.db")
    for stored, data in wa.media_files().items():
        target = root / WA_ROOT / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "data" / "media" / "0" / "DCIM").mkdir(parents=True)
    return root


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-MSG", "TEST messages")
    return store


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", bytes(range(32)))


def scan(store: Store, blobs: BlobStore | None, evidence: list[Path], **options: Any) -> None:
    settings = ScanSettings(**{"workers": 0, "thumbnails": False, **options})
    run_scan(store, "C-MSG", evidence, settings=settings, blobs=blobs, quiet=True)


def messages(store: Store, **options: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_messages(store, "C-MSG", out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def by_text(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["text"]: r for r in records if r["text"]}


def known_list(tmp_path: Path) -> Path:
    """TEST hash set: the deleted picture and the received one, by SHA-256."""
    listed = tmp_path / "TEST-known-sha256.txt"
    listed.write_text(f"{wa.DELETED_MEDIA_SHA256}\n{wa.media_sha256(wa.RECEIVED_PICTURE_PATH)}\n")
    return listed


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_whatsapp_messages_linked_and_matched(
    store: Store, blobs: BlobStore, tmp_path: Path, packed: bool
) -> None:
    import_hash_set(store, known_list(tmp_path), name="TEST-KNOWN", hash_type="sha256")
    root = android_extraction(tmp_path / "phone")
    evidence = zip_tree(root, tmp_path / "phone.zip") if packed else root
    scan(store, blobs, [evidence])
    prefix = "phone.zip!/" if packed else "phone/"
    records = messages(store)
    # Every message of the scenario, WAL-only ones included; the system message is not one.
    assert len(records) == len(wa.EXPECTED_SENDERS)
    assert [r["time_utc"] for r in records] == sorted(r["time_utc"] for r in records)
    texts = by_text(records)
    on_my_way = texts["On my way"]  # only in msgstore.db-wal
    assert on_my_way["direction"] == "sent" and on_my_way["sender"] is None
    assert on_my_way["recipients"] == [wa.RANIA] and on_my_way["chat"] == wa.RANIA
    assert on_my_way["time_utc"] == "2023-05-16T18:45:00Z"
    assert on_my_way["database"] == f"{prefix}{DATABASES}/msgstore.db"

    media = {r["media_path"]: r for r in records if r["media_path"]}
    received = media[wa.RECEIVED_PICTURE_PATH]
    assert received["file_path_in_case"] == f"{prefix}{WA_ROOT}/{wa.RECEIVED_PICTURE_PATH}"
    assert received["media_present"] is True and received["link_method"] == "path"
    assert received["media_sha256"] == wa.media_sha256(wa.RECEIVED_PICTURE_PATH)
    assert [m["hashset"] for m in received["matches"]] == ["TEST-KNOWN"]
    assert received["sender"] == wa.RANIA and received["sender_name"] == wa.CONTACT_NAMES[wa.RANIA]

    gone = media[wa.DELETED_MEDIA_PATH]
    assert gone["media_present"] is False and gone["file_path_in_case"] is None
    assert gone["media_sha256"] == wa.DELETED_MEDIA_SHA256
    assert [(m["hashset"], m["method"]) for m in gone["matches"]] == [("TEST-KNOWN", "sha256")]

    assert media[wa.FORWARDED_PICTURE_PATH]["forwarded"] is True
    group = media[wa.GROUP_PICTURE_PATH]
    assert group["chat_type"] == "group" and group["chat_name"] == wa.GROUP_SUBJECT
    assert group["text"] == wa.CAPTION_IN_MEDIA and group["sender"] == wa.LINA
    assert group["recipients"] == [wa.OMAR, wa.SAMI]
    assert media[wa.SENT_PICTURE_PATH]["text"] == wa.CAPTION_IN_TEXT
    # A contact known only by the name he gave WhatsApp.
    assert texts["Board 3 is free tonight"]["sender_name"] == wa.SAMI_WA_NAME

    only = messages(store, only_matches=True)
    assert {r["media_path"] for r in only} == {wa.RECEIVED_PICTURE_PATH, wa.DELETED_MEDIA_PATH}

    # A second run finds everything done and duplicates nothing.
    scan(store, blobs, [evidence])
    assert len(messages(store)) == len(records)

    report = write_report(store, "C-MSG", tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Messages that carried matched media (2)" in html
    assert "file gone: matched by the SHA-256 the app recorded" in html
    assert wa.DELETED_MEDIA_PATH in html and wa.GROUP_SUBJECT not in html  # only matched media's messages
    assert report.databases[0][3] == "parsed"
    rania = next(e for e in report.exchanges if e[0].startswith(wa.CONTACT_NAMES[wa.RANIA]))
    assert rania[1:4] == ("phone owner", 3, 5)  # received: text, picture, forwarded, gone; status
    assert "Who exchanged media with whom" in html


def test_evidence_is_never_modified(store: Store, blobs: BlobStore, tmp_path: Path) -> None:
    root = android_extraction(tmp_path / "phone")
    folder = root / DATABASES

    def fingerprint() -> dict[str, tuple[str, int]]:
        return {
            p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in folder.iterdir()
        }

    before = fingerprint()
    assert "msgstore.db-wal" in before
    scan(store, blobs, [root])
    assert fingerprint() == before  # no checkpoint, no -shm, same times
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == len(wa.EXPECTED_SENDERS)


def test_worker_processes_keep_databases_for_the_parse(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    root = android_extraction(tmp_path / "phone")
    scan(store, blobs, [zip_tree(root, tmp_path / "phone.zip")], workers=2)
    assert len(messages(store)) == len(wa.EXPECTED_SENDERS)


def test_unreadable_and_unknown_databases_are_findings_not_crashes(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    root = android_extraction(tmp_path / "phone")
    (root / DATABASES / "msgstore.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    (root / DATABASES / "msgstore.db-wal").unlink()
    wa.build_lookalike(root / "data" / "data" / "com.example" / "databases" / "mmssms.db")
    backup = root / "data/media/0/WhatsApp/Databases/msgstore-2024-05-04.1.db.crypt15"
    backup.parent.mkdir(parents=True)
    backup.write_bytes(bytes(range(256)) * 8)
    scan(store, blobs, [root])
    with store.session() as session:
        rows = dict(
            session.execute(
                select(File.path, File.error).where(
                    File.path.like("%msgstore.db") | File.path.like("%mmssms.db")
                )
            ).all()
        )
        sources = session.execute(select(ArtifactSource.status, ArtifactSource.finding)).all()
    assert "recovery tool" in (rows[f"phone/{DATABASES}/msgstore.db"] or "")
    assert "no parser knows" in (rows["phone/data/data/com.example/databases/mmssms.db"] or "")
    assert ("parsed", None) in sources  # wa.db was still read
    with store.session() as session:
        backup_error = session.scalar(select(File.error).where(File.path.like("%.crypt15")))
    assert backup_error is not None and "encrypted WhatsApp backup (crypt15)" in backup_error
    assert {status for status, _ in sources} <= {"parsed", "failed"}


def test_no_artifacts_option_reads_no_messages(store: Store, blobs: BlobStore, tmp_path: Path) -> None:
    root = android_extraction(tmp_path / "phone")
    scan(store, blobs, [root], artifacts=ArtifactSettings(enabled=False))
    assert messages(store) == []
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ArtifactSource)) == 0


def test_messages_on_postgresql(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Server mode: kept databases, messages, links and the deleted picture's SHA-256 match."""
    monkeypatch.setenv("HIMAYA_DATABASE_URL", postgres_url)
    store = open_store(tmp_path / "home")
    try:
        create_case(store, "C-MSG", "TEST messages")
        import_hash_set(store, known_list(tmp_path), name="TEST-KNOWN", hash_type="sha256")
        root = android_extraction(tmp_path / "phone")
        blobs = BlobStore(tmp_path / "blobs", bytes(range(32)))
        scan(store, blobs, [root])
        scan(store, blobs, [root])  # nothing twice
        records = messages(store)
        assert len(records) == len(wa.EXPECTED_SENDERS)
        gone = next(r for r in records if r["media_path"] == wa.DELETED_MEDIA_PATH)
        assert gone["media_present"] is False and [m["method"] for m in gone["matches"]] == ["sha256"]
        assert by_text(records)["On my way"]["time_utc"] == "2023-05-16T18:45:00Z"
    finally:
        store.close()


def test_ctrl_c_while_reading_messages_then_rerun_finishes_without_duplicates(
    store: Store, blobs: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from himaya.chats import writer
    from himaya.pipeline import artifacts

    root = android_extraction(tmp_path / "phone")
    real = artifacts.iter_records

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        for n, item in enumerate(real(*args, **kwargs)):
            if n == 5:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(writer, "BATCH", 2)  # some batches are written before the interruption
    monkeypatch.setattr(artifacts, "iter_records", interrupted)
    scan(store, blobs, [root])
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0  # rolled back whole
        run = session.scalar(select(ScanRun).order_by(ScanRun.id.desc()))
        assert run is not None and run.status == "interrupted"
    monkeypatch.setattr(artifacts, "iter_records", real)
    scan(store, blobs, [root])
    scan(store, blobs, [root])
    assert len(messages(store)) == len(wa.EXPECTED_SENDERS)


APPGROUP = "private/var/mobile/Containers/Shared/AppGroup/5B6C7D8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F"


def ios_extraction(root: Path) -> Path:
    """An iPhone full-file-system extraction: WhatsApp's shared container (newest messages in the -wal),
    Messages with its attachments, the address book; one WhatsApp picture and one attachment deleted."""
    ios.build_chatstorage(root / APPGROUP / "ChatStorage.sqlite", wal=True)
    for stored, data in ios.whatsapp_media_files().items():
        target = root / APPGROUP / "Message" / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    ios.build_sms_db(root / "private/var/mobile/Library/SMS/sms.db")
    for stored, data in ios.sms_attachment_files().items():
        target = root / "private/var/mobile" / stored.removeprefix("~/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    ios.build_addressbook(root / "private/var/mobile/Library/AddressBook/AddressBook.sqlitedb")
    return root


def test_ios_whatsapp_messages_and_contacts_from_a_tar(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    root = ios_extraction(tmp_path / "iphone")
    scan(store, blobs, [tar_tree(root, tmp_path / "iPhone.tar")])
    records = messages(store)
    apps = {r["app"] for r in records}
    assert apps == {"whatsapp", "sms", "imessage"}
    media = {r["media_path"]: r for r in records if r["media_path"]}
    for message, stored in ios.WA_MEDIA_PATHS.items():
        found = media[stored]
        if message == ios.WA_DELETED_MEDIA_MESSAGE:
            assert found["media_present"] is False and found["file_path_in_case"] is None
        else:
            assert found["file_path_in_case"] == f"iPhone.tar!/{APPGROUP}/Message/{stored}", stored
            assert found["link_method"] == "path" and found["media_present"] is True
    for attachment, stored in ios.SMS_ATTACHMENT_PATHS.items():
        found = media[stored]
        if attachment == ios.SMS_DELETED_ATTACHMENT:
            assert found["media_present"] is False
        else:
            expected = "iPhone.tar!/private/var/mobile/" + stored.removeprefix("~/")
            assert found["file_path_in_case"] == expected and found["link_method"] == "path"
    assert ios.WA_TEXT_WAL_ONLY in {r["text"] for r in records}  # only in ChatStorage.sqlite-wal
    # Rami: his address-book card, his WhatsApp JID and his SMS number are one person.
    with store.session() as session:
        from himaya.chats.people import case_people

        case_id = session.scalar(select(Case.id).where(Case.number == "C-MSG"))
        assert case_id is not None
        people = case_people(session, case_id)
    rami = people.person_of("whatsapp", ios.RAMI_JID)
    assert rami is not None and ios.RAMI_NAME in rami.names
    assert ("email", ios.RAMI_EMAIL) in rami.identifiers
    assert people.person_of("phone", ios.RAMI_NUMBER) is rami
    dana = people.person_of("whatsapp", ios.DANA_JID)
    assert dana is not None and dana.names == [ios.DANA_PUSH_NAME]  # known only by her own push name


def test_a_phone_image_whose_picture_was_deleted_but_is_recovered(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    """A disk image (ext4): the databases and media read through path specs; the picture whose file was
    deleted is recovered from its inode, so its message finds it, flagged deleted, with its content."""
    from tests.builders.disks import ext4_image

    staged = android_extraction(tmp_path / "staged")
    files = {
        str(path.relative_to(staged)): path.read_bytes()
        for path in sorted(staged.rglob("*"))
        if path.is_file()
    }
    gone = {f"{WA_ROOT}/{wa.DELETED_MEDIA_PATH}": wa.media_bytes(wa.DELETED_MEDIA_PATH)}
    image = ext4_image(tmp_path / "phone.raw", files, size_mb=24, deleted=gone)
    scan(store, blobs, [image], carve=False)
    records = messages(store)
    assert len(records) == len(wa.EXPECTED_SENDERS)  # the -wal in the image was applied too
    recovered = next(r for r in records if r["media_path"] == wa.DELETED_MEDIA_PATH)
    assert recovered["media_present"] is True and recovered["link_method"] == "path"
    assert recovered["file_path_in_case"] == f"phone.raw/{WA_ROOT}/{wa.DELETED_MEDIA_PATH}"
    with store.session() as session:
        deleted = session.scalar(select(File.deleted).where(File.path == recovered["file_path_in_case"]))
    assert deleted is True


def test_logs_of_databases_no_parser_reads_are_not_kept(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    from tests.builders.chats.sqlite_files import write_database

    root = android_extraction(tmp_path / "phone")
    write_database(
        root / "data/data/com.example.notes/databases/notes.db",
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);",
        lambda db: db.execute("INSERT INTO notes(body) VALUES ('TEST old')"),
        newest=lambda db: db.execute("INSERT INTO notes(body) VALUES ('TEST new')"),
    )
    scan(store, blobs, [zip_tree(root, tmp_path / "phone.zip")])
    with store.session() as session:
        logs = {
            path.rsplit("/", 1)[-1]: (status, blob)
            for path, status, blob in session.execute(
                select(File.path, ArtifactSource.status, ArtifactSource.blob_id)
                .join(ArtifactSource, ArtifactSource.file_id == File.id)
                .where(ArtifactSource.role == "wal")
            )
        }
    assert logs["notes.db-wal"] == ("unused", None)
    status, blob = logs["msgstore.db-wal"]
    assert status == "parsed" and blob is not None and blobs.exists(blob)
    assert len(messages(store)) == len(wa.EXPECTED_SENDERS)


def test_a_person_a_tip_names_is_marked(store: Store, blobs: BlobStore, tmp_path: Path) -> None:
    """A CyberTipline-style report names a phone number that is a WhatsApp contact of the seized phone."""
    from himaya.attribution.importer import import_tips
    from himaya.chats.people import case_people
    from tests.builders.tips import cybertip_json, sample_report

    report = sample_report("TEST-2002")
    reported = report["personOrUserReported"]["personOrUserReportedPerson"]
    reported["phone"] = [{"value": "(079) 000-0002", "type": "Mobile", "countryCallingCode": "+962"}]
    (tmp_path / "tip.json").write_bytes(cybertip_json(report))
    import_tips(store, "C-MSG", [tmp_path / "tip.json"], actor="test")
    scan(store, blobs, [android_extraction(tmp_path / "phone")])
    with store.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == "C-MSG"))
        assert case_id is not None
        people = case_people(session, case_id)
    rania = people.person_of("whatsapp", wa.RANIA)
    assert rania is not None and rania.tips == ["TEST-2002"]
    assert all(not p.tips for p in people.persons.values() if p is not rania)
