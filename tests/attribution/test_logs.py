"""Upload logs and access logs: every accepted shape, zones applied right, one bad line refusing all.

All lines are TEST lines from tests/builders/tips.py: documentation and CGNAT addresses, test-user-N
accounts, digests of benign strings.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from himaya.attribution.logs import read_access_log, read_upload_log
from himaya.attribution.reports import IpEvent, TipReport
from himaya.errors import TipFormatError, UsageError
from tests.builders.tips import (
    NOISE_IPS,
    SUSPECT_ACCOUNT,
    SUSPECT_IP,
    access_line,
    access_log,
    md5_of,
    sha256_of,
    six_hundred_uploads,
    upload_log_csv,
    upload_log_json,
    upload_row,
)


def read_csv(data: bytes, default_zone: str | None = None) -> TipReport:
    return read_upload_log(data, "TEST-uploads.csv", fmt="csv", default_zone=default_zone)


def refused_csv(data: bytes, default_zone: str | None = None) -> TipFormatError:
    with pytest.raises(TipFormatError) as caught:
        read_csv(data, default_zone)
    return caught.value


def refused_access(data: bytes) -> TipFormatError:
    with pytest.raises(TipFormatError) as caught:
        read_access_log(data, "TEST-access.log", service=None)
    return caught.value


# --- upload logs: CSV --------------------------------------------------------------------------------


def test_an_upload_row_as_read() -> None:
    report = read_csv(upload_log_csv([upload_row(SUSPECT_IP, "2026-03-28T10:15:00+03:00", port=51234)]))
    assert (report.source_format, report.source_name, report.report_id, report.persons) == (
        "upload-csv",
        "TEST-uploads.csv",
        None,
        (),
    )
    assert report.events == (
        IpEvent(
            ip=SUSPECT_IP,
            port=51234,
            time_utc=datetime(2026, 3, 28, 7, 15, tzinfo=UTC),
            original_time="2026-03-28T10:15:00+03:00",
            original_zone="+03:00",
            zone_assumed=False,
            event="Upload",
            account=SUSPECT_ACCOUNT,
            service="TEST Photo Share",
            possible_proxy=None,
            filename="TEST-upload.jpg",
            md5=md5_of("upload"),
            sha1=None,
            sha256=sha256_of("upload"),
            source="TEST-uploads.csv:line 2",
        ),
    )


def test_header_variants_bom_crlf_and_semicolons() -> None:
    names = {
        "ip": " IP Address ",
        "port": "Source_Port",
        "timestamp": "date_time",
        "account": "User",
        "filename": "File Name",
        "md5": "MD5",
        "sha256": "SHA-256",
        "event": "Action",
    }
    rows = [upload_row(SUSPECT_IP, "2026-03-28 10:15:00Z", port=51234, event="LOGIN")]
    data = upload_log_csv(rows, names=names, delimiter=";", newline="\r\n", bom=True)
    (event,) = read_csv(data).events
    assert (event.ip, event.port, event.account, event.filename, event.event) == (
        SUSPECT_IP,
        51234,
        SUSPECT_ACCOUNT,
        "TEST-upload.jpg",
        "Login",
    )
    assert (event.md5, event.sha256, event.time_utc) == (
        md5_of("upload"),
        sha256_of("upload"),
        datetime(2026, 3, 28, 10, 15, tzinfo=UTC),
    )


def test_src_port_and_time_spellings() -> None:
    data = b"Time,SRC-PORT,client ip,username\n2026-03-28T10:15:00Z,40001,100.64.0.9,test-user-2\n"
    (event,) = read_csv(data).events
    assert (event.ip, event.port, event.account, event.event, event.filename) == (
        "100.64.0.9",
        40001,
        "test-user-2",
        "Upload",  # the default event of an upload log
        None,
    )


def test_address_with_port_in_the_ip_column() -> None:
    data = b"ip,timestamp\n[2001:db8::1]:51234,2026-03-28T10:15:00Z\n100.64.1.1:40000,2026-03-28T10:16:00Z\n"
    assert [(e.ip, e.port) for e in read_csv(data).events] == [("2001:db8::1", 51234), ("100.64.1.1", 40000)]


def test_a_bad_line_refuses_the_whole_log_naming_it() -> None:
    rows = [upload_row("198.51.100.7", f"2026-03-28T10:{i % 60:02d}:00Z", seed=f"{i}") for i in range(2000)]
    rows[1232]["ip"] = "198.51.100.999"  # the 1,233rd row is line 1234 (the header is line 1)
    error = refused_csv(upload_log_csv(rows))
    assert (error.source, error.where) == ("TEST-uploads.csv", "line 1234")
    assert "'198.51.100.999' is not an IP address" in error.problem
    assert "nothing was imported" in error.hint
    assert "no option skips lines" in error.hint
    assert str(error).startswith("TEST-uploads.csv: line 1234: ")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"timestamp": "28/03/2026 10:15"}, "not an ISO-8601"),
        ({"timestamp": ""}, "no time"),
        ({"ip": ""}, "no IP address"),
        ({"port": "http"}, "not a number"),
        ({"md5": "abc"}, "md5 'abc' is not 32 hex digits"),
        ({"sha256": "z" * 64}, "not 64 hex digits"),
        ({"ip": "192.0.2.1:5000", "port": "5001"}, "port 5000"),
    ],
)
def test_bad_values_are_refused(change: dict[str, str], says: str) -> None:
    row = upload_row(SUSPECT_IP, "2026-03-28T10:15:00Z", port=51234)
    row.update(change)
    error = refused_csv(upload_log_csv([upload_row(SUSPECT_IP, "2026-03-28T10:00:00Z"), row]))
    assert error.where == "line 3"
    assert says in error.problem


def test_more_fields_than_the_header_names_is_refused() -> None:
    error = refused_csv(b"ip,timestamp\n192.0.2.1,2026-03-28T10:15:00Z,holiday,1.jpg\n")
    assert error.where == "line 2"
    assert "4 fields where the header names 2" in error.problem


@pytest.mark.parametrize(
    ("data", "where", "says"),
    [
        (b"address,when\n192.0.2.1,2026-03-28T10:15:00Z\n", "line 1", "no ip and no timestamp"),
        (b"ip,user,username,timestamp\n", "line 1", "both hold account"),
        (b"", None, "no header row"),
        (b"ip,timestamp\n", None, "no lines"),
        (b"ip,timestamp\n192.0.2.1,2026-03-28T10:15:00\xff\n", "line 2", "not UTF-8"),
    ],
)
def test_logs_that_cannot_be_read(data: bytes, where: str | None, says: str) -> None:
    error = refused_csv(data)
    assert error.where == where
    assert says in error.problem


# --- zones -------------------------------------------------------------------------------------------


def test_without_zone_or_default_the_line_is_refused_with_how_to_give_one() -> None:
    error = refused_csv(upload_log_csv([upload_row(SUSPECT_IP, "2026-03-28 10:15:00")]))
    assert error.where == "line 2"
    assert "no zone" in error.problem
    assert "--timezone" in error.hint


def test_the_default_zone_is_applied_only_where_none_is_written() -> None:
    rows = [
        upload_row(SUSPECT_IP, "2026-03-28 10:15:00"),
        upload_row(SUSPECT_IP, "2026-03-28T10:15:00+01:00"),
    ]
    assumed, written = read_csv(upload_log_csv(rows), "Asia/Amman").events
    assert (assumed.time_utc, assumed.original_zone, assumed.zone_assumed) == (
        datetime(2026, 3, 28, 7, 15, tzinfo=UTC),  # Jordan keeps UTC+3 all year since 2022
        None,
        True,
    )
    assert (written.time_utc, written.original_zone, written.zone_assumed) == (
        datetime(2026, 3, 28, 9, 15, tzinfo=UTC),
        "+01:00",
        False,
    )


def test_daylight_saving_in_the_default_zone() -> None:
    # Europe/London goes from GMT to BST at 01:00 UTC on 2026-03-29: 09:00 either side is another UTC hour.
    rows = [
        upload_row(SUSPECT_IP, "2026-03-28 09:00:00"),
        upload_row(SUSPECT_IP, "2026-03-29 00:30:00"),
        upload_row(SUSPECT_IP, "2026-03-29 02:30:00"),
        upload_row(SUSPECT_IP, "2026-03-30 09:00:00"),
    ]
    times = [e.time_utc for e in read_csv(upload_log_csv(rows), "Europe/London").events]
    assert times == [
        datetime(2026, 3, 28, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 8, 0, tzinfo=UTC),
    ]


def test_a_skipped_wall_clock_time_is_refused_naming_the_line() -> None:
    rows = [upload_row(SUSPECT_IP, "2026-03-29 00:30:00"), upload_row(SUSPECT_IP, "2026-03-29 01:30:00")]
    error = refused_csv(upload_log_csv(rows), "Europe/London")
    assert error.where == "line 3"
    assert "does not exist" in error.problem


def test_an_unknown_default_zone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--timezone"):
        read_csv(upload_log_csv([upload_row(SUSPECT_IP, "2026-03-28 10:00:00")]), "Asia/Atlantis")


# --- upload logs: JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [False, True], ids=["array", "json-lines"])
def test_json_upload_logs_read_like_csv(lines: bool) -> None:
    rows = [
        upload_row(SUSPECT_IP, "2026-03-28T10:15:00+03:00", port=51234),
        upload_row("2001:DB8::5", "2026-03-28T10:16:00Z", event="Login"),
    ]
    from_csv = read_csv(upload_log_csv(rows)).events
    from_json = read_upload_log(
        upload_log_json(rows, lines=lines), "TEST-uploads.json", fmt="json", default_zone=None
    ).events
    assert [replace(e, source="") for e in from_json] == [replace(e, source="") for e in from_csv]
    assert from_json[1].ip == "2001:db8::5"
    assert from_json[1].source == ("TEST-uploads.json:line 2" if lines else "TEST-uploads.json:/1")


def test_json_numbers_and_nulls() -> None:
    data = b'[{"ip": "100.64.0.1", "src_port": 40001, "timestamp": "2026-03-28T10:15:00Z", "md5": null}]'
    (event,) = read_upload_log(data, "t.json", fmt="json", default_zone=None).events
    assert (event.port, event.md5) == (40001, None)


@pytest.mark.parametrize(
    ("data", "where", "says"),
    [
        (b'[{"ip": "100.64.0.1", "timestamp": "2026-03-28T10:15:00Z"}, {"ip": "x", "timestamp": "y"}]',
         "/1 (record 2)", "not an IP address"),
        (b'[{"ip": "100.64.0.1", "timestamp": "2026-03-28T10:15:00Z"}, 7]',
         "/1 (record 2)", "expected an object"),
        (b'{"ip": "100.64.0.1", "timestamp": "2026-03-28T10:15:00Z"}\n{"ip": "100.64.0.1", "timestamp": \n',
         "line 2", "not valid JSON"),
        (b'{"ip": ["100.64.0.1"], "timestamp": "2026-03-28T10:15:00Z"}\n', "line 1", "holds a JSON list"),
    ],
)  # fmt: skip
def test_json_upload_logs_that_are_refused(data: bytes, where: str, says: str) -> None:
    with pytest.raises(TipFormatError) as caught:
        read_upload_log(data, "t.json", fmt="json", default_zone=None)
    assert caught.value.where == where
    assert says in caught.value.problem


def test_an_unknown_upload_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        read_upload_log(b"", "t", fmt="xlsx", default_zone=None)


def test_six_hundred_uploads_from_one_address_are_counted() -> None:
    report = read_csv(six_hundred_uploads())
    assert len(report.events) == 1500
    suspect = [e for e in report.events if e.ip == SUSPECT_IP and e.event == "Upload"]
    assert len(suspect) == 600
    assert {e.account for e in suspect} == {SUSPECT_ACCOUNT}
    assert len({e.md5 for e in suspect}) == 600
    assert {e.original_zone for e in report.events} == {"+00:00", "+03:00", "-04:00"}
    assert {e.ip for e in report.events} - {SUSPECT_IP} == set(NOISE_IPS)
    times = [e.time_utc for e in report.events]
    assert times == sorted(times)  # three zones written, one time line in UTC


# --- access logs -------------------------------------------------------------------------------------


def test_a_combined_line_as_read() -> None:
    report = read_access_log(
        access_log(access_line("192.0.2.44")), "TEST-access.log", service="www.example.org"
    )
    assert (report.source_format, report.source_name) == ("access-log", "TEST-access.log")
    assert report.events == (
        IpEvent(
            ip="192.0.2.44",
            port=None,
            time_utc=datetime(2026, 10, 10, 10, 55, 36, tzinfo=UTC),
            original_time="10/Oct/2026:13:55:36 +0300",
            original_zone="+03:00",
            zone_assumed=False,
            event="Request",
            account=None,
            service="www.example.org",
            possible_proxy=None,
            filename=None,
            md5=None,
            sha1=None,
            sha256=None,
            source="TEST-access.log:line 1",
        ),
    )


def test_uploads_accounts_ports_and_ipv6() -> None:
    lines = [
        access_line(
            "[2001:db8::1]:51234", method="POST", path="/upload/TEST%20holiday.jpg?x=1", user="test-user-5"
        ),
        access_line("100.64.7.9:40001", method="PUT", path="/files/", combined=False),
        access_line("::ffff:192.0.2.9", remote_port=443),
        access_line("2001:DB8::2", when="29/Mar/2026:02:30:00 +0100"),
    ]
    events = read_access_log(access_log(*lines, newline="\r\n"), "TEST-access.log", service=None).events
    assert [(e.ip, e.port, e.event, e.account, e.filename) for e in events] == [
        ("2001:db8::1", 51234, "Upload", "test-user-5", "TEST holiday.jpg"),
        ("100.64.7.9", 40001, "Upload", None, None),
        ("192.0.2.9", 443, "Request", None, None),
        ("2001:db8::2", None, "Request", None, None),
    ]
    assert events[3].time_utc == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_the_virtual_host_of_vhost_combined_is_the_service() -> None:
    lines = [access_line("192.0.2.1", vhost="photos.example.org:443"), access_line("192.0.2.2")]
    events = read_access_log(access_log(*lines), "TEST-access.log", service="fallback.example.org").events
    assert [(e.ip, e.service) for e in events] == [
        ("192.0.2.1", "photos.example.org"),
        ("192.0.2.2", "fallback.example.org"),
    ]


def test_odd_requests_are_still_lines() -> None:
    lines = [
        '192.0.2.5 - - [10/Oct/2026:13:55:36 +0300] "-" 400 0 "-" "-"',
        '192.0.2.6 - - [10/Oct/2026:13:55:37 +0300] "\\x16\\x03\\x01\\x02" 400 157 "-" "-"',
        '192.0.2.7 - - [10/Oct/2026:13:55:38 +0300] "GET /a\\"b HTTP/1.1" 200 - "-" "agent \\"quoted\\""',
    ]
    events = read_access_log(access_log(*lines), "TEST-access.log", service=None).events
    assert [e.ip for e in events] == ["192.0.2.5", "192.0.2.6", "192.0.2.7"]
    assert {e.event for e in events} == {"Request"}


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("this is not a log line", "not an access-log line"),
        (access_line("gateway.example.org"), "HostnameLookups"),
        (access_line("192.0.2.1", when="10/Okt/2026:13:55:36 +0300"), "not an English month"),
        (access_line("192.0.2.1", when="31/Feb/2026:13:55:36 +0300"), "not a real date"),
        (access_line("192.0.2.1", when="10/Oct/2026:13:55:36 +2500"), "out of range"),
        (access_line("192.0.2.1:5000", remote_port=5001), "port 5000"),
        (access_line("192.0.2.1:99999"), "out of range"),
        (access_line("fe80::1%eth0"), "zone id"),
    ],
)
def test_a_malformed_line_refuses_the_log_naming_it(bad: str, says: str) -> None:
    lines = [access_line("192.0.2.1"), "", access_line("192.0.2.2"), bad, access_line("192.0.2.3")]
    error = refused_access(access_log(*lines))
    assert (error.source, error.where) == ("TEST-access.log", "line 4")
    assert says in error.problem
    assert "no option skips lines" in error.hint


def test_an_empty_log_is_refused() -> None:
    assert "holds no lines" in refused_access(b"\n\n").problem


def test_stray_bytes_in_a_user_agent_do_not_refuse_the_log() -> None:
    line = access_line("192.0.2.1").encode().replace(b"TEST benign agent", b"TEST \xff agent")
    (event,) = read_access_log(line + b"\n", "TEST-access.log", service=None).events
    assert event.ip == "192.0.2.1"


def test_the_garbage_collector_is_restored_even_after_a_refusal() -> None:
    assert gc.isenabled()
    refused_access(access_log(access_line("192.0.2.1"), "junk"))
    assert gc.isenabled()
    gc.disable()
    try:
        read_access_log(access_log(access_line("192.0.2.1")), "t.log", service=None)
        assert not gc.isenabled()  # not switched on behind the caller's back either
    finally:
        gc.enable()
