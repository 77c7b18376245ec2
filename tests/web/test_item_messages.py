"""The item view lists the chat messages that carried a picture: app, chat, direction, sender (with the
name the phone gives them), recipients, time and caption, in English and in Arabic; a hostile caption is
text, never markup."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.store.models import File, Message
from tests.builders.chats import whatsapp_android as wa
from tests.builders.web_case import CASE
from tests.pipeline.test_scan_messages import WA_ROOT, android_extraction
from tests.web.conftest import Web, post_form
from tests.web.test_item_video import page, section


def _scan_phone(web: Web, tmp_path: Path) -> dict[str, int]:
    root = android_extraction(tmp_path / "phone-chats")
    run_scan(web.store, CASE, [root], settings=ScanSettings(workers=0), blobs=web.blobs, quiet=True)
    with web.store.session() as session:
        rows = session.execute(select(File.id, File.path).where(File.path.like(f"phone-chats/{WA_ROOT}/%")))
        return {path.split(f"{WA_ROOT}/", 1)[1]: file_id for file_id, path in rows}


def test_item_view_lists_the_messages_that_carried_a_picture(web_sqlite: Web, tmp_path: Path) -> None:
    ids = _scan_phone(web_sqlite, tmp_path)
    html = page(web_sqlite, ids[wa.GROUP_PICTURE_PATH])
    table = section(html, "Messages that carried it", "</table>")
    assert "2023-05-14T09:05:00Z" in table
    assert wa.GROUP_SUBJECT in table and "(group)" in table and "received" in table
    assert wa.CONTACT_NAMES[wa.LINA] in table and wa.LINA in table
    assert f"{wa.OMAR}, {wa.SAMI}" in table and wa.CAPTION_IN_MEDIA in table
    assert "file gone" not in table

    forwarded = section(
        page(web_sqlite, ids[wa.FORWARDED_PICTURE_PATH]), "Messages that carried it", "</table>"
    )
    assert "forwarded" in forwarded and wa.CONTACT_NAMES[wa.RANIA] in forwarded

    client = web_sqlite.login("rami")
    assert post_form(client, "/account/language", {"language": "ar", "next": "/"}).status_code == 303
    arabic = client.get(f"/cases/{CASE}/files/{ids[wa.SENT_PICTURE_PATH]}").text
    table = section(arabic, "الرسائل التي نقلته", "</table>")
    assert "صاحب الهاتف" in table and wa.CAPTION_IN_TEXT in table  # sent by the owner


def test_a_hostile_caption_is_shown_as_text(web_sqlite: Web, tmp_path: Path) -> None:
    ids = _scan_phone(web_sqlite, tmp_path)
    with web_sqlite.store.transaction() as session:
        message = session.scalar(select(Message).where(Message.media_path == wa.RECEIVED_PICTURE_PATH))
        assert message is not None
        message.text = "<img src=x onerror=alert(1)>"
    html = page(web_sqlite, ids[wa.RECEIVED_PICTURE_PATH])
    assert "&lt;img src=x onerror=alert(1)&gt;" in section(html, "Messages that carried it", "</table>")
    assert "<img src=x" not in html


def test_a_picture_no_message_carried_has_no_such_section(web_sqlite: Web, tmp_path: Path) -> None:
    _scan_phone(web_sqlite, tmp_path)
    with web_sqlite.store.session() as session:
        other = session.scalar(
            select(File.id).where(File.mime.like("image/%"), ~File.path.like("phone-chats/%"))
        )
    assert other is not None
    assert "Messages that carried it" not in page(web_sqlite, other)


def test_gallery_filter_pictures_carried_in_chats(web_sqlite: Web, tmp_path: Path) -> None:
    from himaya.store.models import GalleryItem

    ids = _scan_phone(web_sqlite, tmp_path)
    client = web_sqlite.login("rita")
    gallery = f"/cases/{CASE}/gallery"
    carried = set(map(int, re.findall(r'id="tile-(\d+)"', client.get(gallery, params={"chats": "yes"}).text)))
    assert carried == set(ids.values())  # every picture the WhatsApp scenario's messages carried
    others = set(map(int, re.findall(r'id="tile-(\d+)"', client.get(gallery, params={"chats": "no"}).text)))
    with web_sqlite.store.session() as session:
        everything = set(session.scalars(select(GalleryItem.file_id)))
    assert others == everything - carried and others


def test_messages_page_for_investigators_only(web_sqlite: Web, tmp_path: Path) -> None:
    from himaya.store.models import AuditEvent

    _scan_phone(web_sqlite, tmp_path)
    url = f"/cases/{CASE}/messages"
    assert web_sqlite.login("rami").get(url).status_code == 403  # a reviewer: pictures, not persons
    client = web_sqlite.login("ivan")
    assert 'id="open-messages"' in client.get(f"/cases/{CASE}").text
    html = client.get(url).text
    exchanges = section(html, 'id="exchange-table"', "</table>")
    rania = wa.CONTACT_NAMES[wa.RANIA]
    assert f'<td dir="auto">{rania} (' in exchanges and "phone owner" in exchanges
    persons = section(html, 'id="person-table"', "</table>")
    assert wa.SAMI_WA_NAME in persons and wa.RANIA in persons
    databases = section(html, 'id="database-table"', "</table>")
    assert "msgstore.db" in databases and "whatsapp-android" in databases and "parsed" in databases
    assert "No message carried media matching an alert hash set." in html  # nothing listed in this case
    with web_sqlite.store.session() as session:
        viewed = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "messages_viewed").order_by(AuditEvent.id.desc())
        )
    assert viewed is not None and viewed.actor == "ivan"


def test_messages_page_lists_the_messages_that_carried_known_pictures(
    web_sqlite: Web, tmp_path: Path
) -> None:
    from himaya.hashsets.importer import import_hash_set
    from tests.pipeline.test_scan_messages import known_list

    import_hash_set(web_sqlite.store, known_list(tmp_path), name="TEST-KNOWN-CHATS", hash_type="sha256")
    ids = _scan_phone(web_sqlite, tmp_path)
    html = web_sqlite.login("sam").get(f"/cases/{CASE}/messages").text
    carried = section(html, 'id="carried-table"', "</table>")
    assert carried.count("<tr>") == 3  # the header row and two messages
    assert f'/files/{ids[wa.RECEIVED_PICTURE_PATH]}"' in carried  # to the item view
    assert wa.DELETED_MEDIA_PATH in carried and "file gone" in carried
    assert "TEST-KNOWN-CHATS v1 sha256" in carried
