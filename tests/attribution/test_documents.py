"""Request documents: what the HTML says in English and Arabic, and a PDF whose Arabic is shaped.

Documents are built from TEST values (documentation addresses, private-use AS numbers, TEST names). The
PDF is read back with pypdf (its text layer and embedded fonts) and fontTools (the glyphs used).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from himaya.attribution import documents
from himaya.attribution.documents import RequestDocument, RequestEvent
from himaya.errors import HimayaError, UsageError

pypdf = pytest.importorskip("pypdf")
ttlib = pytest.importorskip("fontTools.ttLib")

# Either side of the UK's change to summer time (29 March 2026, 01:00 UTC).
BEFORE_DST = RequestEvent(
    "203.0.113.66", 51234, datetime(2026, 3, 28, 21, 0, tzinfo=UTC), "Upload", "test-user-17"
)
AFTER_DST = RequestEvent("203.0.113.66", 51240, datetime(2026, 3, 29, 2, 30, tzinfo=UTC), "Login", None)
HOSTED = RequestEvent(
    "192.0.2.10", 40000, datetime(2026, 3, 27, 9, 0, tzinfo=UTC), "Upload", "test-user-3", ("hosting",)
)
AR_TITLE = "طلب معلومات مشترك"


def _document(**changes: Any) -> RequestDocument:
    values: dict[str, Any] = {
        "kind": "subscriber",
        "language": "en",
        "reference": "TEST-ISP-2026-000007",
        "date_utc": datetime(2026, 4, 1, 9, 30, tzinfo=UTC),
        "case_number": "TEST-CASE-42",
        "unit_name": "TEST Cyber Unit",
        "unit_email": "unit@example.org",
        "unit_phone": "+962 6 000 0000",
        "legal_basis": "TEST Article 1 of the TEST Cybercrime Law",
        "asn": 64520,
        "org": "TEST Home Broadband",
        "country": "JO",
        "ipdb": "Himaya-TEST-ASN-Country",
        "ipdb_built_utc": datetime(2026, 3, 1, tzinfo=UTC),
        "zone": "Europe/London",
        "events": (BEFORE_DST, AFTER_DST),
    }
    values.update(changes)
    return RequestDocument(**values)


def _pdf_text_and_fonts(pdf: bytes) -> tuple[str, set[str], set[str]]:
    """The text layer, the embedded fonts' names and the names of the glyphs they hold."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    names: set[str] = set()
    glyphs: set[str] = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            names.add(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                embedded = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
                if embedded is not None:
                    glyphs.update(ttlib.TTFont(io.BytesIO(embedded.get_object().get_data())).getGlyphOrder())
    return text, names, glyphs


def test_local_time_follows_daylight_saving_of_the_units_zone() -> None:
    assert (
        documents.local_time(BEFORE_DST.time_utc, "Europe/London").isoformat() == "2026-03-28T21:00:00+00:00"
    )
    assert (
        documents.local_time(AFTER_DST.time_utc, "Europe/London").isoformat() == "2026-03-29T03:30:00+01:00"
    )
    assert documents.local_time(BEFORE_DST.time_utc, "Asia/Amman").isoformat() == "2026-03-29T00:00:00+03:00"
    with pytest.raises(ValueError, match="no time zone"):
        documents.local_time(datetime(2026, 3, 28, 21, 0), "Europe/London")


def test_the_english_request_lists_every_event_with_utc_and_local_time() -> None:
    html = documents.render_html(_document())
    assert html.startswith("<!doctype html>") and '<html lang="en" dir="ltr">' in html
    for value in (
        "Request for subscriber information",
        "TEST-ISP-2026-000007",
        "TEST-CASE-42",
        "TEST Home Broadband",
        "AS64520",
        "TEST Article 1 of the TEST Cybercrime Law",
        "2026-03-01",  # the IP database's build date, beside the answer it gave
        "Local time (Europe/London)",
    ):
        assert value in html, value
    rows = re.findall(r"<tr><td>\d+</td>.*?</tr>", html)
    assert len(rows) == 2
    assert (
        "51234" in rows[0]
        and "2026-03-28 21:00:00</bdi>" in rows[0]
        and "2026-03-28 21:00:00 +00:00" in rows[0]
    )
    assert (
        "51240" in rows[1]
        and "2026-03-29 02:30:00</bdi>" in rows[1]
        and "2026-03-29 03:30:00 +01:00" in rows[1]
    )
    assert "test-user-17" in rows[0] and "—" in rows[1]  # an event without account says so
    assert 'class="warning"' not in html
    assert "<link" not in html and "src=" not in html and "url(" not in html  # nothing to fetch


def test_the_arabic_request_is_right_to_left_with_values_isolated_left_to_right() -> None:
    html = documents.render_html(_document(language="ar", legal_basis="المادة 1 من القانون التجريبي"))
    assert '<html lang="ar" dir="rtl">' in html and AR_TITLE in html
    for value in (
        "203.0.113.66",
        "51234",
        "2026-03-29 03:30:00 +01:00",
        "TEST-ISP-2026-000007",
        "TEST-CASE-42",
    ):
        assert f'<bdi dir="ltr" class="v">{value}</bdi>' in html, value
    assert "السند القانوني" in html and "المادة 1 من القانون التجريبي" in html
    assert "الوقت المحلي" in html and "رقم القضية" in html


def test_a_preservation_request_and_the_subscriber_request_that_follows_it() -> None:
    preservation = documents.render_html(_document(kind="preservation"))
    assert (
        "Request to preserve subscriber data" in preservation and "pending a formal request" in preservation
    )
    follows = documents.render_html(_document(preservation_references=("TEST-ISP-2026-000003",)))
    assert "Further to our preservation request" in follows and "TEST-ISP-2026-000003" in follows
    assert "طلب حفظ بيانات مشترك" in documents.render_html(_document(kind="preservation", language="ar"))


def test_hosting_and_shared_addresses_carry_their_warning_and_note() -> None:
    shared = RequestEvent(
        "100.64.3.7", 40002, datetime(2026, 3, 25, 7, 0, tzinfo=UTC), "Upload", None, ("shared-address",)
    )
    html = documents.render_html(_document(events=(BEFORE_DST, HOSTED, shared)))
    assert 'class="warning"' in html and "hosting customer" in html
    assert re.search(r"organisation holding .*192\.0\.2\.10", html)
    assert "the source port identifies the subscriber" in html
    arabic = documents.render_html(_document(language="ar", events=(HOSTED,)))
    assert 'class="warning"' in arabic and "عميلًا لدى هذه الجهة" in arabic


def test_a_referral_never_names_the_case_and_lists_each_events_network() -> None:
    abroad = RequestEvent(
        "192.0.2.200",
        40001,
        datetime(2026, 3, 26, 8, 0, tzinfo=UTC),
        "Upload",
        None,
        ("abroad",),
        64530,
        "TEST Net",
    )
    referral = _document(
        kind="referral", case_number=None, partner="TEST Interpol NCB", country="NL", events=(abroad,)
    )
    for language in ("en", "ar"):
        html = documents.render_html(RequestDocument(**{**referral.__dict__, "language": language}))
        assert "TEST Interpol NCB" in html and "AS64530" in html and "TEST Net" in html
        assert "TEST-CASE" not in html
    with pytest.raises(UsageError, match="must not name the case"):
        documents.render_html(_document(kind="referral", partner="TEST Interpol NCB"))


def test_outside_values_cannot_add_markup_or_reorder_the_text() -> None:
    hostile = RequestEvent(
        "203.0.113.66",
        1,
        BEFORE_DST.time_utc,
        "Upload<script>alert(1)</script>",
        "test\u202euser\nX-Header: 1",
    )
    html = documents.render_html(_document(org='TEST <img src="http://127.0.0.2:9/x">', events=(hostile,)))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    assert "\u202e" not in html and "test\\u202euser\\nX-Header: 1" in html


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"events": ()}, "no IP event"),
        ({"language": "fr"}, "en or ar"),
        ({"kind": "removal"}, "unknown request kind"),
    ],
)
def test_a_document_that_cannot_be_written_is_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        documents.render_html(_document(**changes))


def test_the_english_pdf_holds_every_value() -> None:
    pdf = documents.render_pdf(documents.render_html(_document()))
    assert pdf.startswith(b"%PDF")
    text, fonts, _ = _pdf_text_and_fonts(pdf)
    assert any("DejaVu" in name for name in fonts)
    for value in ("TEST-ISP-2026-000007", "TEST-CASE-42", "203.0.113.66", "51240", "2026-03-29 03:30:00"):
        assert value in text, value


def test_the_arabic_pdf_is_shaped_in_dejavu_and_its_text_layer_holds_the_arabic_words() -> None:
    html = documents.render_html(_document(language="ar", legal_basis="المادة 1 من القانون التجريبي"))
    pdf = documents.render_pdf(html)
    assert pdf.startswith(b"%PDF")
    text, fonts, glyphs = _pdf_text_and_fonts(pdf)
    assert any("DejaVu" in name for name in fonts), fonts
    for words in (AR_TITLE, "رقم القضية", "السند القانوني"):
        assert words in text, words
    assert "203.0.113.66" in text and "TEST-CASE-42" in text
    # Shaped: the letters are drawn with their joined (initial / medial / final) forms, the glyphs of the
    # Arabic Presentation Forms-B block in DejaVu Sans, not the isolated letters of U+0600-U+06FF.
    presentation = {name for name in glyphs if re.fullmatch(r"uniFE[7-9A-F][0-9A-F]", name)}
    assert len(presentation) >= 10, sorted(glyphs - {".notdef"})[:40]


def test_nothing_is_ever_fetched_while_writing_the_pdf() -> None:
    for resource in (
        '<img src="http://127.0.0.2:9/TEST.png">',
        '<link rel="stylesheet" href="file:///etc/hostname">',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
    ):
        with pytest.raises(HimayaError, match="names an outside resource"):
            documents.render_pdf(f"<html><body><p>TEST</p>{resource}</body></html>", what="TEST-1")


def test_making_a_pdf_leaves_pillow_strict_about_truncated_pictures() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    documents.render_pdf("<html><body><p>TEST</p></body></html>", what="a TEST page")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # WeasyPrint's import turns it on; it is put back


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("kind", ["subscriber", "referral"])
def test_requests_and_referrals_carry_the_same_warnings(kind: str, language: str) -> None:
    hosting = RequestEvent(
        "192.0.2.10", 40000, datetime(2026, 3, 27, 9, 0, tzinfo=UTC), "Upload", None, flags=("hosting",)
    )
    proxy = RequestEvent(
        "203.0.113.5", 1, datetime(2026, 3, 27, 9, 5, tzinfo=UTC), "Login", None, flags=("proxy-reported",)
    )
    changes: dict[str, Any] = {"kind": kind, "language": language, "events": (hosting, proxy)}
    if kind == "referral":
        changes.update(case_number=None, partner="TEST Interpol channel")
    html = documents.render_html(_document(**changes))
    assert html.count('class="warning"') == 1
    assert '<bdi dir="ltr" class="v">192.0.2.10</bdi>' in html
    assert '<bdi dir="ltr" class="v">203.0.113.5</bdi>' in html
    plain = _document(
        kind=kind, language=language, **({"case_number": None, "partner": "P"} if kind == "referral" else {})
    )
    assert 'class="warning"' not in documents.render_html(plain)
