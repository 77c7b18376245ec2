"""CyberTipline-style reports: XML and JSON read to the same TipReport; hostile XML refused; a file with
one bad element refused whole, the element named.

Every report is a TEST report built by tests/builders/tips.py: synthetic accounts, documentation
addresses, digests of benign strings.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from himaya.attribution.cybertip import read_cybertip_json, read_cybertip_xml
from himaya.attribution.reports import Identifier, IpEvent, TipReport
from himaya.errors import TipFormatError
from tests.builders.tips import (
    BILLION_LAUGHS_XML,
    EXTERNAL_DTD_XML,
    SUSPECT_ACCOUNT,
    SUSPECT_IP,
    XXE_XML,
    cybertip_json,
    cybertip_xml,
    ip_capture,
    md5_of,
    sample_report,
    sha1_of,
)


def _placeless(event: IpEvent) -> IpEvent:
    return replace(event, source="")


def placeless(report: TipReport) -> TipReport:
    """The report without what differs by container: format, file name, element path vs JSON pointer."""
    return replace(
        report,
        source_format="",
        source_name="",
        events=tuple(map(_placeless, report.events)),
        persons=tuple(replace(p, events=tuple(map(_placeless, p.events))) for p in report.persons),
        files=tuple(replace(f, events=tuple(map(_placeless, f.events))) for f in report.files),
    )


def refused_xml(data: bytes) -> TipFormatError:
    with pytest.raises(TipFormatError) as caught:
        read_cybertip_xml(data, "TEST-tip.xml")
    return caught.value


def refused_json(data: bytes) -> TipFormatError:
    with pytest.raises(TipFormatError) as caught:
        read_cybertip_json(data, "TEST-tip.json")
    return caught.value


# --- what is read ------------------------------------------------------------------------------------


def test_xml_and_json_of_the_same_report_give_equal_reports() -> None:
    second = sample_report("TEST-1002")
    second["personOrUserReported"]["ipCaptureEvent"] = [
        ip_capture("192.0.2.200", "2026-04-01T10:00:00+02:00")
    ]
    from_xml = read_cybertip_xml(cybertip_xml(sample_report(), second), "TEST-tips.xml")
    from_json = read_cybertip_json(cybertip_json(sample_report(), second), "TEST-tips.json")
    assert [r.source_format for r in from_xml] == ["cybertip-xml", "cybertip-xml"]
    assert [r.source_format for r in from_json] == ["cybertip-json", "cybertip-json"]
    assert [placeless(r) for r in from_xml] == [placeless(r) for r in from_json]
    assert from_xml[1].report_id == "TEST-1002"
    assert from_xml[1].persons[0].events[0].ip == "192.0.2.200"


@pytest.mark.parametrize("wrap", [True, False])
def test_a_bare_report_object_reads_like_a_wrapped_one(wrap: bool) -> None:
    reports = read_cybertip_json(cybertip_json(sample_report(), wrap=wrap), "TEST-tip.json")
    assert [placeless(r) for r in reports] == [
        placeless(r) for r in read_cybertip_xml(cybertip_xml(sample_report()), "TEST-tip.xml")
    ]


def test_the_report_as_read() -> None:
    (report,) = read_cybertip_xml(cybertip_xml(), "TEST-tip.xml")
    assert report.source_name == "TEST-tip.xml"
    assert report.report_id == "TEST-1001"
    assert report.esp == "TEST Platform Inc."
    assert report.incident_type == "Child Pornography (possession, manufacture, and distribution)"
    assert report.incident_time_utc == datetime(2026, 3, 29, 2, 15, tzinfo=UTC)
    assert report.summary == "TEST report: synthetic data for the reader tests."
    assert [p.role for p in report.persons] == ["reported", "recipient", "victim"]
    reported, recipient, victim = report.persons
    assert reported.names == ("Test Suspect",)
    assert reported.identifiers == (
        Identifier("email", "test-user-17@example.org"),
        Identifier("phone", "+962790000017"),
        Identifier("user_id", SUSPECT_ACCOUNT),
        Identifier("screen_name", "test_screen_17"),
        Identifier("display_name", "Test Display 17"),
        Identifier("profile_url", "https://photos.example.org/u/test-user-17"),
        Identifier("device_id", "IMEI:TEST-IMEI-0017"),
        Identifier("email", "test-user-17-alt@example.net"),
        Identifier("account", "test-user-17-alt"),
    )
    assert recipient.identifiers == (
        Identifier("email", "test-recipient-3@example.net"),
        Identifier("user_id", "test-user-3"),
    )
    assert victim.names == ("Test Victim",)
    assert victim.identifiers == (Identifier("screen_name", "test_victim_9"),)


def test_ip_capture_events() -> None:
    (report,) = read_cybertip_xml(cybertip_xml(), "TEST-tip.xml")
    first, v6, cgnat, linked = report.persons[0].events
    assert first == IpEvent(
        ip=SUSPECT_IP,
        port=51234,
        time_utc=datetime(2026, 3, 28, 21, 0, tzinfo=UTC),
        original_time="2026-03-28T21:00:00Z",
        original_zone="Z",
        zone_assumed=False,
        event="Login",
        account=SUSPECT_ACCOUNT,
        service="TEST Photo Share",
        possible_proxy=False,
        filename=None,
        md5=None,
        sha1=None,
        sha256=None,
        source="TEST-tip.xml:/report/personOrUserReported/ipCaptureEvent[1]",
    )
    assert (v6.ip, v6.port, v6.time_utc, v6.original_zone) == (
        "2001:db8::1",
        443,
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        "+01:00",
    )
    assert (cgnat.ip, cgnat.port, cgnat.event) == ("100.64.12.34", 40123, "Registration")
    assert (linked.ip, linked.account) == ("198.51.100.17", "test-user-17-alt")
    # Flattened: persons' events, then the files', then those of the incident itself (peer to peer).
    assert report.events[:4] == report.persons[0].events
    assert report.events[4] == report.persons[1].events[0]
    assert report.events[5] == report.files[0].events[0]
    p2p = report.events[6]
    assert (p2p.ip, p2p.account, p2p.service) == ("203.0.113.99", None, "TEST P2P Client")
    assert len(report.events) == 7


def test_reported_files() -> None:
    (report,) = read_cybertip_json(cybertip_json(), "TEST-tip.json")
    (reported,) = report.files
    assert reported.filename == "TEST-holiday-1.jpg"  # the name the user uploaded it under
    assert reported.url == "https://photos.example.org/p/1"
    assert (reported.md5, reported.sha1, reported.sha256) == (md5_of("file 1"), sha1_of("file 1"), None)
    assert reported.classification == "A1"
    assert (reported.viewed_by_esp, reported.publicly_available) == (True, False)
    (upload,) = reported.events
    assert upload.event == "Upload"  # the schema's meaning of a file's ipCaptureEvent without eventName
    assert (upload.ip, upload.port, upload.account) == (SUSPECT_IP, 51240, SUSPECT_ACCOUNT)
    assert (upload.filename, upload.md5, upload.sha1) == (
        "TEST-holiday-1.jpg",
        md5_of("file 1"),
        sha1_of("file 1"),
    )
    assert upload.source == "TEST-tip.json:/reports/0/fileDetails/0/ipCaptureEvent"


def test_file_details_beside_their_report_are_joined_by_report_id() -> None:
    report = sample_report("TEST-2001")
    file_details = report.pop("fileDetails")[0]
    body = cybertip_xml(report).decode().split("\n", 1)[1]
    file_xml = "".join(
        [
            "<fileDetails><reportId>TEST-2001</reportId>",
            f"<originalFileName>{file_details['originalFileName']}</originalFileName>",
            f'<originalFileHash hashType="MD5">{md5_of("file 1")}</originalFileHash>',
            "</fileDetails>",
        ]
    )
    data = f"<tips>{body}{file_xml}</tips>".encode()
    (read,) = read_cybertip_xml(data, "TEST-tip.xml")
    assert [(f.filename, f.md5) for f in read.files] == [("TEST-holiday-1.jpg", md5_of("file 1"))]


def test_file_details_for_a_report_not_in_the_file_are_refused() -> None:
    data = b"<tips><report><reportId>TEST-1</reportId></report><fileDetails><reportId>TEST-9</reportId>" + (
        b"</fileDetails></tips>"
    )
    error = refused_xml(data)
    assert error.where == "/tips/fileDetails"
    assert "TEST-9" in error.problem


def test_a_namespace_does_not_hide_the_elements() -> None:
    data = cybertip_xml(sample_report(), namespace="https://report.example.org/ispws")
    (report,) = read_cybertip_xml(data, "TEST-tip.xml")
    assert report.report_id == "TEST-1001"
    assert len(report.events) == 7


def test_a_report_without_persons_or_files_is_read() -> None:
    (report,) = read_cybertip_json(
        b'{"reportId": 4242, "incidentSummary": {"incidentType": "Other"}}', "t.json"
    )
    assert (report.report_id, report.incident_type, report.persons, report.events) == (
        "4242",
        "Other",
        (),
        (),
    )


# --- hostile XML -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [XXE_XML, BILLION_LAUGHS_XML, EXTERNAL_DTD_XML], ids=["xxe", "laughs", "dtd"]
)
def test_hostile_xml_is_refused_for_safety(data: bytes) -> None:
    error = refused_xml(data)
    assert "refused for safety" in str(error)
    assert "DTD" in str(error)
    assert "root:" not in str(error)  # nothing of /etc/passwd made it into the message
    assert error.exit_code == 1


def test_xml_that_is_not_well_formed_names_the_line() -> None:
    error = refused_xml(b"<report>\n<reportId>TEST-1</reportId>\n<incidentSummary>\n</report>\n")
    assert error.where == "line 4"
    assert "not well-formed" in error.problem


# --- refused whole, the element named ----------------------------------------------------------------


def _half_valid(bad_capture: dict[str, Any]) -> list[dict[str, Any]]:
    second = sample_report("TEST-1002")
    second["personOrUserReported"]["ipCaptureEvent"].append(bad_capture)
    return [sample_report(), second]


@pytest.mark.parametrize(
    ("bad_capture", "xml_where", "json_where", "says"),
    [
        (
            ip_capture("203.0.113.300", "2026-03-28T21:00:00Z"),
            "/reports/report[2]/personOrUserReported/ipCaptureEvent[4]/ipAddress",
            "/reports/1/personOrUserReported/ipCaptureEvent/3/ipAddress",
            "not an IP address",
        ),
        (
            ip_capture(SUSPECT_IP, "2026-03-28T21:00:00"),
            "/reports/report[2]/personOrUserReported/ipCaptureEvent[4]/dateTime",
            "/reports/1/personOrUserReported/ipCaptureEvent/3/dateTime",
            "has no zone",
        ),
        (
            ip_capture(SUSPECT_IP, "2026-03-28T21:00:00Z", port=70000),
            "/reports/report[2]/personOrUserReported/ipCaptureEvent[4]/port",
            "/reports/1/personOrUserReported/ipCaptureEvent/3/port",
            "out of range",
        ),
        (
            {"ipAddress": SUSPECT_IP, "eventName": "Login"},
            "/reports/report[2]/personOrUserReported/ipCaptureEvent[4]",
            "/reports/1/personOrUserReported/ipCaptureEvent/3",
            "without dateTime",
        ),
        (
            ip_capture(SUSPECT_IP, "2026-03-28T21:00:00Z", possibleProxy="perhaps"),
            "/reports/report[2]/personOrUserReported/ipCaptureEvent[4]/possibleProxy",
            "/reports/1/personOrUserReported/ipCaptureEvent/3/possibleProxy",
            "not a yes/no value",
        ),
    ],
    ids=["address", "no-zone", "port", "no-time", "proxy"],
)
def test_a_good_report_then_a_bad_capture_refuses_the_whole_file(
    bad_capture: dict[str, Any], xml_where: str, json_where: str, says: str
) -> None:
    reports = _half_valid(bad_capture)
    from_xml = refused_xml(cybertip_xml(*reports))
    assert (from_xml.source, from_xml.where) == ("TEST-tip.xml", xml_where)
    assert says in from_xml.problem
    from_json = refused_json(cybertip_json(*reports))
    assert (from_json.source, from_json.where) == ("TEST-tip.json", json_where)
    assert says in from_json.problem
    assert str(from_json).startswith(f"TEST-tip.json: {json_where}: ")


def test_a_time_without_zone_says_cybertipline_times_carry_one() -> None:
    report = sample_report()
    report["incidentSummary"]["incidentDateTime"] = "2026-03-28 22:15:00"
    error = refused_xml(cybertip_xml(report))
    assert error.where == "/report/incidentSummary/incidentDateTime"
    assert "always carries its offset" in error.hint


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (
            lambda f: f.update(industryClassification="C9"),
            "/fileDetails/industryClassification",
            "A1, A2, B1, B2",
        ),
        (
            lambda f: f["originalFileHash"].append({"hashType": "SHA-256", "value": "abc"}),
            "/fileDetails/originalFileHash[4]",
            "not 64 hex digits",
        ),
        (
            lambda f: f["originalFileHash"].append({"hashType": "md5", "value": md5_of("other")}),
            "/fileDetails/originalFileHash[4]",
            "two different MD5",
        ),
        (lambda f: f.update(fileViewedByEsp="maybe"), "/fileDetails/fileViewedByEsp", "yes/no"),
    ],
    ids=["classification", "short-sha256", "two-md5", "viewed"],
)
def test_bad_file_details_are_refused(change: Any, where: str, says: str) -> None:
    report = sample_report()
    change(report["fileDetails"][0])
    error = refused_xml(cybertip_xml(report))
    assert error.where == "/report" + where
    assert says in error.problem


def test_an_element_given_twice_where_one_is_allowed_is_refused() -> None:
    data = b"<report><incidentSummary/><incidentSummary/></report>"
    error = refused_xml(data)
    assert error.where == "/report/incidentSummary[2]"
    assert "appears 2 times" in error.problem


@pytest.mark.parametrize(
    ("data", "where", "says"),
    [
        (b"[]", None, "no report"),
        (b"[1, 2]", "/0", "expected a report object"),
        (b'"report"', None, "expected a report object"),
        (b'{"reportId": ["TEST-1", "TEST-2"]}', "/reportId/1", "appears 2 times"),
        (b'{"reportId": {"nested": 1}}', "/reportId", 'without "value"'),
        (b'{"incidentSummary": {"incidentType": [[1]]}}', "/incidentSummary/incidentType/0", "single value"),
        (b'{"reportId": "TEST-1",\n "x": }', "line 2", "not valid JSON"),
        (b'{"reportId": "TEST-\xff"}', "line 1", "not UTF-8"),
    ],
)
def test_json_shapes_that_are_refused(data: bytes, where: str | None, says: str) -> None:
    error = refused_json(data)
    assert error.where == where
    assert says in error.problem


@pytest.mark.parametrize(
    ("data", "where", "says"),
    [
        (b"<tips><note/></tips>", None, "no report"),
        (b"<report><reportId><n>1</n></reportId></report>", "/report/reportId", "nested elements"),
    ],
)
def test_xml_shapes_that_are_refused(data: bytes, where: str | None, says: str) -> None:
    error = refused_xml(data)
    assert error.where == where
    assert says in error.problem


def test_the_input_is_not_changed() -> None:
    report = sample_report()
    before = copy.deepcopy(report)
    read_cybertip_json(cybertip_json(report), "t.json")
    assert report == before
