"""MaxMind-format (.mmdb) IP databases for tests, written with mmdb-writer.

Networks are documentation and loopback ranges and the AS numbers are private-use (64512–65534), so no
answer here describes a real network.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import maxminddb
from mmdb_writer import MMDBWriter
from netaddr import IPNetwork, IPSet  # type: ignore[import-untyped]

DEFAULT_RECORDS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "127.0.0.0/8",
        {
            "autonomous_system_number": 64512,
            "autonomous_system_organization": "TEST Loopback Hosting",
            "country": {"iso_code": "JO"},
        },
    ),
    (
        "192.0.2.0/24",
        {
            "autonomous_system_number": 64513,
            "autonomous_system_organization": "TEST Offshore Hosting",
            "country": {"iso_code": "NL"},
        },
    ),
    (
        "2001:db8::/32",
        {
            "autonomous_system_number": 64514,
            "autonomous_system_organization": "TEST IPv6 Hosting",
            "country": {"iso_code": "DE"},
        },
    ),
)


class _DatedWriter(MMDBWriter):
    """mmdb-writer stamps the current time; tests of "oldest build" need a chosen one."""

    def __init__(self, built_utc: datetime | None, **options: Any) -> None:
        super().__init__(**options)
        self._built_utc = built_utc

    def _build_meta(self) -> dict[str, Any]:
        meta = super()._build_meta()
        if self._built_utc is not None:
            meta["build_epoch"] = int(self._built_utc.timestamp())
        return meta


def build_test_mmdb(
    path: Path,
    records: Sequence[tuple[str, dict[str, Any]]] | None = None,
    *,
    database_type: str = "Himaya-TEST-ASN-Country",
    built_utc: datetime | None = None,
    ip_version: int = 6,
) -> Path:
    """Write `records` (CIDR → record) to `path` and check that maxminddb reads it back.

    With ip_version 6 (the default, as MaxMind ships) IPv4 networks sit in the IPv4-compatible part of
    the tree (::a.b.c.d/96+), which is where maxminddb looks an IPv4 address up. IPv4-mapped addresses
    (::ffff:a.b.c.d) are deliberately not aliased, as nothing promises a database does: the reader has
    to turn them back into IPv4.
    """
    writer = _DatedWriter(
        built_utc,
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=database_type,
        languages=["en"],
        description="Himaya TEST database: documentation and loopback ranges, private-use AS numbers",
    )
    for network, record in DEFAULT_RECORDS if records is None else records:
        writer.insert_network(IPSet([IPNetwork(network)]), record)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    with maxminddb.open_database(str(path)) as reader:
        metadata = reader.metadata()
        assert metadata.database_type == database_type
        assert metadata.build_epoch > 0
    return path
