"""The abuse contact a regional internet registry lists for an address, read from its RDAP answer.

RDAP (RFC 9083) answers are JSON from a server outside the unit's control, so every field's type is
checked and the walk through nested entities is bounded: a malformed answer yields no contact, not an
error. The reader takes the HTTP call as a function so the network layer (and its address policy) stays
in one place and tests can pass recorded answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from himaya.errors import UsageError
from himaya.online.hosting import EMAIL_ADDRESS, AbuseContact, canonical_ip

# A hostile or broken server can nest entities without end; real answers stay within three levels.
_MAX_ENTITY_DEPTH = 6
_MAX_ENTITIES = 500


def rdap_abuse_contact(
    ip: str, get_json: Callable[[str], Any], base_url: str = "https://rdap.org/"
) -> AbuseContact | None:
    """The abuse contact RDAP registers for the network of `ip`, or None when it names none usable.

    `get_json` fetches a URL and returns the decoded JSON (its OnlineError propagates). Entities are
    searched breadth first (RIPE lists the abuse role at the top, ARIN inside the organisation), and an
    abuse entity with an e-mail address is preferred to one without.
    """
    try:
        address = canonical_ip(ip)
    except ValueError:
        raise UsageError(f"{ip!r} is not an IP address; give an IPv4 or IPv6 address") from None
    answer = get_json(f"{base_url.rstrip('/')}/ip/{address}")
    if not isinstance(answer, Mapping):
        return None
    country = answer.get("country")
    country = country.upper() if isinstance(country, str) and re.fullmatch(r"[A-Za-z]{2}", country) else None
    without_email: AbuseContact | None = None
    for entity in _entities(answer):
        roles = entity.get("roles")
        if not isinstance(roles, list) or "abuse" not in (r.lower() for r in roles if isinstance(r, str)):
            continue
        name, email = _vcard_name_email(entity.get("vcardArray"))
        handle = entity.get("handle")
        if name is None:
            name = f"{handle} (abuse)" if isinstance(handle, str) and handle else None
        if name is None and email is None:
            continue
        contact = AbuseContact(
            name=name or email or "",
            email=email,
            country=country,
            channel="direct",
            source="rdap",
        )
        if email is not None:
            return contact
        without_email = without_email or contact
    return without_email


def _entities(answer: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    level: list[Any] = [answer]
    seen = 0
    for _depth in range(_MAX_ENTITY_DEPTH):
        next_level: list[Any] = []
        for parent in level:
            children = parent.get("entities") if isinstance(parent, Mapping) else None
            if not isinstance(children, list):
                continue
            for child in children:
                if not isinstance(child, Mapping):
                    continue
                seen += 1
                if seen > _MAX_ENTITIES:
                    return
                yield child
                next_level.append(child)
        level = next_level


def _vcard_name_email(vcard: Any) -> tuple[str | None, str | None]:
    """fn and email of a jCard (RFC 7095): ["vcard", [[name, params, type, value], ...]]."""
    if not (isinstance(vcard, list) and len(vcard) == 2 and isinstance(vcard[1], list)):
        return None, None
    name: str | None = None
    email: str | None = None
    for item in vcard[1]:
        if not (isinstance(item, list) and len(item) >= 4 and isinstance(item[0], str)):
            continue
        value = item[3]
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if item[0].lower() == "fn" and name is None:
            name = value
        elif item[0].lower() == "email" and email is None:
            candidate = value.removeprefix("mailto:")
            if EMAIL_ADDRESS.fullmatch(candidate):
                email = candidate
    return name, email
