"""`himaya tips summary`: who did what, from where — the case's reports merged and looked up offline.

- Events: one per (ip, port, UTC time, event, account), every source that reported it kept.
- Persons: persons of all reports sharing an identifier (email, phone, device id, account...) are one.
- IPs: events, uploads and how many uploads matched known material (alert hash sets, or files of the
  unit's cases), first and last time, ports, and who holds the address (offline .mmdb, with the
  database's build date: blocks move between ISPs), with flags that stop a wrong subscriber request.
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.online.hosting import IpDatabase, IpInfo
from himaya.store.models import (
    File,
    HashEntry,
    HashSet,
    IpEvent,
    TipIdentifier,
    TipPerson,
    TipReport,
)

CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Addresses no ISP assigns to a subscriber: a log naming one recorded an internal hop, not the user.
INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in (
        *("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"),
        *("fc00::/7", "fe80::/10", "::1/128"),
    )
)
# Organisation names that say "a server, not a subscriber's line": the address is a hosting, cloud or VPN
# exit, so a subscriber request to it would name the provider's customer at best (a heuristic; the
# flag asks a person to look, it decides nothing).
HOSTING_WORDS = ("hosting", "cloud", "datacenter", "data center", "server", "vps", "vpn", "colo")
ACCOUNT_KINDS = frozenset({"user_id", "screen_name", "account", "display_name"})
SQL_IN = 900


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_EVENT_COLUMNS = (
    IpEvent.ip,
    IpEvent.port,
    IpEvent.time_utc,
    IpEvent.event,
    IpEvent.account,
    IpEvent.source,
    IpEvent.original_time,
    IpEvent.original_zone,
    IpEvent.zone_assumed,
    IpEvent.service,
    IpEvent.possible_proxy,
    IpEvent.filename,
    IpEvent.md5,
    IpEvent.sha1,
    IpEvent.sha256,
)
_FILLED = ("service", "possible_proxy", "filename", "md5", "sha1", "sha256")


def _merged_events(session: Session, case_id: int) -> list[dict[str, Any]]:
    # Plain rows, not ORM objects: a case may hold millions of events.
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    times: dict[datetime, str] = {}
    query = (
        select(*_EVENT_COLUMNS)
        .where(IpEvent.case_id == case_id)
        .order_by(IpEvent.time_utc, IpEvent.ip, IpEvent.id)
        .execution_options(yield_per=20_000)
    )
    for row in session.execute(query):
        (ip, port, time_utc, event_name, account, source, original_time, original_zone, assumed) = row[:9]
        when = times.get(time_utc)
        if when is None:
            when = times[time_utc] = _utc(time_utc)
        key = (ip, port, when, event_name, account)
        event = merged.get(key)
        if event is None:
            merged[key] = {
                "ip": ip,
                "port": port,
                "time_utc": when,
                "event": event_name,
                "account": account,
                "source": source,
                # Grown beyond the contract: every source, the zone as written, what the upload was.
                "sources": [source],
                "original_time": original_time,
                "original_zone": original_zone,
                "zone_assumed": assumed,
                **dict(zip(_FILLED, row[9:], strict=True)),
            }
            continue
        event["sources"].append(source)
        for name, value in zip(_FILLED, row[9:], strict=True):
            if event[name] is None and value is not None:
                event[name] = value
    return list(merged.values())


def _known(session: Session, column: str, values: set[str]) -> set[str]:
    """Which digests are known material: an alert hash set's current entry, or a file of any case."""
    found: set[str] = set()
    ordered = sorted(values)
    for start in range(0, len(ordered), SQL_IN):
        chunk = ordered[start : start + SQL_IN]
        found.update(
            session.scalars(
                select(HashEntry.value)
                .join(HashSet, HashSet.id == HashEntry.hash_set_id)
                .where(
                    HashSet.kind == "alert",
                    HashEntry.hash_type == column,
                    HashEntry.retired_version_id.is_(None),
                    HashEntry.value.in_(chunk),
                )
            )
        )
        found.update(session.scalars(select(getattr(File, column)).where(getattr(File, column).in_(chunk))))
    return found


def _matched(session: Session, events: Iterable[dict[str, Any]]) -> set[int]:
    """Indexes (in `events`) of uploads whose file is known material."""
    events = list(events)
    known: dict[str, set[str]] = {}
    for column in ("md5", "sha1", "sha256"):
        values = {e[column] for e in events if e[column]}
        known[column] = _known(session, column, values) if values else set()
    return {
        index
        for index, e in enumerate(events)
        if any(e[column] and e[column] in known[column] for column in ("md5", "sha1", "sha256"))
    }


def _persons(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(TipPerson.id, TipPerson.role, TipPerson.names, TipIdentifier.kind, TipIdentifier.value)
        .join(TipReport, TipReport.id == TipPerson.report_id)
        .outerjoin(TipIdentifier, TipIdentifier.person_id == TipPerson.id)
        .where(TipReport.case_id == case_id)
        .order_by(TipPerson.id, TipIdentifier.id)
    ).all()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[tuple[str, str], int] = {}
    details: dict[int, tuple[str, list[str]]] = {}
    identifiers: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for person_id, role, names_json, kind, value in rows:
        find(person_id)
        details.setdefault(person_id, (role, json.loads(names_json) if names_json else []))
        if kind is None:
            continue
        identifiers[person_id].append((kind, value))
        key = (kind, value.lower())
        if key in owner:
            parent[find(person_id)] = find(owner[key])
        else:
            owner[key] = person_id
    groups: dict[int, list[int]] = defaultdict(list)
    for person_id in details:
        groups[find(person_id)].append(person_id)
    persons = []
    for members in groups.values():
        seen: dict[tuple[str, str], None] = {}
        names: dict[str, None] = {}
        roles: dict[str, None] = {}
        for member in members:
            role, member_names = details[member]
            roles[role] = None
            names.update(dict.fromkeys(member_names))
            seen.update(dict.fromkeys(identifiers[member]))
        persons.append(
            {
                "identifiers": [value for _, value in seen],
                "accounts": [value for kind, value in seen if kind in ACCOUNT_KINDS],
                # Grown: what each identifier is, the names given, the roles across reports.
                "identifier_kinds": [{"kind": kind, "value": value} for kind, value in seen],
                "names": list(names),
                "roles": list(roles),
                "reports": len(members),
            }
        )
    return persons


def _flags(ip: str, info: IpInfo | None, events: list[dict[str, Any]], unit_country: str) -> list[str]:
    flags: list[str] = []
    address = ipaddress.ip_address(ip)
    if any(address in network for network in INTERNAL):
        flags.append("internal-address")
    if any(e["possible_proxy"] for e in events):
        flags.append("proxy-reported")
    if info is not None and info.org and any(word in info.org.lower() for word in HOSTING_WORDS):
        flags.append("hosting")
    if unit_country and info is not None and info.country and info.country != unit_country:
        flags.append("abroad")  # a partner / Interpol referral, not an ISP request
    if address in CGNAT and any(e["port"] is None for e in events):
        # Many subscribers share the address; without the source port the ISP cannot tell them apart,
        # and a wrong subscriber means the wrong home is searched.
        flags.append("shared-address-no-port")
    return flags


def summary(
    session: Session, case_id: int, ipdb: IpDatabase | None = None, unit_country: str = ""
) -> dict[str, Any]:
    """The `tips summary --format json` object (docs/formats.md, "Tips and IP events")."""
    events = _merged_events(session, case_id)
    matched = _matched(session, (e for e in events))
    by_ip: dict[str, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        by_ip[event["ip"]].append(index)
    ips = []
    for ip, indexes in by_ip.items():
        own = [events[i] for i in indexes]
        uploads = [i for i in indexes if events[i]["event"].lower() == "upload"]
        info = ipdb.lookup(ip) if ipdb is not None else None
        times = [e["time_utc"] for e in own]
        ips.append(
            {
                "ip": ip,
                "events": len(own),
                "uploads": len(uploads),
                "matched": sum(1 for i in uploads if i in matched),
                "first_utc": min(times),
                "last_utc": max(times),
                "ports": sorted({e["port"] for e in own if e["port"] is not None}),
                "asn": info.asn if info else None,
                "org": info.org if info else None,
                "country": info.country if info else None,
                "flags": _flags(ip, info, own, unit_country),
                # Grown: the database that answered and when it was built, the services and accounts.
                "ipdb": info.database if info else None,
                "ipdb_built_utc": _utc(info.built_utc) if info and info.built_utc else None,
                "services": sorted({e["service"] for e in own if e["service"]}),
                "accounts": sorted({e["account"] for e in own if e["account"]}),
            }
        )
    ips.sort(key=lambda r: (-r["uploads"], -r["events"], r["ip"]))
    by_account: dict[str, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        if event["account"]:
            by_account[event["account"]].append(index)
    accounts = []
    for account, indexes in by_account.items():
        uploads = [i for i in indexes if events[i]["event"].lower() == "upload"]
        times = [events[i]["time_utc"] for i in indexes]
        accounts.append(
            {
                "account": account,
                "events": len(indexes),
                "uploads": len(uploads),
                "matched": sum(1 for i in uploads if i in matched),
                "first_utc": min(times),
                "last_utc": max(times),
                "ips": sorted({events[i]["ip"] for i in indexes}),
                "services": sorted({events[i]["service"] for i in indexes if events[i]["service"]}),
            }
        )
    accounts.sort(key=lambda r: (-r["uploads"], -r["events"], r["account"]))
    reports = session.scalars(select(TipReport.id).where(TipReport.case_id == case_id)).all()
    return {
        "reports": len(reports),
        "persons": _persons(session, case_id),
        "ips": ips,
        # Grown: the same activity per account.
        "accounts": accounts,
        "events": [{**event, "matched": index in matched} for index, event in enumerate(events)],
    }


def activity_lines(record: dict[str, Any], limit: int = 20) -> list[str]:
    """'IP x published N items (k matched as known material) between T1 and T2 via S' per address."""
    lines = []
    for ip in record["ips"][:limit]:
        via = f" via {', '.join(ip['services'])}" if ip["services"] else ""
        what = f"published {ip['uploads']} items ({ip['matched']} matched as known material)"
        if not ip["uploads"]:
            what = f"appears in {ip['events']} events"
        flags = f" [{', '.join(ip['flags'])}]" if ip["flags"] else ""
        holder = f" — AS{ip['asn']} {ip['org']} ({ip['country']})" if ip["asn"] else ""
        lines.append(
            f"IP {ip['ip']} {what} between {ip['first_utc']} and {ip['last_utc']}{via}{holder}{flags}"
        )
    return lines


def to_json(record: dict[str, Any]) -> str:
    """The summary as JSON text: one line per person, IP, account and event.

    Indenting the whole object would send Python's encoder down its slow path (16 s instead of 3 s for a
    million events); this stays readable line by line and is the same JSON value.
    """
    lines = ["{", f'  "reports": {json.dumps(record["reports"])},']
    keys = [key for key in record if key != "reports"]
    for position, key in enumerate(keys):
        items = record[key]
        lines.append(f"  {json.dumps(key)}: [")
        lines.extend(
            "    " + json.dumps(item, ensure_ascii=False) + ("," if index < len(items) - 1 else "")
            for index, item in enumerate(items)
        )
        lines.append("  ]" + ("," if position < len(keys) - 1 else ""))
    lines.append("}")
    return "\n".join(lines)
