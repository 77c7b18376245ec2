"""RDAP answers shaped like ARIN's and RIPE's, and malformed ones: the abuse contact read from each.

Nothing here reaches a network: every RDAP fetch is a fake that returns a recorded-style answer.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.errors import OnlineError
from himaya.online.hosting import AbuseContact
from himaya.online.rdap import rdap_abuse_contact


def _jcard(*properties: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *properties]]


# Shaped like ARIN's answer for a direct allocation: the abuse role sits inside the registrant org,
# and the network has no "country".
ARIN_LIKE: dict[str, Any] = {
    "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
    "notices": [{"title": "Terms of Service", "description": ["By using the ARIN RDAP/Whois service..."]}],
    "handle": "NET-192-0-2-0-1",
    "startAddress": "192.0.2.0",
    "endAddress": "192.0.2.255",
    "ipVersion": "v4",
    "name": "EXAMPLE-HOSTING",
    "type": "DIRECT ALLOCATION",
    "parentHandle": "NET-192-0-0-0-0",
    "cidr0_cidrs": [{"v4prefix": "192.0.2.0", "length": 24}],
    "arin_originas0_originautnums": [64513],
    "status": ["active"],
    "port43": "whois.arin.net",
    "objectClassName": "ip network",
    "entities": [
        {
            "handle": "EXHO",
            "roles": ["registrant"],
            "objectClassName": "entity",
            "vcardArray": _jcard(
                ["fn", {}, "text", "Example Hosting LLC"],
                ["adr", {"label": "1 Example Way\nExampletown\nUS"}, "text", ["", "", "", "", "", "", ""]],
                ["kind", {}, "text", "org"],
            ),
            "entities": [
                {
                    "handle": "EXNOC-ARIN",
                    "roles": ["technical", "noc"],
                    "objectClassName": "entity",
                    "vcardArray": _jcard(
                        ["fn", {}, "text", "Example NOC"], ["email", {}, "text", "noc@example.net"]
                    ),
                },
                {
                    "handle": "EXABU-ARIN",
                    "roles": ["abuse"],
                    "status": ["validated"],
                    "objectClassName": "entity",
                    "vcardArray": _jcard(
                        ["adr", {"label": "1 Example Way"}, "text", ["", "", "", "", "", "", ""]],
                        ["fn", {}, "text", "Example Hosting abuse desk"],
                        ["org", {}, "text", "Example Hosting abuse desk"],
                        ["kind", {}, "text", "group"],
                        ["email", {}, "text", "abuse@example.net"],
                        ["tel", {"type": ["work", "voice"]}, "text", "+1-555-0100"],
                    ),
                },
            ],
        }
    ],
}

# Shaped like RIPE's: organisation, admin/tech and the abuse-c role side by side at the top, a country.
RIPE_LIKE: dict[str, Any] = {
    "handle": "192.0.2.0 - 192.0.2.255",
    "startAddress": "192.0.2.0",
    "endAddress": "192.0.2.255",
    "ipVersion": "v4",
    "name": "TEST-OFFSHORE-NET",
    "type": "ASSIGNED PA",
    "country": "nl",
    "objectClassName": "ip network",
    "port43": "whois.ripe.net",
    "entities": [
        {"handle": "ORG-TOH1-RIPE", "roles": ["registrant"], "objectClassName": "entity"},
        {
            "handle": "TOH1-RIPE",
            "roles": ["administrative", "technical"],
            "objectClassName": "entity",
            "vcardArray": _jcard(
                ["fn", {}, "text", "TEST Offshore NOC"], ["email", {}, "text", "noc@offshore.example"]
            ),
        },
        {
            "handle": "AR12345-RIPE",
            "roles": ["abuse"],
            "objectClassName": "entity",
            "vcardArray": _jcard(
                ["fn", {}, "text", "Abuse-C Role"],
                ["kind", {}, "text", "group"],
                ["email", {"type": "abuse"}, "text", "abuse@offshore.example"],
            ),
        },
    ],
    "links": [{"value": "https://rdap.db.ripe.net/ip/192.0.2.7", "rel": "self"}],
}


class FakeRdap:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        return self.answer


def test_rdap_arin_like_nested_abuse_entity() -> None:
    fake = FakeRdap(ARIN_LIKE)
    assert rdap_abuse_contact("192.0.2.7", fake) == AbuseContact(
        name="Example Hosting abuse desk",
        email="abuse@example.net",
        country=None,
        channel="direct",
        source="rdap",
    )
    assert fake.urls == ["https://rdap.org/ip/192.0.2.7"]


def test_rdap_ripe_like_top_level_abuse_role_and_country() -> None:
    fake = FakeRdap(RIPE_LIKE)
    contact = rdap_abuse_contact("::ffff:192.0.2.7", fake, base_url="https://rdap.test.example/rdap")
    assert contact == AbuseContact(
        name="Abuse-C Role", email="abuse@offshore.example", country="NL", channel="direct", source="rdap"
    )
    assert fake.urls == ["https://rdap.test.example/rdap/ip/192.0.2.7"]


def test_rdap_prefers_an_abuse_entity_with_email_and_falls_back_to_one_without() -> None:
    no_email = {
        "handle": "AB1-TEST",
        "roles": ["abuse"],
        "vcardArray": _jcard(["tel", {}, "text", "+1-555-0101"]),
    }
    with_email = {
        "roles": ["abuse"],
        "vcardArray": _jcard(["email", {}, "text", "mailto:abuse@later.example"]),
    }
    found = rdap_abuse_contact("2001:db8::1", FakeRdap({"entities": [no_email, {"entities": [with_email]}]}))
    assert found is not None and (found.name, found.email) == ("abuse@later.example", "abuse@later.example")
    only = rdap_abuse_contact("2001:db8::1", FakeRdap({"entities": [no_email]}))
    assert only is not None and (only.name, only.email) == ("AB1-TEST (abuse)", None)


def test_rdap_without_abuse_role_is_none() -> None:
    answer = copy.deepcopy(RIPE_LIKE)
    answer["entities"] = [entity for entity in answer["entities"] if entity["roles"] != ["abuse"]]
    assert rdap_abuse_contact("192.0.2.7", FakeRdap(answer)) is None
    assert rdap_abuse_contact("192.0.2.7", FakeRdap({"errorCode": 404, "title": "Not Found"})) is None


def _deep(levels: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "roles": ["abuse"],
        "vcardArray": _jcard(["email", {}, "text", "deep@x.example"]),
    }
    for _ in range(levels):
        answer = {"entities": [answer]}
    return answer


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "<html>503</html>",
        {"entities": "abuse"},
        {"entities": [1, None, {"roles": "abuse"}, {"roles": ["abuse"], "vcardArray": "x"}]},
        {"entities": [{"roles": ["abuse"], "vcardArray": ["vcard", [["fn"], ["email", {}, "text", 7], 5]]}]},
        {"entities": [{"roles": ["abuse"], "vcardArray": _jcard(["email", {}, "text", "not an address"])}]},
        _deep(5000),  # nested past any real answer: not searched, and no recursion error
    ],
)
def test_rdap_garbage_is_none(garbage: Any) -> None:
    assert rdap_abuse_contact("192.0.2.7", FakeRdap(garbage)) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["abuse", "vcard", "fn", "email"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["entities", "roles", "vcardArray", "handle", "country"]), children, max_size=5
        )
    ),
    max_leaves=40,
)


@given(answer=json_values)
def test_rdap_never_crashes_on_any_json(answer: Any) -> None:
    contact = rdap_abuse_contact("192.0.2.7", FakeRdap(answer))
    assert contact is None or (contact.source == "rdap" and contact.name)


def test_rdap_fetch_errors_propagate() -> None:
    def failing(url: str) -> Any:
        raise OnlineError(f"{url}: connection refused")

    with pytest.raises(OnlineError, match="connection refused"):
        rdap_abuse_contact("192.0.2.7", failing)
