"""Who hosts an address: offline IP databases, the unit's contacts table, host names.

Nothing here resolves a real name or reaches a network: resolvers are fakes, and the IP databases are
built by tests/builders/mmdb.py from documentation ranges and private-use AS numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from himaya.errors import OnlineError, UsageError
from himaya.online.hosting import (
    AbuseContact,
    IpDatabase,
    IpInfo,
    choose_contact,
    host_of,
    parse_contacts_csv,
    resolve_addresses,
)
from tests.builders.mmdb import build_test_mmdb

# --- IP databases -----------------------------------------------------------------------------------


@pytest.fixture
def test_db(tmp_path: Path) -> Path:
    return build_test_mmdb(tmp_path / "test.mmdb", built_utc=datetime(2024, 5, 7, 12, 0, tzinfo=UTC))


def test_lookup_ipv4_ipv6_and_mapped(test_db: Path) -> None:
    built = datetime(2024, 5, 7, 12, 0, tzinfo=UTC)
    with IpDatabase([test_db]) as database:
        assert database.lookup("127.0.0.1") == IpInfo(
            ip="127.0.0.1",
            asn=64512,
            org="TEST Loopback Hosting",
            country="JO",
            network="127.0.0.0/8",
            database="Himaya-TEST-ASN-Country",
            built_utc=built,
        )
        v6 = database.lookup("2001:DB8:0:0::7")
        assert (v6.ip, v6.asn, v6.org, v6.country, v6.network) == (
            "2001:db8::7",
            64514,
            "TEST IPv6 Hosting",
            "DE",
            "2001:db8::/32",
        )
        # An IPv4-mapped address is the IPv4 host it carries; the database holds it only in IPv4 form.
        mapped = database.lookup("::ffff:192.0.2.44")
        assert (mapped.ip, mapped.asn, mapped.country, mapped.network) == (
            "192.0.2.44",
            64513,
            "NL",
            "192.0.2.0/24",
        )
        assert database.databases == [("Himaya-TEST-ASN-Country", built)]


@pytest.mark.parametrize("ip", ["198.51.100.7", "2001:db9::1", "::ffff:203.0.113.9", "0.0.0.0"])
def test_an_address_in_no_database_has_no_facts(test_db: Path, ip: str) -> None:
    with IpDatabase([test_db]) as database:
        info = database.lookup(ip)
    assert info.ip == ip.removeprefix("::ffff:")
    assert (info.asn, info.org, info.country, info.network, info.database, info.built_utc) == (None,) * 6


def test_built_utc_is_the_files_build_time_when_not_chosen(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    with IpDatabase([build_test_mmdb(tmp_path / "now.mmdb")]) as database:
        built = database.lookup("127.0.0.2").built_utc
    assert built is not None and built.tzinfo is not None
    assert before <= built <= datetime.now(UTC)


def test_not_an_address_is_a_usage_error(test_db: Path) -> None:
    with (
        IpDatabase([test_db]) as database,
        pytest.raises(UsageError, match=r"'cdn\.example\.net' is not an IP"),
    ):
        database.lookup("cdn.example.net")


def test_asn_only_and_country_only_databases_are_combined(tmp_path: Path) -> None:
    asn_db = build_test_mmdb(
        tmp_path / "asn.mmdb",
        [
            (
                "192.0.2.0/24",
                {"autonomous_system_number": 64513, "autonomous_system_organization": "TEST Offshore"},
            ),
            (
                "2001:db8::/32",
                {"autonomous_system_number": 64514, "autonomous_system_organization": "TEST v6"},
            ),
        ],
        database_type="GeoLite2-ASN",
        built_utc=datetime(2024, 5, 1, tzinfo=UTC),
    )
    country_db = build_test_mmdb(
        tmp_path / "country.mmdb",
        [
            # A finer block than the ASN's: the network reported is the ASN's, the block that moves.
            ("192.0.2.0/25", {"country": {"iso_code": "nl"}, "registered_country": {"iso_code": "DE"}}),
            ("198.51.100.0/24", {"registered_country": {"iso_code": "SE"}}),  # anycast: only registered
            ("2001:db8::/32", {"continent": {"code": "EU"}}),  # no country at all
        ],
        database_type="GeoLite2-Country",
        built_utc=datetime(2024, 4, 16, tzinfo=UTC),
    )
    with IpDatabase([asn_db, country_db]) as database:
        both = database.lookup("192.0.2.10")
        assert (both.asn, both.org, both.country, both.network) == (
            64513,
            "TEST Offshore",
            "NL",
            "192.0.2.0/24",
        )
        assert both.database == "GeoLite2-ASN, GeoLite2-Country"
        assert both.built_utc == datetime(2024, 4, 16, tzinfo=UTC)  # the oldest database used

        asn_only = database.lookup("192.0.2.200")  # outside the country block
        assert (asn_only.asn, asn_only.country, asn_only.database) == (64513, None, "GeoLite2-ASN")
        assert asn_only.built_utc == datetime(2024, 5, 1, tzinfo=UTC)

        country_only = database.lookup("198.51.100.1")
        assert (country_only.asn, country_only.country, country_only.network) == (
            None,
            "SE",
            "198.51.100.0/24",
        )
        assert country_only.database == "GeoLite2-Country"

        v6 = database.lookup("2001:db8::1")
        assert (v6.asn, v6.country, v6.database) == (64514, None, "GeoLite2-ASN")
        assert [kind for kind, _built in database.databases] == ["GeoLite2-ASN", "GeoLite2-Country"]


def test_an_ipv4_only_database_answers_nothing_for_ipv6(tmp_path: Path) -> None:
    v4_only = build_test_mmdb(
        tmp_path / "v4.mmdb",
        [("192.0.2.0/24", {"country": {"iso_code": "NL"}})],
        database_type="DBIP-Country-Lite",
        ip_version=4,
    )
    with IpDatabase([v4_only]) as database:
        assert database.lookup("2001:db8::1").country is None
        assert database.lookup("::ffff:192.0.2.1").country == "NL"


def test_a_record_above_the_ipv4_subtree_answers_ipv4_too(tmp_path: Path) -> None:
    # Some IPv6 databases hold one record for all of ::/64; an IPv4 look-up then ends above ::/96 and
    # maxminddb reports a negative IPv4 prefix length.
    wide = build_test_mmdb(tmp_path / "wide.mmdb", [("::/64", {"country": {"iso_code": "JO"}})])
    with IpDatabase([wide]) as database:
        info = database.lookup("192.0.2.1")
    assert (info.country, info.network) == ("JO", "0.0.0.0/0")


def test_missing_corrupt_or_truncated_database_is_an_online_error_with_a_next_step(
    tmp_path: Path, test_db: Path
) -> None:
    garbage = tmp_path / "GeoLite2-ASN.mmdb"
    garbage.write_bytes(b"\x00GARBAGE\xff" * 500)
    truncated = tmp_path / "truncated.mmdb"
    truncated.write_bytes(test_db.read_bytes()[:100])
    csv_instead = tmp_path / "GeoLite2-ASN-Blocks-IPv4.csv"
    csv_instead.write_text("network,autonomous_system_number\n192.0.2.0/24,64513\n")
    for bad in (tmp_path / "absent.mmdb", garbage, truncated, csv_instead, tmp_path):
        with pytest.raises(OnlineError) as raised:
            IpDatabase([test_db, bad])
        assert str(bad) in str(raised.value)
        assert "online.mmdb" in str(raised.value) and "GeoLite2" in str(raised.value)


def test_close_ends_look_ups(test_db: Path) -> None:
    database = IpDatabase([test_db])
    database.close()
    with pytest.raises(ValueError, match="closed"):
        database.lookup("127.0.0.1")


# --- contacts table ---------------------------------------------------------------------------------

GOOD_CSV = (
    "\ufeffchannel,name,asn,domain,org_contains,email,country\r\n"
    "direct,Example Hosting abuse desk,AS64512,,,abuse@example.net,jo\r\n"
    "\r\n"
    'direct,"CDN, Example",,.CDN.Example.NET.,,mailto:abuse@cdn.example.net,\r\n'
    "partner,TEST Hotline NL,,,Offshore,hotline@hotline.example,NL\r\n"
)


def test_contacts_csv_good_file() -> None:
    assert parse_contacts_csv(GOOD_CSV, "contacts.csv") == [
        AbuseContact(
            name="Example Hosting abuse desk",
            email="abuse@example.net",
            country="JO",
            channel="direct",
            source="contacts",
            asn=64512,
        ),
        AbuseContact(
            name="CDN, Example",
            email="abuse@cdn.example.net",
            country=None,
            channel="direct",
            source="contacts",
            domain="cdn.example.net",
        ),
        AbuseContact(
            name="TEST Hotline NL",
            email="hotline@hotline.example",
            country="NL",
            channel="partner",
            source="contacts",
            org_contains="Offshore",
        ),
    ]


@pytest.mark.parametrize(
    ("bad_row", "problem"),
    [
        ("direct,Bad Mail,64999,,,abuse(at)example.net,", "not an e-mail address"),
        ("email-them,Bad Channel,64999,,,abuse@example.net,", "neither 'direct' nor 'partner'"),
        ("direct,Bad ASN,sixty-four,,,abuse@example.net,", "not an AS number"),
        ("direct,Covers Nothing,,,,abuse@example.net,NL", "would cover nothing"),
        ("direct,,64999,,,abuse@example.net,", "name is empty"),
        ("direct,Bad Country,64999,,,abuse@example.net,Jordan", "two-letter"),
        ("direct,Bad Domain,,https://example.net/x,,abuse@example.net,", "not a host name"),
        ("direct,Too Many,64999,,,abuse@example.net,NL,extra", "8 fields"),
    ],
)
def test_contacts_csv_bad_row_refuses_the_whole_file_naming_its_line(bad_row: str, problem: str) -> None:
    header, *rows = GOOD_CSV.splitlines()
    # Good rows on lines 2–5, the bad one on line 6: nothing of the file may come back.
    text = "\n".join([header, *rows, bad_row, rows[0]])
    with pytest.raises(UsageError) as raised:
        parse_contacts_csv(text, "unit-contacts.csv")
    message = str(raised.value)
    assert message.startswith("unit-contacts.csv: line 6: ")
    assert problem in message and "nothing was imported" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no header row"),
        ("name,email,channel\nX,x@example.net,direct\n", "one of asn, domain, org_contains"),
        ("name,asn\nX,64512\n", "lacks channel"),
        ("name,channel,asn,e-mail\n", "unknown column(s) 'e-mail'"),
        ("name,channel,asn,asn\n", "named twice"),
        ('name,channel,asn\n"unterminated,direct,64512\n' + "x" * 200_000, "not readable as CSV"),
    ],
)
def test_contacts_csv_bad_header_or_structure(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=r"^contacts\.csv") as raised:
        parse_contacts_csv(text, "contacts.csv")
    assert problem in str(raised.value)


# --- choosing a contact -----------------------------------------------------------------------------


def _contact(name: str, **covers: Any) -> AbuseContact:
    return AbuseContact(
        name=name,
        email=f"{name}@contacts.example",
        country=None,
        channel="direct",
        source="contacts",
        **covers,
    )


CONTACTS = [
    _contact("by-org-short", org_contains="offshore"),
    _contact("by-org-long", org_contains="TEST Offshore Hosting"),
    _contact("by-asn", asn=64513),
    _contact("by-asn-second", asn=64513),
    _contact("by-domain", domain="example.net"),
    _contact("by-subdomain", domain="cdn.example.net"),
]
OFFSHORE = IpInfo("192.0.2.7", 64513, "TEST Offshore Hosting BV", "NL", "192.0.2.0/24", "T", None)


@pytest.mark.parametrize(
    ("host", "info", "expected"),
    [
        ("img.cdn.example.net", OFFSHORE, "by-subdomain"),  # longest domain suffix beats all
        ("CDN.EXAMPLE.NET.", OFFSHORE, "by-subdomain"),
        ("www.example.net", OFFSHORE, "by-domain"),
        ("notexample.net", OFFSHORE, "by-asn"),  # a suffix must end at a dot
        ("192.0.2.7", OFFSHORE, "by-asn"),  # first of equal ASN contacts
        (
            "other.example.org",
            IpInfo("192.0.2.7", 64600, "TEST Offshore Hosting BV", None, None, None, None),
            "by-org-long",
        ),
        (
            "other.example.org",
            IpInfo("192.0.2.7", 64600, "Some OFFSHORE Ltd", None, None, None, None),
            "by-org-short",
        ),
        ("other.example.org", IpInfo("198.51.100.1", None, None, None, None, None, None), None),
    ],
)
def test_choose_contact_most_specific_first(host: str, info: IpInfo, expected: str | None) -> None:
    chosen = choose_contact(CONTACTS, host, info)
    assert (chosen.name if chosen else None) == expected


def test_choose_contact_from_a_database_answer(test_db: Path) -> None:
    contacts = parse_contacts_csv(GOOD_CSV, "contacts.csv")
    with IpDatabase([test_db]) as database:
        chosen = choose_contact(
            contacts, host_of("http://127.0.0.1:8080/x.jpg"), database.lookup("127.0.0.1")
        )
        partner = choose_contact(contacts, "files.example.org", database.lookup("192.0.2.1"))
    assert chosen is not None and chosen.name == "Example Hosting abuse desk"
    assert partner is not None and (partner.name, partner.channel) == ("TEST Hotline NL", "partner")


# --- host names and addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://CDN.Example.NET:8443/a.jpg?x=1", "cdn.example.net"),
        ("http://user:pw@files.example.net./", "files.example.net"),
        ("http://[2001:DB8::1]:8080/", "2001:db8::1"),
        ("http://192.0.2.1/x", "192.0.2.1"),
        ("https://bücher.example/x.jpg", "xn--bcher-kva.example"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize("url", ["not a url", "/relative/path.jpg", "http://[::1/", "mailto:x@example.net"])
def test_host_of_without_a_host_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="no host name"):
        host_of(url)


def _never_called(host: str, port: int) -> list[str]:
    raise AssertionError(f"the resolver was asked about {host}")


@pytest.mark.parametrize(
    ("literal", "expected"),
    [("192.0.2.1", "192.0.2.1"), ("[2001:DB8::1]", "2001:db8::1"), ("::ffff:192.0.2.9", "192.0.2.9")],
)
def test_resolve_addresses_never_resolves_a_literal(literal: str, expected: str) -> None:
    assert resolve_addresses(literal, _never_called) == [expected]


def test_resolve_addresses_canonicalises_deduplicates_and_sorts_ipv4_first() -> None:
    asked: list[tuple[str, int]] = []

    def fake(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["2001:DB8::2", "192.0.2.10", "192.0.2.9", "2001:db8:0::2", "::ffff:192.0.2.9", "fe80::1%eth0"]

    assert resolve_addresses("CDN.Example.NET.", fake) == [
        "192.0.2.9",
        "192.0.2.10",
        "2001:db8::2",
        "fe80::1",
    ]
    assert asked == [("cdn.example.net", 0)]


def test_resolve_addresses_failures_are_online_errors() -> None:
    def no_such_name(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(OnlineError, match=r"gone\.example\.net could not be resolved"):
        resolve_addresses("gone.example.net", no_such_name)
    with pytest.raises(OnlineError, match="not an IP address"):
        resolve_addresses("odd.example.net", lambda host, port: ["example.net"])
    with pytest.raises(UsageError):
        resolve_addresses("", _never_called)
