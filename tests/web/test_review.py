"""Reviewing through the app: gallery order and filters, blurred pictures, reveal one at a time,
categorising (single, bulk, stack, shared by every copy), exposure, and the audit of every picture served."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import func, select

from himaya.store.models import AuditEvent, GalleryItem, Reveal, Review
from tests.builders.web_case import CASE, HOSTILE
from tests.web.conftest import Web, csrf_of, post_form

GALLERY = f"/cases/{CASE}/gallery"


def tiles(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="tile-(\d+)"', html)]


def items(web: Web) -> dict[str, GalleryItem]:
    with web.store.session() as session:
        return {row.path.rsplit("/", 1)[-1]: row for row in session.scalars(select(GalleryItem))}


def pictures_served(web: Web) -> int:
    with web.store.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "picture_shown")
            )
            or 0
        )


def test_gallery_shows_new_material_first_and_tiny_pictures_last(web: Web) -> None:
    client = web.login("rita")
    html = client.get(GALLERY).text
    order = tiles(html)
    by_name = items(web)
    assert len(order) == len(by_name) == 8
    # New material first (the 16-pixel icon last of it), then the known picture.
    assert by_name["known.jpg"].tier == 1
    assert order[-1] == by_name["known.jpg"].file_id
    assert order[-2] == by_name["icon.png"].file_id
    assert order[0] == by_name["cam1.jpg"].file_id
    assert "blurred picture" in html


def test_filters_select_what_they_say(web: Web) -> None:
    client = web.login("rita")
    by_name = items(web)
    serial = tiles(client.get(GALLERY, params={"serial": "SN-TEST-7"}).text)
    assert set(serial) == {by_name[n].file_id for n in ("cam1.jpg", "cam2.jpg", "cam3.jpg", "cam1-copy.jpg")}
    gps = tiles(client.get(GALLERY, params={"serial": "SN-TEST-7", "gps": "yes"}).text)
    assert set(gps) == {by_name[n].file_id for n in ("cam1.jpg", "cam2.jpg", "cam1-copy.jpg")}
    dated = tiles(client.get(GALLERY, params={"date_from": "2024-02-01", "date_to": "2024-02-28"}).text)
    assert dated == [by_name["cam2.jpg"].file_id]
    matched = tiles(client.get(GALLERY, params={"matched": "matched"}).text)
    assert matched == [by_name["known.jpg"].file_id]
    illegal = tiles(client.get(GALLERY, params={"category": "illegal"}).text)
    assert illegal == [by_name["known.jpg"].file_id]
    origin = tiles(client.get(GALLERY, params={"origin": "whatsapp"}).text)
    assert origin == [by_name["known.jpg"].file_id]
    assert client.get(GALLERY, params={"date_from": "yesterday"}).status_code == 400


def test_keyset_pages_cover_every_picture_once(web: Web, monkeypatch: object) -> None:
    from himaya.web.routes import gallery as gallery_route

    monkeypatch.setattr(gallery_route, "PAGE_SIZE", 3)  # type: ignore[attr-defined]
    client = web.login("rita")
    seen: list[int] = []
    html = client.get(GALLERY).text
    while True:
        seen += tiles(html)
        more = re.search(r'hx-get="([^"]+after=[^"]+)"', html)
        if not more:
            break
        html = client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).text
    assert sorted(seen) == sorted(i.file_id for i in items(web).values())
    assert len(seen) == len(set(seen))
    assert client.get(GALLERY, params={"after": "garbage!"}).status_code == 400


def test_pictures_are_blurred_and_grey_on_the_server(web: Web) -> None:
    client = web.login("rita")
    file_id = items(web)["cam1.jpg"].file_id
    response = client.get(f"/cases/{CASE}/files/{file_id}/thumb")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    blurred = Image.open(io.BytesIO(response.content))
    assert blurred.mode == "L"  # grey
    clear = client.get(f"/cases/{CASE}/files/{file_id}/clear", params={"reveal": 1})
    assert clear.status_code == 403  # not revealed: the clear picture is not sent


def test_reveal_one_at_a_time_and_every_served_picture_is_audited(web: Web) -> None:
    client = web.login("rita")
    by_name = items(web)
    first, second = by_name["cam1.jpg"].file_id, by_name["cam2.jpg"].file_id
    served = 0
    before = pictures_served(web)
    for file_id in (first, second, by_name["known.jpg"].file_id):
        assert client.get(f"/cases/{CASE}/files/{file_id}/thumb").status_code == 200
        served += 1
    token = csrf_of(client.get(GALLERY).text)
    shown = client.post(f"/cases/{CASE}/files/{first}/reveal", headers={"X-CSRF-Token": token})
    assert shown.status_code == 200
    clear_url = re.search(r'src="([^"]+/clear\?reveal=\d+)"', shown.text)
    assert clear_url
    clear = client.get(clear_url.group(1))
    assert clear.status_code == 200 and Image.open(io.BytesIO(clear.content)).mode == "RGB"
    served += 1
    # Revealing a second picture closes the first: its clear URL stops working, its tile is re-blurred.
    other = client.post(f"/cases/{CASE}/files/{second}/reveal", headers={"X-CSRF-Token": token})
    assert f'id="tile-{first}"' in other.text and "hx-swap-oob" in other.text
    assert client.get(clear_url.group(1)).status_code == 403
    second_url = re.search(r'src="([^"]+/clear\?reveal=\d+)"', other.text)
    assert second_url and client.get(second_url.group(1)).status_code == 200
    served += 1
    hidden = client.post(f"/cases/{CASE}/files/{second}/hide", headers={"X-CSRF-Token": token})
    assert hidden.status_code == 200 and "/clear?" not in hidden.text
    assert client.get(second_url.group(1)).status_code == 403
    assert pictures_served(web) - before == served
    with web.store.session() as session:
        reveals = session.scalars(select(Reveal).order_by(Reveal.id)).all()
    assert len(reveals) == 2 and all(r.hidden_at is not None and r.seconds is not None for r in reveals)
    exposure = client.get("/account").text
    assert re.search(r'id="my-reveals">2<', exposure)
    supervisor = web.login("sam").get("/exposure").text
    assert "rita" in supervisor


def test_categorising_covers_every_copy_and_keeps_history(web: Web) -> None:
    client = web.login("rita")
    by_name = items(web)
    original, copy = by_name["cam1.jpg"], by_name["cam1-copy.jpg"]
    token = csrf_of(client.get(GALLERY).text)
    response = client.post(
        f"/cases/{CASE}/categorise", data={"key": "3", "file_ids": [original.file_id], "csrf_token": token}
    )
    assert response.status_code == 200
    assert f'id="tile-{copy.file_id}"' in response.text  # the copy's tile is updated too
    after = items(web)
    assert after["cam1-copy.jpg"].category == "cgi" and after["cam1-copy.jpg"].reviewed
    client.post(
        f"/cases/{CASE}/categorise", data={"key": "1", "file_ids": [copy.file_id], "csrf_token": token}
    )
    with web.store.session() as session:
        history = session.scalars(
            select(Review).where(Review.sha256 == original.sha256).order_by(Review.id)
        ).all()
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "category_set")
        )
    assert [r.category for r in history] == ["cgi", "illegal"]
    assert events == 2
    page = client.get(f"/cases/{CASE}/files/{original.file_id}").text
    assert page.index("cgi") < page.index("illegal") or "CGI" in page
    assert "Backup/cam1-copy.jpg" in page  # every location of the content


def test_bulk_and_stack_decisions(web: Web) -> None:
    from himaya.review.stacks import build_stacks

    with web.store.transaction() as session:
        case_id = session.scalar(select(GalleryItem.case_id).limit(1))
        assert case_id is not None
        assert build_stacks(session, case_id) >= 1
    by_name = items(web)
    cam2, small = by_name["cam2.jpg"], by_name["cam2_small.jpg"]
    assert cam2.stack_id is not None and cam2.stack_id == small.stack_id
    client = web.login("rami")
    stack_page = client.get(GALLERY, params={"stack": cam2.stack_id}).text
    assert set(tiles(stack_page)) == {cam2.file_id, small.file_id}
    token = csrf_of(stack_page)
    response = client.post(
        f"/cases/{CASE}/categorise", data={"key": "0", "stack_id": cam2.stack_id, "csrf_token": token}
    )
    assert response.status_code == 200
    after = items(web)
    assert after["cam2.jpg"].category == after["cam2_small.jpg"].category == "non-pertinent"
    bulk = [by_name["cam3.jpg"].file_id, by_name["icon.png"].file_id]
    client.post(f"/cases/{CASE}/categorise", data={"key": "4", "file_ids": bulk, "csrf_token": token})
    after = items(web)
    assert after["cam3.jpg"].category == after["icon.png"].category == "comparison"
    with web.store.session() as session:
        vias = set(session.scalars(select(Review.via)))
    assert vias == {"stack", "bulk"}


def test_hostile_names_and_exif_render_inert(web: Web) -> None:
    client = web.login("rita")
    hostile = items(web)[f"{HOSTILE}.jpg"]
    for url in (GALLERY, f"/cases/{CASE}/files/{hostile.file_id}", f"{GALLERY}?path={HOSTILE}"):
        html = client.get(url).text
        assert HOSTILE not in html, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, url
    item_page = client.get(f"/cases/{CASE}/files/{hostile.file_id}").text
    assert item_page.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # path, EXIF make and model


def test_item_view_shows_digests_exif_matches_and_same_camera(web: Web) -> None:
    client = web.login("ivan")
    by_name = items(web)
    known = client.get(f"/cases/{CASE}/files/{by_name['known.jpg'].file_id}").text
    assert web.case.known_md5 in known
    assert "TEST-known" in known and "illegal" in known
    camera = client.get(f"/cases/{CASE}/files/{by_name['cam1.jpg'].file_id}").text
    assert "SN-TEST-7" in camera and "31.950000" in camera
    assert f'id="tile-{by_name["cam3.jpg"].file_id}"' in camera  # same camera serial


def test_two_person_rule_for_the_national_hash_set(web: Web) -> None:
    from himaya.store.models import HashEntry, HashProposal, HashSet

    rita = web.login("rita")
    file_id = items(web)["cam3.jpg"].file_id
    token = csrf_of(rita.get(GALLERY).text)
    rita.post(f"/cases/{CASE}/categorise", data={"key": "1", "file_ids": [file_id], "csrf_token": token})
    assert post_form(rita, f"/cases/{CASE}/files/{file_id}/propose", {}).status_code == 303
    with web.store.session() as session:
        proposal = session.scalars(select(HashProposal)).one()
    own = post_form(rita, f"/proposals/{proposal.id}/confirm", {}, page="/proposals")
    assert own.status_code == 400  # the proposer cannot confirm
    rami = web.login("rami")
    assert "cam3" in rami.get("/proposals").text or str(file_id) in rami.get("/proposals").text
    assert post_form(rami, f"/proposals/{proposal.id}/confirm", {}, page="/proposals").status_code == 303
    with web.store.session() as session:
        national = session.scalar(select(HashSet).where(HashSet.name == web.state.national_set))
        assert national is not None
        values = set(session.scalars(select(HashEntry.value).where(HashEntry.hash_set_id == national.id)))
        confirmed = session.get(HashProposal, proposal.id)
    assert confirmed is not None and confirmed.status == "confirmed" and confirmed.decided_by == "rami"
    assert items(web)["cam3.jpg"].sha256 in values


def test_case_page_counts_scans_and_report(web: Web) -> None:
    client = web.login("ivan")
    html = client.get(f"/cases/{CASE}").text
    assert re.search(r'id="count-pictures">8<', html)
    assert re.search(r'id="count-matched">1<', html)
    assert "finished" in html
    report = client.get(f"/cases/{CASE}/report")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    with web.store.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "report_downloaded")
            )
            == 1
        )


def test_audit_trail_page_filters(web: Web) -> None:
    web.login("rita").get(GALLERY)
    auditor = web.login("audrey")
    html = auditor.get("/audit", params={"actor": "rita", "action": "gallery_viewed"}).text
    assert 'id="chain-hash"' in html
    actions = re.findall(r'<td class="action">([^<]+)</td>', html)
    assert actions and set(actions) == {"gallery_viewed"}


def test_pictures_written_by_a_running_scan_reach_the_gallery_at_the_next_view(web: Web) -> None:
    """While a scan runs nobody refreshes the gallery: the page catches up with the newest pictures."""
    from sqlalchemy import delete

    newest = sorted(i.file_id for i in items(web).values())[-3:]
    with web.store.transaction() as session:
        session.execute(delete(GalleryItem).where(GalleryItem.file_id.in_(newest)))
    client = web.login("rita")
    progress = client.get(f"/cases/{CASE}/progress")
    assert progress.status_code == 200 and 'id="count-pictures">8<' in progress.text
    assert set(newest) <= set(tiles(client.get(GALLERY).text))


def test_the_trail_written_by_the_app_verifies_and_catches_an_edit(web: Web) -> None:
    from sqlalchemy import update

    from himaya.security.audit import checkpoint_path_for, verify

    client = web.login("rita")
    file_id = items(web)["cam1.jpg"].file_id
    client.get(GALLERY)
    client.get(f"/cases/{CASE}/files/{file_id}/thumb")
    with web.store.session() as session:
        assert verify(session, web.key, checkpoint_path_for(web.key_file)).ok
    with web.store.transaction() as session:  # someone hides that a picture was shown
        session.execute(
            update(AuditEvent).where(AuditEvent.action == "picture_shown").values(detail='{"variant":"none"}')
        )
    with web.store.session() as session:
        result = verify(session, web.key, checkpoint_path_for(web.key_file))
    assert not result.ok and result.problems
