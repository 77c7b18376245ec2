"""Which reader a file needs, told by its content (`--format auto`), and `read_tips` to run it.

Names lie (a ".txt" access log, a ".json" export that is really JSON lines), so only the first bytes
decide: an XML root is a CyberTipline report; a JSON document with report-ish keys (reportId,
incidentSummary, personOrUserReported, ...) is one too, while JSON objects with an IP and a time are an
upload log; a first line in combined / common log format is an access log; a CSV header naming an IP and
a time column is an upload log. Anything else is refused with the formats to choose from.
"""

from __future__ import annotations

import csv
import re

from himaya.attribution.cybertip import read_cybertip_json, read_cybertip_xml
from himaya.attribution.logs import (
    ACCESS_LINE,
    VHOST_ACCESS_LINE,
    read_access_log,
    read_upload_log,
    upload_column,
    upload_columns,
)
from himaya.attribution.reports import TipReport
from himaya.errors import TipFormatError, UsageError

__all__ = ["FORMATS", "detect", "read_tips"]

FORMATS = ("cybertip-xml", "cybertip-json", "upload-csv", "upload-json", "access-log")
_HEAD = 64 * 1024
_REPORT_KEYS = frozenset(
    {
        "report",
        "reports",
        "reportId",
        "incidentSummary",
        "personOrUserReported",
        "reporter",
        "fileDetails",
        "victim",
        "intendedRecipient",
    }
)
_JSON_KEY = re.compile(r'"([A-Za-z_][\w \-.]*)"\s*:')
_FORMAT_HINT = f"name the format with --format ({', '.join(FORMATS)})"


def _first_lines(text: str, count: int) -> list[str]:
    lines = [line for line in text.split("\n")[: count * 4] if line.strip()]
    return lines[:count]


def _json_kind(head: str) -> str | None:
    keys = set(_JSON_KEY.findall(head[:4096]))
    if keys & _REPORT_KEYS:
        return "cybertip-json"
    if {"ip", "timestamp"} <= {upload_column(key) for key in keys}:
        return "upload-json"
    return None


def _access_line(line: str) -> bool:
    return bool(ACCESS_LINE.fullmatch(line) or VHOST_ACCESS_LINE.fullmatch(line))


def detect(data: bytes, name: str) -> str:
    """The format of a tip or log file, one of `FORMATS`; `TipFormatError` when it cannot be told."""
    head = data[:_HEAD].decode("utf-8", errors="replace").removeprefix("\ufeff")
    stripped = head.lstrip()
    if stripped.startswith("<"):
        return "cybertip-xml"
    if stripped.startswith(("{", "[")):
        kind = _json_kind(head)
        if kind is not None:
            return kind
        raise TipFormatError(
            name,
            None,
            "JSON, but neither a CyberTipline report (reportId, incidentSummary, ...) nor an upload log "
            "(objects with ip and timestamp)",
            _FORMAT_HINT,
        )
    lines = _first_lines(head, 5)
    if lines and all(_access_line(line) for line in lines[:-1] or lines):
        # the last line of a 64 KiB head may be cut short, so it does not get a vote unless it is alone
        return "access-log"
    if lines:
        header = lines[0]
        delimiter = max(",;\t", key=header.count)
        fields = next(csv.reader([header], delimiter=delimiter), [])
        try:
            upload_columns(fields)
        except ValueError:
            pass
        else:
            return "upload-csv"
    raise TipFormatError(
        name,
        None,
        "not a format Himaya reads: no XML report, no JSON report or upload log, no access-log line, "
        "no CSV header with ip and timestamp columns",
        _FORMAT_HINT,
    )


def read_tips(
    data: bytes,
    name: str,
    *,
    fmt: str = "auto",
    default_zone: str | None = None,
    service: str | None = None,
) -> list[TipReport]:
    """Every report in one file. `default_zone` applies to logs whose times carry no zone, `service` to
    access logs; a CyberTipline report needs neither. Raises `TipFormatError` and returns nothing on the
    first problem."""
    if fmt == "auto":
        fmt = detect(data, name)
    if fmt == "cybertip-xml":
        return read_cybertip_xml(data, name)
    if fmt == "cybertip-json":
        return read_cybertip_json(data, name)
    if fmt == "upload-csv":
        return [read_upload_log(data, name, fmt="csv", default_zone=default_zone)]
    if fmt == "upload-json":
        return [read_upload_log(data, name, fmt="json", default_zone=default_zone)]
    if fmt == "access-log":
        return [read_access_log(data, name, service=service)]
    raise UsageError(f"--format {fmt!r} is not a tip format; use auto or one of {', '.join(FORMATS)}")
