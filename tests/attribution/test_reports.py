"""The records readers return: frozen (a read report cannot be changed on its way to the store) and
hashable (the same event read from two sources collapses in a set)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from himaya.attribution.reports import IDENTIFIER_KINDS, Identifier, IpEvent, Person


def event(source: str) -> IpEvent:
    return IpEvent(
        ip="203.0.113.66",
        port=51234,
        time_utc=datetime(2026, 3, 28, 21, 0, tzinfo=UTC),
        original_time="2026-03-28T21:00:00Z",
        original_zone="Z",
        zone_assumed=False,
        event="Login",
        account="test-user-17",
        service=None,
        possible_proxy=None,
        filename=None,
        md5=None,
        sha1=None,
        sha256=None,
        source=source,
    )


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        event("a").ip = "192.0.2.1"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Identifier("email", "test@example.org").value = "x"  # type: ignore[misc]


def test_events_have_no_per_instance_dict() -> None:
    # A million-line log holds a million events: slots keep each one small.
    assert not hasattr(event("a"), "__dict__")


def test_records_hash_by_value() -> None:
    assert len({event("a.xml:/report"), event("a.xml:/report")}) == 1
    assert len({event("a.xml:/report"), event("b.csv:line 2")}) == 2  # where it was read is part of it
    person = Person("reported", ("Test Suspect",), (Identifier("email", "test@example.org"),), (event("a"),))
    assert hash(person) == hash(dataclasses.replace(person))


def test_identifier_kinds() -> None:
    assert {
        "email",
        "phone",
        "user_id",
        "screen_name",
        "display_name",
        "profile_url",
        "device_id",
        "account",
    } == (IDENTIFIER_KINDS)
