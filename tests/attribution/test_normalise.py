"""Addresses, times and identifiers in one written form; every refusal says why.

Addresses come from the documentation ranges and CGNAT space; zones and dates are those of real
daylight-saving changes (Europe/London 2026-03-29 and 2026-10-25, America/New_York 2026-03-08).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.attribution.normalise import (
    MissingZoneError,
    canonical_ip,
    event_name,
    identifier,
    split_host_port,
    to_utc,
)
from himaya.attribution.reports import Identifier

# --- addresses ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 198.51.100.7\t", "198.51.100.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:C000:0201", "192.0.2.1"),
        ("100.64.0.1", "100.64.0.1"),
    ],
)
def test_canonical_ip(written: str, canonical: str) -> None:
    assert canonical_ip(written) == canonical


@pytest.mark.parametrize(
    ("junk", "says"),
    [
        ("192.0.2.256", "not an IP address"),
        ("192.0.2", "not an IP address"),
        ("www.example.org", "not an IP address"),
        ("", "not an IP address"),
        ("fe80::1%eth0", "zone id"),
        ("[fe80::1%25en0]", "zone id"),
        ("2001:db8::1::2", "not an IP address"),
    ],
)
def test_canonical_ip_refuses_junk(junk: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        canonical_ip(junk)


@given(st.ip_addresses())
def test_canonical_ip_accepts_every_address_and_is_idempotent(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    canonical = canonical_ip(str(address))
    assert canonical_ip(canonical) == canonical
    assert canonical_ip(address.exploded) == canonical
    assert canonical_ip(str(address).upper()) == canonical
    assert ipaddress.ip_address(canonical) in (address, getattr(address, "ipv4_mapped", None))


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_ipv6_is_the_ipv4_address(address: ipaddress.IPv4Address) -> None:
    assert canonical_ip(f"::ffff:{address}") == str(address)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", None)),
        ("100.64.1.2:51234", ("100.64.1.2", 51234)),
        ("[2001:db8::1]:51234", ("2001:db8::1", 51234)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),  # a bare IPv6 address has no port to split off
        ("[::ffff:192.0.2.9]:443", ("192.0.2.9", 443)),
    ],
)
def test_split_host_port(field: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(field) == expected


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("192.0.2.1:70000", "out of range"),
        ("[2001:db8::1]x", "expected ':port'"),
        ("[2001:db8::1", "without"),
    ],
)
def test_split_host_port_refuses(field: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        split_host_port(field)


# --- times -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc", "zone"),
    [
        ("2026-03-29T01:30:00+03:00", datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "+03:00"),
        ("2026-03-29T01:30:00+0300", datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "+03:00"),
        ("2026-03-29 01:30:00-04", datetime(2026, 3, 29, 5, 30, tzinfo=UTC), "-04:00"),
        ("2026-03-29T01:30:00Z", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Z"),
        ("2026-03-29T01:30:00.123456789Z", datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC), "Z"),
        ("2026-07-01T12:00:00 Asia/Amman", datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "Asia/Amman"),
        ("2026-07-01T12:00:00[Europe/London]", datetime(2026, 7, 1, 11, 0, tzinfo=UTC), "Europe/London"),
        ("2026-07-01T12:00 UTC", datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "UTC"),
    ],
)
def test_to_utc_with_the_zone_written(written: str, utc: datetime, zone: str) -> None:
    assert to_utc(written, default_zone="Asia/Tokyo") == (utc, zone, False)  # the written zone wins


def test_to_utc_applies_the_default_zone_and_says_so() -> None:
    assert to_utc("2026-07-01 12:00:00", "Asia/Amman") == (datetime(2026, 7, 1, 9, 0, tzinfo=UTC), None, True)
    assert to_utc("2026-07-01 12:00:00", "+05:30") == (datetime(2026, 7, 1, 6, 30, tzinfo=UTC), None, True)


def test_a_time_without_zone_and_no_default_is_refused() -> None:
    with pytest.raises(MissingZoneError, match="no zone"):
        to_utc("2026-07-01 12:00:00", None)


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # The same wall-clock hour the day before and the day after clocks go forward.
        ("Europe/London", ("2026-03-28 09:00:00", datetime(2026, 3, 28, 9, tzinfo=UTC)),
         ("2026-03-30 09:00:00", datetime(2026, 3, 30, 8, tzinfo=UTC))),
        ("America/New_York", ("2026-03-07 09:00:00", datetime(2026, 3, 7, 14, tzinfo=UTC)),
         ("2026-03-09 09:00:00", datetime(2026, 3, 9, 13, tzinfo=UTC))),
        # ... and around clocks going back.
        ("Europe/London", ("2026-10-24 09:00:00", datetime(2026, 10, 24, 8, tzinfo=UTC)),
         ("2026-10-26 09:00:00", datetime(2026, 10, 26, 9, tzinfo=UTC))),
    ],
)  # fmt: skip
def test_daylight_saving_changes_are_applied(
    zone: str, before: tuple[str, datetime], after: tuple[str, datetime]
) -> None:
    assert to_utc(before[0], zone)[0] == before[1]
    assert to_utc(after[0], zone)[0] == after[1]


def test_the_hour_around_the_london_change() -> None:
    assert to_utc("2026-03-29 00:59:59", "Europe/London")[0] == datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
    assert to_utc("2026-03-29 02:00:00", "Europe/London")[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_wall_clock_time_skipped_by_daylight_saving_is_refused() -> None:
    with pytest.raises(ValueError, match="does not exist in Europe/London"):
        to_utc("2026-03-29 01:30:00", "Europe/London")


def test_a_wall_clock_time_that_happened_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="happened twice"):
        to_utc("2026-10-25 01:30:00", "Europe/London")
    # With its offset the same wall-clock time is one instant, and accepted.
    assert to_utc("2026-10-25T01:30:00+01:00", None)[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert to_utc("2026-10-25T01:30:00+00:00", None)[0] == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("29/03/2026 01:30", "not an ISO-8601"),
        ("2026-02-30T10:00:00Z", "not a real date"),
        ("2026-03-29T25:00:00Z", "not a real date"),
        ("2026-03-29T10:00:00+24:00", "out of range"),
        ("2026-03-29T10:00:00 Mars/Olympus", "not a time zone"),
    ],
)
def test_to_utc_refuses(written: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        to_utc(written, "UTC")


def test_an_unknown_default_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="not a time zone"):
        to_utc("2026-03-29 10:00:00", "Asia/Atlantis")


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_to_utc_round_trips_isoformat(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    utc, zone, assumed = to_utc(aware.isoformat(), None)
    assert utc == aware
    assert utc.tzinfo is UTC
    assert assumed is False
    assert zone is not None


# --- identifiers and events --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "written", "value"),
    [
        ("email", "  Test-User-17@Example.ORG ", "test-user-17@example.org"),
        ("phone", "+962 (79) 000-0017", "+962790000017"),
        ("phone", "00962 79 000 0017", "+962790000017"),
        ("phone", "079 000 0017", "0790000017"),  # national: no country code is invented
        (
            "profile_url",
            " https://photos.example.org/u/Test-User-17 ",
            "https://photos.example.org/u/Test-User-17",
        ),
        ("screen_name", "Test_Screen_17", "Test_Screen_17"),
        ("device_id", "IMEI:TEST-0017", "IMEI:TEST-0017"),
    ],
)
def test_identifier(kind: str, written: str, value: str) -> None:
    assert identifier(kind, written) == Identifier(kind, value)


@pytest.mark.parametrize(
    ("kind", "written", "says"),
    [("email", "   ", "empty"), ("phone", "n/a", "no digits"), ("shoe_size", "42", "not an identifier kind")],
)
def test_identifier_refuses(kind: str, written: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        identifier(kind, written)


def test_event_names_take_their_canonical_capitalisation() -> None:
    assert [event_name(n) for n in ("LOGIN", "upload", " Registration ", "password-reset")] == [
        "Login",
        "Upload",
        "Registration",
        "password-reset",
    ]
