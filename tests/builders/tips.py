"""TEST tips and logs: CyberTipline-style reports (XML and JSON from one description), upload logs and
access logs, built in code.

Everything here is synthetic and benign: accounts are "test-user-N", e-mail addresses are @example.org /
@example.net, addresses come from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32) and carrier-grade NAT space (100.64.0.0/10, with ports), hashes are
digests of "TEST benign ..." strings.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape, quoteattr

SUSPECT_IP = "203.0.113.66"
SUSPECT_ACCOUNT = "test-user-17"
NOISE_IPS = ("192.0.2.10", "198.51.100.20", "100.64.3.7", "2001:db8::7")


def md5_of(seed: str) -> str:
    return hashlib.md5(f"TEST benign {seed}".encode()).hexdigest()


def sha1_of(seed: str) -> str:
    return hashlib.sha1(f"TEST benign {seed}".encode()).hexdigest()


def sha256_of(seed: str) -> str:
    return hashlib.sha256(f"TEST benign {seed}".encode()).hexdigest()


# --- CyberTipline-style reports ----------------------------------------------------------------------


def ip_capture(ip: str, when: str, event: str | None = "Login", **extra: Any) -> dict[str, Any]:
    capture: dict[str, Any] = {"ipAddress": ip, "dateTime": when}
    if event is not None:
        capture["eventName"] = event
    capture.update(extra)
    return capture


def sample_report(report_id: str = "TEST-1001") -> dict[str, Any]:
    """One report with every part the readers take, as the JSON tree (the XML is rendered from it)."""
    return {
        "reportId": report_id,
        "incidentSummary": {
            "incidentType": "Child Pornography (possession, manufacture, and distribution)",
            "platform": "TEST Photo Share",
            "incidentDateTime": "2026-03-28T22:15:00-04:00",
        },
        "reporter": {
            "espName": "TEST Platform Inc.",
            "reportingPerson": {"firstName": "Test", "lastName": "Reporter", "email": ["safety@example.org"]},
        },
        "personOrUserReported": {
            "personOrUserReportedPerson": {
                "firstName": "Test",
                "lastName": "Suspect",
                "email": [{"value": "Test-User-17@Example.ORG", "type": "Home", "verified": True}],
                "phone": [{"value": "(079) 000-0017", "type": "Mobile", "countryCallingCode": "+962"}],
            },
            "espIdentifier": SUSPECT_ACCOUNT,
            "espService": "TEST Photo Share",
            "screenName": "test_screen_17",
            "displayName": ["Test Display 17"],
            "profileUrl": ["https://photos.example.org/u/test-user-17"],
            "ipCaptureEvent": [
                ip_capture(SUSPECT_IP, "2026-03-28T21:00:00Z", "Login", port=51234, possibleProxy=False),
                ip_capture("2001:DB8:0:0:0:0:0:1", "2026-03-29T02:30:00+01:00", "Login", port=443),
                ip_capture("100.64.12.34", "2026-03-27T10:00:00+03:00", "Registration", port=40123),
            ],
            "deviceId": [{"idType": "IMEI", "idValue": "TEST-IMEI-0017"}],
            "associatedAccount": [
                {
                    "type": "Linked",
                    "espIdentifier": "test-user-17-alt",
                    "email": ["test-user-17-alt@example.net"],
                    "ipCaptureEvent": [ip_capture("198.51.100.17", "2026-03-26T08:00:00Z", "Login")],
                }
            ],
        },
        "intendedRecipient": [
            {
                "intendedRecipientPerson": {"email": ["test-recipient-3@example.net"]},
                "espIdentifier": "test-user-3",
                "ipCaptureEvent": [ip_capture("192.0.2.33", "2026-03-28T21:05:00Z", "Login")],
            }
        ],
        "victim": [
            {"victimPerson": {"firstName": "Test", "lastName": "Victim"}, "screenName": "test_victim_9"}
        ],
        "fileDetails": [
            {
                "fileName": "report-file-1.jpg",
                "originalFileName": "TEST-holiday-1.jpg",
                "locationOfFile": "https://photos.example.org/p/1",
                "fileViewedByEsp": True,
                "publiclyAvailable": False,
                "industryClassification": "A1",
                "originalFileHash": [
                    {"hashType": "MD5", "value": md5_of("file 1").upper()},
                    {"hashType": "SHA1", "value": sha1_of("file 1")},
                    {"hashType": "PhotoDNA", "value": "not-a-digest"},
                ],
                "ipCaptureEvent": ip_capture(SUSPECT_IP, "2026-03-28T21:10:00Z", None, port=51240),
            }
        ],
        "internetDetails": [
            {
                "peer2peerIncident": {
                    "client": "TEST P2P Client",
                    "ipCaptureEvent": [ip_capture("203.0.113.99", "2026-03-28T20:00:00Z", "Upload")],
                }
            }
        ],
        "additionalInfo": "TEST report: synthetic data for the reader tests.",
    }


def _xml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_element(name: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, list):
        return [line for item in value for line in _xml_element(name, item, indent)]
    if not isinstance(value, dict):
        return [f"{indent}<{name}>{escape(_xml_scalar(value))}</{name}>"]
    if "value" in value:  # text with attributes: every other key is an attribute
        attributes = "".join(
            f" {key}={quoteattr(_xml_scalar(v))}" for key, v in value.items() if key != "value"
        )
        return [f"{indent}<{name}{attributes}>{escape(_xml_scalar(value['value']))}</{name}>"]
    attributes = "".join(
        f" {key}={quoteattr(_xml_scalar(v))}"
        for key, v in value.items()
        if key == "type" and isinstance(v, str)
    )
    lines = [f"{indent}<{name}{attributes}>"]
    for key, child in value.items():
        if key == "type" and isinstance(child, str):
            continue
        lines += _xml_element(key, child, indent + "  ")
    lines.append(f"{indent}</{name}>")
    return lines


def cybertip_xml(*reports: Mapping[str, Any], root: str = "reports", namespace: str | None = None) -> bytes:
    """The reports as CyberTipline XML: one `report` root, or several under `root`. Rendered from the
    same trees `cybertip_json` writes, so both formats carry the same report."""
    chosen = list(reports) or [sample_report()]
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    if len(chosen) == 1 and root == "reports":
        lines = _xml_element("report", dict(chosen[0]), "")
        lines[0] = lines[0].replace("<report", f"<report{xmlns}", 1)
    else:
        lines = [f"<{root}{xmlns}>"]
        for report in chosen:
            lines += _xml_element("report", dict(report), "  ")
        lines.append(f"</{root}>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(lines) + "\n").encode()


def cybertip_json(*reports: Mapping[str, Any], wrap: bool = True) -> bytes:
    """The reports as JSON: {"reports": [...]} (or a bare object / list when `wrap` is False)."""
    chosen = [copy.deepcopy(dict(report)) for report in reports] or [sample_report()]
    if wrap:
        document: Any = {"reports": chosen}
    else:
        document = chosen[0] if len(chosen) == 1 else chosen
    return json.dumps(document, indent=2).encode()


XXE_XML = b"""<?xml version="1.0"?>
<!DOCTYPE report [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<report><additionalInfo>&x;</additionalInfo></report>
"""

BILLION_LAUGHS_XML = b"""<?xml version="1.0"?>
<!DOCTYPE report [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<report><additionalInfo>&lol9;</additionalInfo></report>
"""

# 127.0.0.2 is the suite's canary address: even if a parser tried to fetch the DTD, nothing leaves.
EXTERNAL_DTD_XML = b"""<?xml version="1.0"?>
<!DOCTYPE report SYSTEM "http://127.0.0.2:9/report.dtd">
<report><reportId>TEST-1</reportId></report>
"""


# --- upload logs -------------------------------------------------------------------------------------

UPLOAD_HEADER = ("ip", "port", "timestamp", "account", "filename", "md5", "sha256", "event", "service")


def upload_row(
    ip: str,
    timestamp: str,
    *,
    port: int | None = None,
    account: str = SUSPECT_ACCOUNT,
    seed: str = "upload",
    event: str = "Upload",
    service: str = "TEST Photo Share",
) -> dict[str, str]:
    return {
        "ip": ip,
        "port": "" if port is None else str(port),
        "timestamp": timestamp,
        "account": account,
        "filename": f"TEST-{seed}.jpg",
        "md5": md5_of(seed),
        "sha256": sha256_of(seed),
        "event": event,
        "service": service,
    }


def upload_log_csv(
    rows: Iterable[Mapping[str, str]],
    *,
    header: Sequence[str] = UPLOAD_HEADER,
    names: Mapping[str, str] | None = None,
    delimiter: str = ",",
    newline: str = "\n",
    bom: bool = False,
) -> bytes:
    """Rows (keyed by the canonical column names) as CSV; `names` renames header columns (variants)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow([(names or {}).get(column, column) for column in header])
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def upload_log_json(rows: Iterable[Mapping[str, Any]], *, lines: bool = False) -> bytes:
    chosen = [dict(row) for row in rows]
    if lines:
        return "".join(json.dumps(row) + "\n" for row in chosen).encode()
    return json.dumps(chosen, indent=1).encode()


def six_hundred_uploads() -> bytes:
    """An upload log naming 600 uploads from SUSPECT_IP (CGNAT-free, ports varying) among 900 lines of
    noise from other addresses and accounts, across three zones written as offsets."""
    rows: list[dict[str, str]] = []
    start = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
    zones = (UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-4)))
    for i in range(1500):
        when = (start + timedelta(minutes=7 * i)).astimezone(zones[i % 3]).isoformat()
        if i % 5 in (0, 2):  # 600 of 1500
            rows.append(upload_row(SUSPECT_IP, when, port=50000 + i, seed=f"suspect {i}"))
        else:
            noise = NOISE_IPS[i % len(NOISE_IPS)]
            rows.append(
                upload_row(
                    noise, when, port=40000 + i, account=f"test-user-{i % 40 + 100}", seed=f"noise {i}"
                )
            )
    return upload_log_csv(rows)


# --- access logs -------------------------------------------------------------------------------------


def access_line(
    client: str,
    when: str = "10/Oct/2026:13:55:36 +0300",
    *,
    method: str = "GET",
    path: str = "/index.html",
    user: str = "-",
    status: int = 200,
    combined: bool = True,
    remote_port: int | None = None,
    vhost: str | None = None,
) -> str:
    """One line of combined (or common) log format; `client` is %h, e.g. "[2001:db8::1]:51234"."""
    line = f'{client} - {user} [{when}] "{method} {path} HTTP/1.1" {status} 2326'
    if combined:
        line += ' "https://www.example.org/start" "Mozilla/5.0 (TEST benign agent)"'
    if remote_port is not None:
        line += f" {remote_port}"
    if vhost is not None:
        line = f"{vhost} {line}"
    return line


def access_log(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()
