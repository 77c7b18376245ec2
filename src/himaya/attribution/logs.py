"""Platform upload logs (CSV, JSON, JSON lines) and web-server access logs → one `TipReport` each.

A log is taken whole or not at all: one malformed line refuses the file, naming the line, and there is no
option to skip lines. A skipped line could be the one upload that matters, and an import that silently
drops lines cannot be explained to a court; the examiner corrects or cuts the line in a copy instead.

Logs run to millions of lines, so the per-line path is kept short: one precompiled regex, times parsed
from fixed-width fields with each distinct zone resolved once, dotted quads taken as they are.

Upload logs: columns (CSV header or JSON keys, any case, spaces / '_' / '-' ignored) `ip`, `port`,
`timestamp`, `account`, `filename`, `md5` / `sha1` / `sha256`, `event` (default "Upload") and `service`,
with the common variants in `_COLUMNS`; other columns are ignored. A time without a zone takes the
importer's `default_zone` (IANA name, daylight saving applied) or is refused.

Access logs: Apache / nginx "combined" or "common" format, optionally led by a virtual host
(`vhost_combined`, which becomes the service) and followed by the client port (`%{remote}p`). The client
field may carry the port itself (`192.0.2.1:51234`, `[2001:db8::1]:51234`). POST and PUT are uploads
(the file name is the path's last segment); everything else is a "Request".
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any
from urllib.parse import unquote

from himaya.attribution.normalise import (
    ISO_HINT,
    MissingZoneError,
    canonical_ip,
    event_name,
    format_offset,
    port_number,
    resolve_zone,
    split_host_port,
    to_utc,
)
from himaya.attribution.reports import IpEvent, TipReport
from himaya.errors import TipFormatError, UsageError

__all__ = [
    "ACCESS_LINE",
    "SKIP_HINT",
    "VHOST_ACCESS_LINE",
    "read_access_log",
    "read_upload_log",
    "upload_column",
    "upload_columns",
]

SKIP_HINT = (
    "nothing was imported: a log is taken whole or not at all, and no option skips lines; correct that "
    "line or cut it out of a copy of the file (keep the original as received) and import again"
)

# Header names with case, spaces, '_', '-' and '.' removed → the column they hold.
_COLUMNS: dict[str, str] = {
    **dict.fromkeys(
        ("ip", "ipaddress", "ipaddr", "clientip", "srcip", "sourceip", "remoteip", "remoteaddr", "uploadip"),
        "ip",
    ),
    **dict.fromkeys(("port", "srcport", "sourceport", "clientport", "remoteport"), "port"),
    **dict.fromkeys(("timestamp", "time", "datetime", "eventtime", "uploadtime"), "timestamp"),
    **dict.fromkeys(("account", "accountid", "user", "username", "userid", "login"), "account"),
    **dict.fromkeys(("filename", "file", "originalfilename"), "filename"),
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    **dict.fromkeys(("event", "eventname", "eventtype", "action"), "event"),
    **dict.fromkeys(("service", "site", "vhost", "platform"), "service"),
}
_KEY_JUNK = re.compile(r"[\s_\-.]+")
_DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"[0-9a-f]+")
_ZONE_HINT = "the times carry no zone: name the zone the log was written in (--timezone, e.g. Asia/Amman)"


def upload_column(name: str) -> str | None:
    """The column a header name or JSON key holds ("Source Port" → "port"); None when not one read."""
    return _COLUMNS.get(_KEY_JUNK.sub("", name.strip().lower()))


def upload_columns(fields: list[str]) -> dict[str, int]:
    """A header row → {column: index}; `ValueError` when it lacks ip or timestamp, or names one twice."""
    columns: dict[str, int] = {}
    for index, field in enumerate(fields):
        column = upload_column(field)
        if column is None:
            continue
        if column in columns:
            raise ValueError(
                f"columns {fields[columns[column]]!r} and {field!r} both hold {column}; keep one of them"
            )
        columns[column] = index
    missing = [column for column in ("ip", "timestamp") if column not in columns]
    if missing:
        raise ValueError(
            f"the header names no {' and no '.join(missing)} column; name them ip and timestamp "
            "(also: port, account, filename, md5, sha1, sha256, event, service)"
        )
    return columns


def _check_zone(default_zone: str | None) -> None:
    if default_zone is not None:
        try:
            resolve_zone(default_zone)
        except ValueError as error:
            raise UsageError(f"--timezone: {error}") from None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TipFormatError(name, f"line {line}", "not UTF-8 text", "save the file as UTF-8") from None


# --- upload logs -------------------------------------------------------------------------------------


# The order `_upload_event` takes its values in; CSV rows are picked into it by one itemgetter.
_ORDER = ("ip", "port", "timestamp", "account", "filename", "md5", "sha1", "sha256", "event", "service")


def _digest(value: str, kind: str) -> str | None:
    value = value.strip().lower()
    if not value:
        return None
    if len(value) != _DIGEST_LENGTHS[kind] or not _HEX.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not {_DIGEST_LENGTHS[kind]} hex digits")
    return value


def _upload_event(values: tuple[str, ...], source: str, default_zone: str | None) -> IpEvent:
    """One upload-log line; `values` in `_ORDER`, "" where the log has no such column."""
    ip_text, port_text, time_text, account, file_name, md5, sha1, sha256, event, service = values
    ip_text = ip_text.strip()
    if not ip_text:
        raise ValueError("no IP address")
    if ":" in ip_text or "[" in ip_text:
        ip, host_port = split_host_port(ip_text)
    else:
        ip, host_port = canonical_ip(ip_text), None
    port_text = port_text.strip()
    port = port_number(port_text) if port_text else host_port
    if host_port is not None and port != host_port:
        raise ValueError(f"the address says port {host_port} and the port column {port}")
    time_text = time_text.strip()
    if not time_text:
        raise ValueError("no time")
    time_utc, zone, assumed = to_utc(time_text, default_zone)
    return IpEvent(
        ip,
        port,
        time_utc,
        time_text,
        zone,
        assumed,
        event_name(event) or "Upload",
        account.strip() or None,
        service.strip() or None,
        None,
        file_name.strip() or None,
        _digest(md5, "md5") if md5 else None,
        _digest(sha1, "sha1") if sha1 else None,
        _digest(sha256, "sha256") if sha256 else None,
        source,
    )


def _hint(error: ValueError) -> str:
    if isinstance(error, MissingZoneError):
        return f"{_ZONE_HINT}; {SKIP_HINT}"
    if "ISO-8601" in str(error):
        return f"{ISO_HINT}; {SKIP_HINT}"
    return SKIP_HINT


def _first_line(text: str) -> str:
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            return text[start:end]
        start = end + 1
    return ""


def _csv_events(text: str, name: str, default_zone: str | None) -> Iterator[IpEvent]:
    delimiter = max(",;\t", key=_first_line(text).count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    pick: Callable[[list[str]], tuple[str, ...]] | None = None
    width = 0
    for row in reader:
        line = reader.line_num
        if not any(row):
            continue
        if pick is None:
            try:
                columns = upload_columns(row)
            except ValueError as error:
                raise TipFormatError(name, f"line {line}", str(error)) from None
            width = len(row)
            # Absent columns read the "" appended to every row (index -1).
            pick = itemgetter(*(columns.get(column, -1) for column in _ORDER))
            continue
        if len(row) != width:
            if len(row) > width:
                raise TipFormatError(
                    name,
                    f"line {line}",
                    f"{len(row)} fields where the header names {width} (is a {delimiter!r} unquoted?)",
                    SKIP_HINT,
                )
            row += [""] * (width - len(row))  # spreadsheets drop trailing empty cells
        row.append("")
        try:
            yield _upload_event(pick(row), f"{name}:line {line}", default_zone)
        except ValueError as error:
            raise TipFormatError(name, f"line {line}", str(error), _hint(error)) from None
    if pick is None:
        raise TipFormatError(
            name, None, "no header row and no lines", "an upload log starts with a header row"
        )


def _json_values(record: Any) -> tuple[str, ...]:
    if not isinstance(record, dict):
        raise ValueError(f"expected an object, found a JSON {type(record).__name__}")
    values: dict[str, str] = {}
    for key, value in record.items():
        column = upload_column(str(key))
        if column is None:
            continue
        if column in values:
            raise ValueError(f"two keys hold {column}; keep one of them")
        if isinstance(value, (dict, list)):
            raise ValueError(f"{key!r} holds a JSON {type(value).__name__}, not a single value")
        values[column] = "" if value is None else str(value)
    return tuple(values.get(column, "") for column in _ORDER)


def _json_events(text: str, name: str, default_zone: str | None) -> Iterator[IpEvent]:
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise TipFormatError(
                name, f"line {error.lineno}", f"not valid JSON ({error.msg}, column {error.colno})", SKIP_HINT
            ) from None
        for index, record in enumerate(records):
            where = f"/{index} (record {index + 1})"
            try:
                yield _upload_event(_json_values(record), f"{name}:/{index}", default_zone)
            except ValueError as error:
                raise TipFormatError(name, where, str(error), _hint(error)) from None
        return
    for line, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise TipFormatError(
                name, f"line {line}", f"not valid JSON ({error.msg}, column {error.colno})", SKIP_HINT
            ) from None
        try:
            yield _upload_event(_json_values(record), f"{name}:line {line}", default_zone)
        except ValueError as error:
            raise TipFormatError(name, f"line {line}", str(error), _hint(error)) from None


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a log's events are built.

    A million new objects trigger hundreds of collections, each walking every object still alive: a third
    of the reading time, for nothing, since events hold no reference cycles. Restored on the way out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _log_report(source_format: str, name: str, events: tuple[IpEvent, ...]) -> TipReport:
    if not events:
        raise TipFormatError(name, None, "the log holds no lines", "check that this is the file meant")
    return TipReport(
        source_format=source_format,
        source_name=name,
        report_id=None,
        esp=None,
        incident_type=None,
        incident_time_utc=None,
        summary=None,
        persons=(),
        files=(),
        events=events,
    )


def read_upload_log(data: bytes, name: str, *, fmt: str, default_zone: str | None) -> TipReport:
    """An upload log, `fmt` "csv" or "json" (an array of objects, or JSON lines)."""
    if fmt not in ("csv", "json"):
        raise UsageError(f"upload log format {fmt!r} is not csv or json")
    _check_zone(default_zone)
    text = _decode(data, name)
    with _no_cycle_collection():
        if fmt == "csv":
            return _log_report("upload-csv", name, tuple(_csv_events(text, name, default_zone)))
        return _log_report("upload-json", name, tuple(_json_events(text, name, default_zone)))


# --- access logs -------------------------------------------------------------------------------------

# Unrolled ("[^"\\]*(?:\\.[^"\\]*)*") rather than an alternation per character: twice as fast on long agents.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_ACCESS_BODY = (
    r"(\S+) \S+ (\S+) "  # host ident user
    r"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    rf"{_QUOTED} (\d{{3}}) (?:\d+|-)"  # request, status, size
    rf"(?: {_QUOTED} {_QUOTED})?"  # referer, user agent (combined)
    r"(?: (\d{1,5}))?\s*"  # %{remote}p
)
ACCESS_LINE = re.compile(_ACCESS_BODY)
# vhost_combined puts "%v:%p" first. A separate pattern, tried only when the plain one fails: an optional
# leading group would make every plain line backtrack.
VHOST_ACCESS_LINE = re.compile(r"(\S+) " + _ACCESS_BODY)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_UPLOAD_METHODS = frozenset({"POST", "PUT"})
# "+0300" → (offset, "+03:00"); a log holds one or two offsets (daylight saving), read a million times.
_OFFSETS: dict[str, tuple[timedelta, str]] = {}


def _offset(text: str) -> tuple[timedelta, str]:
    cached = _OFFSETS.get(text)
    if cached is None:
        hours, minutes = int(text[1:3]), int(text[3:5])
        if hours > 23 or minutes > 59:
            raise ValueError(f"offset {text!r} is out of range")
        delta = timedelta(hours=hours, minutes=minutes)
        cached = (-delta if text[0] == "-" else delta, format_offset(-delta if text[0] == "-" else delta))
        _OFFSETS[text] = cached
    return cached


def _access_time(text: str) -> tuple[datetime, str]:
    """`10/Oct/2026:13:55:36 +0300` (shape checked by the line regex) → (UTC time, "+03:00")."""
    month = _MONTHS.get(text[3:6])
    if month is None:
        raise ValueError(f"month {text[3:6]!r} in {text!r} is not an English month abbreviation")
    delta, zone = _offset(text[21:26])
    try:
        local = datetime(
            int(text[7:11]),
            month,
            int(text[0:2]),
            int(text[12:14]),
            int(text[15:17]),
            int(text[18:20]),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise ValueError(f"time {text!r} is not a real date and time ({error})") from None
    return local - delta, zone


def _uploaded_name(request: str) -> str | None:
    parts = request.split(" ")
    if len(parts) < 2:
        return None
    path = parts[1].partition("?")[0].partition("#")[0]
    segment = path.rpartition("/")[2]
    return unquote(segment) or None


def _access_events(text: str, name: str, service: str | None) -> Iterator[IpEvent]:
    match_line = ACCESS_LINE.fullmatch
    match_vhost_line = VHOST_ACCESS_LINE.fullmatch
    canonical_ipv4 = canonical_ip  # fast path inside: dotted quads come back as they are
    last_time = ""
    last: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
    for number, line in enumerate(text.split("\n"), 1):
        match = match_line(line)
        vhost = None
        if match is not None:
            host, user, when, request, _status, _referer, _agent, trailing_port = match.groups()
        elif (match := match_vhost_line(line)) is not None:
            vhost, host, user, when, request, _status, _referer, _agent, trailing_port = match.groups()
        elif not line.strip():
            continue
        else:
            raise TipFormatError(
                name,
                f"line {number}",
                "not an access-log line in combined or common log format "
                '(%h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"] [%{remote}p])',
                SKIP_HINT,
            )
        try:
            if ":" in host or "[" in host:
                ip, port = split_host_port(host)
            else:
                ip, port = canonical_ipv4(host), None
            if trailing_port is not None:
                logged = port_number(trailing_port)
                if port is not None and port != logged:
                    raise ValueError(f"the client field says port {port} and the last field {logged}")
                port = logged
            if when != last_time:
                last, last_time = _access_time(when), when
        except ValueError as error:
            problem = str(error)
            if "is not an IP address" in problem:
                problem += (
                    " (a host name: the server logged names, HostnameLookups; ask for the log with addresses)"
                )
            raise TipFormatError(name, f"line {number}", problem, SKIP_HINT) from None
        method = request.partition(" ")[0]
        upload = method in _UPLOAD_METHODS
        yield IpEvent(
            ip,
            port,
            last[0],
            when,
            last[1],
            False,
            "Upload" if upload else "Request",
            None if user == "-" else user,
            vhost.rpartition(":")[0] or vhost if vhost else service,
            None,
            _uploaded_name(request) if upload else None,
            None,
            None,
            None,
            f"{name}:line {number}",
        )


def read_access_log(data: bytes, name: str, *, service: str | None) -> TipReport:
    """A web server's access log; `service` names the site when the lines carry no virtual host."""
    # Referers and user agents carry whatever clients sent; a stray byte there must not refuse the log.
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    with _no_cycle_collection():
        return _log_report("access-log", name, tuple(_access_events(text, name, service)))
