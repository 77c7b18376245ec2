"""`--format auto`: each format told by its content whatever the file is called; `read_tips` runs the
reader it names and passes the zone and service through."""

from __future__ import annotations

import pytest

from himaya.attribution.detect import FORMATS, detect, read_tips
from himaya.errors import TipFormatError, UsageError
from tests.builders.tips import (
    SUSPECT_IP,
    XXE_XML,
    access_line,
    access_log,
    cybertip_json,
    cybertip_xml,
    six_hundred_uploads,
    upload_log_csv,
    upload_log_json,
    upload_row,
)

ROWS = [upload_row(SUSPECT_IP, "2026-03-28 10:15:00"), upload_row("192.0.2.1", "2026-03-28 10:16:00")]

SAMPLES = {
    "cybertip-xml": cybertip_xml(),
    "cybertip-json": cybertip_json(),
    "upload-csv": upload_log_csv(ROWS, bom=True),
    "upload-json": upload_log_json(ROWS),
    "access-log": access_log(access_line("192.0.2.1"), access_line("[2001:db8::1]:443", combined=False)),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_told_by_content_not_by_name(fmt: str) -> None:
    assert detect(SAMPLES[fmt], "TEST-evidence.txt") == fmt


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (cybertip_json(wrap=False), "cybertip-json"),
        (b'[{"reportId": 1}]', "cybertip-json"),
        (upload_log_json(ROWS, lines=True), "upload-json"),
        (b'{"Client IP": "192.0.2.1", "Date Time": "2026-03-28T10:15:00Z"}\n', "upload-json"),
        (upload_log_csv(ROWS, delimiter="\t"), "upload-csv"),
        (access_log(access_line("192.0.2.1", vhost="photos.example.org:443")), "access-log"),
        (XXE_XML, "cybertip-xml"),  # told as XML, then refused by the reader
    ],
)
def test_variants(data: bytes, fmt: str) -> None:
    assert detect(data, "t") == fmt


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\nworld\n", b"name,size\nholiday.jpg,12\n", b'{"colour": "blue"}', b"\x00\x01\x02"],
)
def test_what_cannot_be_told_is_refused_with_the_formats_to_choose_from(data: bytes) -> None:
    with pytest.raises(TipFormatError) as caught:
        detect(data, "TEST-mystery.bin")
    assert caught.value.source == "TEST-mystery.bin"
    assert "--format" in caught.value.hint
    assert "access-log" in caught.value.hint


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_tips_reads_each_format(fmt: str) -> None:
    reports = read_tips(
        SAMPLES[fmt], "TEST-evidence", default_zone="Europe/London", service="www.example.org"
    )
    assert {r.source_format for r in reports} == {fmt}
    assert all(r.events for r in reports)
    assert reports == read_tips(
        SAMPLES[fmt], "TEST-evidence", fmt=fmt, default_zone="Europe/London", service="www.example.org"
    )


def test_read_tips_passes_the_zone_and_the_service() -> None:
    (uploads,) = read_tips(SAMPLES["upload-csv"], "u.csv", default_zone="Europe/London")
    assert {e.zone_assumed for e in uploads.events} == {True}
    (access,) = read_tips(SAMPLES["access-log"], "a.log", service="www.example.org")
    assert {e.service for e in access.events} == {"www.example.org"}


def test_read_tips_counts_six_hundred_uploads() -> None:
    (report,) = read_tips(six_hundred_uploads(), "TEST-uploads.csv")
    assert sum(1 for e in report.events if e.ip == SUSPECT_IP and e.event == "Upload") == 600


def test_a_named_format_that_does_not_fit_is_refused_by_its_reader() -> None:
    with pytest.raises(TipFormatError):
        read_tips(SAMPLES["access-log"], "a.log", fmt="upload-csv")


def test_an_unknown_format_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a tip format"):
        read_tips(b"", "t", fmt="pdf")
