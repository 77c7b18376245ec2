"""CyberTipline-style reports, XML and JSON → `TipReport`s.

The element names are those of NCMEC's ESP reporting schema (report.xsd of the CyberTipline Reporting
API): `report` / `incidentSummary` (`incidentType`, `platform`, `incidentDateTime`), `reporter`,
`personOrUserReported`, `intendedRecipient`, `victim` (each with its `…Person` record: `firstName`,
`lastName`, `email`, `phone`; and `espIdentifier`, `espService`, `screenName`, `displayName`,
`profileUrl`, `ipCaptureEvent`, `deviceId`, `associatedAccount`), `internetDetails/peer2peerIncident`, and
`fileDetails` (`fileName`, `originalFileName`, `locationOfFile`, `fileViewedByEsp`, `publiclyAvailable`,
`industryClassification`, `originalFileHash hashType=…`, `ipCaptureEvent`).

The submission schema has no report number (NCMEC assigns it) and no company name (the ESP is known from
its login), and it sends each `fileDetails` as its own document. A file handed to the police needs all
three, so Himaya also reads: `reportId` (child or attribute of `report`), `reporter/espName`, and
`fileDetails` either inside its `report` or beside it under a wrapper root, tied by `reportId`. Without
`espName` the ESP is the incident's `platform`.

JSON is the same tree in camelCase: an element is a key, a repeated element a list, an attribute a key of
the element's object, and an element that has both text and attributes (`email`, `phone`,
`originalFileHash`) an object whose text is under "value". The top level is one report, a list of them,
or {"reports": [...]}.

XML goes through defusedxml with DTDs forbidden: a report never needs one, and a DTD is how XXE (reading
`file:///etc/passwd`) and entity expansion bombs get in. Anything refused refuses the whole file.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # ParseError and Element types only: defusedxml parses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring as safe_fromstring  # type: ignore[import-untyped]

from himaya.attribution.normalise import (
    canonical_ip,
    event_name,
    identifier,
    port_number,
    to_utc,
)
from himaya.attribution.reports import Identifier, IpEvent, Person, ReportedFile, TipReport
from himaya.errors import TipFormatError

__all__ = ["read_cybertip_json", "read_cybertip_xml"]

CLASSIFICATIONS = frozenset({"A1", "A2", "B1", "B2"})
_HASH_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX = frozenset("0123456789abcdef")

# role, the container element, the element holding the person's own record
_PERSON_ELEMENTS = (
    ("reported", "personOrUserReported", "personOrUserReportedPerson"),
    ("recipient", "intendedRecipient", "intendedRecipientPerson"),
    ("victim", "victim", "victimPerson"),
)

_TIME_HINT = (
    "a CyberTipline time always carries its offset (e.g. 2026-03-29T01:30:00Z); the file was changed or is "
    "not a CyberTipline export"
)


class _Bad(Exception):
    """A problem at one place of the tree; turned into TipFormatError with the file name at the top."""

    def __init__(self, where: str, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem
        self.hint = hint


# --- one tree for both formats -----------------------------------------------------------------------


class _Node:
    path: str

    def children(self, name: str) -> list[_Node]:
        raise NotImplementedError

    def text(self) -> str | None:
        raise NotImplementedError

    def attr(self, name: str) -> str | None:
        raise NotImplementedError


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # reports may come with a namespace; the names are what matter


class _XmlNode(_Node):
    def __init__(self, element: ET.Element, path: str) -> None:
        self.element = element
        self.path = path

    def children(self, name: str) -> list[_Node]:
        found = [child for child in self.element if isinstance(child.tag, str) and _local(child.tag) == name]
        if len(found) == 1:
            return [_XmlNode(found[0], f"{self.path}/{name}")]
        return [_XmlNode(child, f"{self.path}/{name}[{i}]") for i, child in enumerate(found, 1)]

    def text(self) -> str | None:
        value = (self.element.text or "").strip()
        if not value and len(self.element):
            raise _Bad(self.path, "expected a value, found nested elements")
        return value or None

    def attr(self, name: str) -> str | None:
        for key, value in self.element.attrib.items():
            if _local(key) == name:
                return value.strip() or None
        return None


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


class _JsonNode(_Node):
    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def children(self, name: str) -> list[_Node]:
        if not isinstance(self.value, dict):
            return []
        value = self.value.get(name)
        where = _pointer(self.path, name)
        if value is None:
            return []
        if isinstance(value, list):
            return [_JsonNode(item, _pointer(where, i)) for i, item in enumerate(value) if item is not None]
        return [_JsonNode(value, where)]

    def text(self) -> str | None:
        value = self.value
        if isinstance(value, dict):
            if "value" not in value:
                raise _Bad(self.path or "/", 'expected a value, found an object without "value"')
            value = value["value"]
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, str)):
            return str(value).strip() or None
        raise _Bad(self.path or "/", f"expected a single value, found a JSON {type(value).__name__}")

    def attr(self, name: str) -> str | None:
        if not isinstance(self.value, dict):
            return None
        return _JsonNode(self.value.get(name), _pointer(self.path, name)).text()


def _one(node: _Node, name: str) -> _Node | None:
    found = node.children(name)
    if len(found) > 1:
        raise _Bad(found[1].path, f"'{name}' appears {len(found)} times where the schema allows one")
    return found[0] if found else None


def _text(node: _Node | None, name: str) -> str | None:
    if node is None:
        return None
    child = _one(node, name)
    return child.text() if child is not None else None


def _texts(node: _Node, name: str) -> Iterator[tuple[_Node, str]]:
    for child in node.children(name):
        value = child.text()
        if value is not None:
            yield child, value


def _bool(node: _Node | None, name: str) -> bool | None:
    if node is None or (child := _one(node, name)) is None or (value := child.text()) is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise _Bad(child.path, f"{value!r} is not a yes/no value (true or false)")


# --- reports -----------------------------------------------------------------------------------------


@dataclass
class _Context:
    name: str
    source_format: str
    account: str | None = None  # the reported person's account: whose uploads the files are
    service: str | None = None
    loose_files: dict[str, list[_Node]] = field(default_factory=dict)


def _event(
    node: _Node,
    ctx: _Context,
    *,
    default_event: str,
    account: str | None,
    service: str | None,
    file_name: str | None = None,
    hashes: tuple[str | None, str | None, str | None] = (None, None, None),
) -> IpEvent:
    address = _one(node, "ipAddress")
    address_text = address.text() if address is not None else None
    if address is None or address_text is None:
        raise _Bad(node.path, "ipCaptureEvent without ipAddress")
    try:
        ip = canonical_ip(address_text)
    except ValueError as error:
        raise _Bad(address.path, str(error)) from None
    when = _one(node, "dateTime")
    when_text = when.text() if when is not None else None
    if when is None or when_text is None:
        raise _Bad(
            node.path,
            "ipCaptureEvent without dateTime: an address without a time cannot be traced to a subscriber",
        )
    try:
        time_utc, zone, assumed = to_utc(when_text, None)
    except ValueError as error:
        raise _Bad(when.path, str(error), _TIME_HINT) from None
    port_node = _one(node, "port")
    port_text = port_node.text() if port_node is not None else None
    port: int | None = None
    if port_node is not None and port_text is not None:
        try:
            port = port_number(port_text)
        except ValueError as error:
            raise _Bad(port_node.path, str(error)) from None
    md5, sha1, sha256 = hashes
    return IpEvent(
        ip=ip,
        port=port,
        time_utc=time_utc,
        original_time=when_text,
        original_zone=zone,
        zone_assumed=assumed,
        event=event_name(_text(node, "eventName") or default_event),
        account=account,
        service=service,
        possible_proxy=_bool(node, "possibleProxy"),
        filename=file_name,
        md5=md5,
        sha1=sha1,
        sha256=sha256,
        source=f"{ctx.name}:{node.path or '/'}",
    )


def _with_calling_code(number: str, code: str | None) -> str:
    """ "(079) 000-0017" with countryCallingCode "+962" → "+962 79 000-0017": the national trunk "0" goes,
    as in E.164, except in Italy (+39), where the leading 0 of a landline is part of the number."""
    stripped = number.strip()
    code = (code or "").strip().lstrip("+")
    if not code or stripped.startswith(("+", "00")):
        return stripped
    national = stripped.lstrip("( ")
    if national.startswith("0") and code != "39":
        national = national[1:]
    return f"+{code} {national}"


class _PersonBuilder:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.identifiers: list[Identifier] = []
        self.events: list[IpEvent] = []

    def name(self, record: _Node | None) -> None:
        full = " ".join(part for part in (_text(record, "firstName"), _text(record, "lastName")) if part)
        if full and full not in self.names:
            self.names.append(full)

    def add(self, kind: str, value: str, where: str) -> None:
        try:
            found = identifier(kind, value)
        except ValueError as error:
            raise _Bad(where, str(error)) from None
        if found not in self.identifiers:
            self.identifiers.append(found)

    def contacts(self, record: _Node | None) -> None:
        if record is None:
            return
        for child, value in _texts(record, "email"):
            self.add("email", value, child.path)
        for child, value in _texts(record, "phone"):
            self.add("phone", _with_calling_code(value, child.attr("countryCallingCode")), child.path)


def _account(
    node: _Node, builder: _PersonBuilder, ctx: _Context, *, account_kind: str
) -> tuple[str | None, str | None]:
    """Identifiers and IP events of one account (a person's own, or one associated with them)."""
    user_id = _one(node, "espIdentifier")
    user_id_text = user_id.text() if user_id is not None else None
    if user_id is not None and user_id_text is not None:
        builder.add(account_kind, user_id_text, user_id.path)
    screen = _one(node, "screenName")
    screen_text = screen.text() if screen is not None else None
    if screen is not None and screen_text is not None:
        builder.add("screen_name", screen_text, screen.path)
    for child, value in _texts(node, "displayName"):
        builder.add("display_name", value, child.path)
    for child, value in _texts(node, "profileUrl"):
        builder.add("profile_url", value, child.path)
    for device in node.children("deviceId"):
        id_value = _text(device, "idValue")
        if id_value is None:
            raise _Bad(device.path, "deviceId without idValue")
        id_type = _text(device, "idType")
        builder.add("device_id", f"{id_type}:{id_value}" if id_type else id_value, device.path)
    account = user_id_text or screen_text
    service = _text(node, "espService") or _text(node, "platform") or ctx.service
    for event in node.children("ipCaptureEvent"):
        builder.events.append(_event(event, ctx, default_event="Unknown", account=account, service=service))
    return account, service


def _person(node: _Node, role: str, record_name: str, ctx: _Context) -> tuple[Person, str | None, str | None]:
    builder = _PersonBuilder()
    record = _one(node, record_name)
    builder.name(record)
    builder.contacts(record)
    account, service = _account(node, builder, ctx, account_kind="user_id")
    for linked in node.children("associatedAccount"):
        builder.name(linked)
        builder.contacts(linked)
        _account(linked, builder, ctx, account_kind="account")
    person = Person(
        role=role,
        names=tuple(builder.names),
        identifiers=tuple(builder.identifiers),
        events=tuple(builder.events),
    )
    return person, account, service


def _hashes(node: _Node) -> dict[str, str]:
    found: dict[str, str] = {}
    for child in node.children("originalFileHash"):
        value = child.text()
        kind = (child.attr("hashType") or "").lower().replace("-", "")
        if value is None or kind not in _HASH_DIGITS:
            continue  # PhotoDNA, PDQ and the like: not digests this record keeps
        value = value.lower()
        if len(value) != _HASH_DIGITS[kind] or not set(value) <= _HEX:
            raise _Bad(child.path, f"{kind.upper()} {value!r} is not {_HASH_DIGITS[kind]} hex digits")
        if found.setdefault(kind, value) != value:
            raise _Bad(child.path, f"two different {kind.upper()} values for one file")
    return found


def _file(node: _Node, ctx: _Context) -> ReportedFile:
    hashes = _hashes(node)
    file_name = _text(node, "originalFileName") or _text(node, "fileName")
    classification = _text(node, "industryClassification")
    if classification is not None:
        classification = classification.upper()
        if classification not in CLASSIFICATIONS:
            where = node.children("industryClassification")[0].path
            raise _Bad(where, f"industryClassification {classification!r} is not one of A1, A2, B1, B2")
    md5, sha1, sha256 = hashes.get("md5"), hashes.get("sha1"), hashes.get("sha256")
    events = tuple(
        _event(
            event,
            ctx,
            default_event="Upload",  # the schema: "the upload IP address of the file and when it occurred"
            account=ctx.account,
            service=ctx.service,
            file_name=file_name,
            hashes=(md5, sha1, sha256),
        )
        for event in node.children("ipCaptureEvent")
    )
    return ReportedFile(
        filename=file_name,
        url=_text(node, "locationOfFile"),
        md5=md5,
        sha1=sha1,
        sha256=sha256,
        classification=classification,
        viewed_by_esp=_bool(node, "fileViewedByEsp"),
        publicly_available=_bool(node, "publiclyAvailable"),
        events=events,
    )


def _report(node: _Node, ctx: _Context) -> TipReport:
    if isinstance(node, _JsonNode) and not isinstance(node.value, dict):
        raise _Bad(node.path or "/", f"expected a report object, found a JSON {type(node.value).__name__}")
    report_id = node.attr("reportId") if isinstance(node, _XmlNode) else None
    report_id = report_id or _text(node, "reportId")
    summary = _one(node, "incidentSummary")
    platform = _text(summary, "platform")
    incident_time = None
    when = _one(summary, "incidentDateTime") if summary is not None else None
    when_text = when.text() if when is not None else None
    if when is not None and when_text is not None:
        try:
            incident_time = to_utc(when_text, None)[0]
        except ValueError as error:
            raise _Bad(when.path, str(error), _TIME_HINT) from None
    ctx.account = None
    ctx.service = platform
    persons: list[Person] = []
    for role, container, record in _PERSON_ELEMENTS:
        for person_node in node.children(container):
            person, account, service = _person(person_node, role, record, ctx)
            persons.append(person)
            if role == "reported":
                ctx.account, ctx.service = account, service
    file_nodes = node.children("fileDetails") + ctx.loose_files.pop(report_id or "", [])
    files = [_file(file_node, ctx) for file_node in file_nodes]
    p2p_events: list[IpEvent] = []
    for details in node.children("internetDetails"):
        for p2p in details.children("peer2peerIncident"):
            client = _text(p2p, "client")
            p2p_events.extend(
                _event(event, ctx, default_event="Unknown", account=None, service=client)
                for event in p2p.children("ipCaptureEvent")
            )
    events = [event for person in persons for event in person.events]
    events += [event for file in files for event in file.events]
    events += p2p_events
    return TipReport(
        source_format=ctx.source_format,
        source_name=ctx.name,
        report_id=report_id,
        esp=_text(_one(node, "reporter"), "espName") or platform,
        incident_type=_text(summary, "incidentType"),
        incident_time_utc=incident_time,
        summary=_text(node, "additionalInfo"),
        persons=tuple(persons),
        files=tuple(files),
        events=tuple(events),
    )


def _read(reports: list[_Node], loose_files: list[_Node], ctx: _Context) -> list[TipReport]:
    if not reports:
        raise _Bad(
            "", "no report in the file", "a CyberTipline file holds <report> elements (JSON: report objects)"
        )
    for file_node in loose_files:
        report_id = _text(file_node, "reportId")
        if report_id is None:
            raise _Bad(file_node.path, "fileDetails outside a report without reportId: whose file is it?")
        ctx.loose_files.setdefault(report_id, []).append(file_node)
    result = [_report(node, ctx) for node in reports]
    if ctx.loose_files:
        report_id, nodes = next(iter(ctx.loose_files.items()))
        raise _Bad(nodes[0].path, f"fileDetails for report {report_id!r}, which is not in this file")
    return result


def _refuse(name: str, bad: _Bad) -> TipFormatError:
    return TipFormatError(name, bad.where or None, bad.problem, bad.hint)


# --- entry points ------------------------------------------------------------------------------------


def read_cybertip_xml(data: bytes, name: str) -> list[TipReport]:
    """Every report of a CyberTipline XML file (one `report` root, or a wrapper root holding several)."""
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise TipFormatError(
            name,
            None,
            "refused for safety: the XML declares a DTD (<!DOCTYPE ...>), the way entity tricks get in "
            "(reading local files such as file:///etc/passwd, or expanding until memory runs out); "
            "nothing was read",
            "a CyberTipline report never needs a DTD: ask the sender for the report without one",
        ) from None
    except ET.ParseError as error:
        line, column = error.position
        raise TipFormatError(
            name, f"line {line}", f"not well-formed XML ({error.msg}, column {column})", "nothing was read"
        ) from None
    ctx = _Context(name, "cybertip-xml")
    tag = _local(root.tag)
    top = _XmlNode(root, f"/{tag}")
    try:
        if tag == "report":
            return _read([top], [], ctx)
        return _read(top.children("report"), top.children("fileDetails"), ctx)
    except _Bad as bad:
        raise _refuse(name, bad) from None


def read_cybertip_json(data: bytes, name: str) -> list[TipReport]:
    """Every report of a CyberTipline-style JSON file: one report object, a list, or {"reports": [...]}."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TipFormatError(name, f"line {line}", "not UTF-8 text", "save the file as UTF-8") from None
    except json.JSONDecodeError as error:
        raise TipFormatError(
            name, f"line {error.lineno}", f"not valid JSON ({error.msg}, column {error.colno})"
        ) from None
    ctx = _Context(name, "cybertip-json")
    top = _JsonNode(document, "")
    try:
        if isinstance(document, list):
            return _read([_JsonNode(item, _pointer("", i)) for i, item in enumerate(document)], [], ctx)
        if not isinstance(document, dict):
            raise _Bad(
                "", f"expected a report object or a list of them, found a JSON {type(document).__name__}"
            )
        if "reports" in document or "report" in document:
            return _read(top.children("reports") + top.children("report"), top.children("fileDetails"), ctx)
        return _read([top], [], ctx)
    except _Bad as bad:
        raise _refuse(name, bad) from None
