"""The address policy (who a capture may reach) and the backend that connects only to checked addresses."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.errors import BlockedAddressError, OnlineError, UsageError
from himaya.online.guard import AddressPolicy, GuardedBackend, ResolutionError, SystemResolver, is_ip_literal
from tests.builders.web_server import Canary, TestSite

LOCAL_ONLY = AddressPolicy.from_cidrs(["127.0.0.1/32"])
DEFAULT = AddressPolicy()


def teredo(server: str, client: str) -> str:
    """A Teredo address (2001::/32): the server's IPv4, then the client's IPv4 with every bit flipped."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    value |= int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address(value))


def nat64(v4: ipaddress.IPv4Address) -> str:
    return str(ipaddress.IPv6Address((0x0064FF9B << 96) | int(v4)))


def sixtofour(v4: ipaddress.IPv4Address) -> str:
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1))


def mapped(v4: ipaddress.IPv4Address) -> str:
    return f"::ffff:{v4}"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private network 10.0.0.0/8"),
        ("172.16.5.4", "private network 172.16.0.0/12"),
        ("192.168.1.1", "private network 192.168.0.0/16"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("[::ffff:10.0.0.1]", "IPv4-mapped IPv6"),
        ("::ffff:8.8.8.8", "IPv4-mapped IPv6"),
        ("100.64.1.1", "carrier-grade NAT 100.64.0.0/10"),
        ("127.0.0.2", "loopback"),  # the canary: only 127.0.0.1/32 is allowed
        ("fc00::1", "unique local"),
        ("64:ff9b::a00:1", "NAT64 / 6to4 / Teredo embedding 10.0.0.1"),
        ("2002:a00:1::1", "NAT64 / 6to4 / Teredo embedding 10.0.0.1"),
        (teredo("8.8.8.8", "192.168.0.7"), "NAT64 / 6to4 / Teredo embedding 192.168.0.7"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("192.0.2.10", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("::10.0.0.1", "reserved"),  # the deprecated IPv4-compatible form
        ("2001:db8::1", "documentation"),
        ("not-an-address", "not an IP address"),
    ],
)
def test_refused_addresses(address: str, reason: str) -> None:
    refusal = LOCAL_ONLY.refusal(address)
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_global_addresses_are_allowed(address: str) -> None:
    assert DEFAULT.refusal(address) is None
    DEFAULT.check("https://example.test/", address)  # does not raise


def test_allowed_network_admits_only_itself() -> None:
    assert LOCAL_ONLY.refusal("127.0.0.1") is None
    assert LOCAL_ONLY.refusal("127.0.0.2") == "loopback"
    assert DEFAULT.refusal("127.0.0.1") == "loopback"
    # Allowing an IPv4 network never admits its mapped or NAT64 spellings.
    assert LOCAL_ONLY.refusal("::ffff:127.0.0.1") is not None
    assert LOCAL_ONLY.refusal("64:ff9b::7f00:1") is not None


def test_check_raises_blocked_address_error_with_its_parts() -> None:
    with pytest.raises(BlockedAddressError) as caught:
        LOCAL_ONLY.check("http://metadata.test/latest", "169.254.169.254")
    error = caught.value
    assert (error.url, error.address, error.reason) == (
        "http://metadata.test/latest",
        "169.254.169.254",
        "link-local (cloud metadata)",
    )
    assert "--allow-network" in str(error)


def test_from_cidrs_names_the_bad_network() -> None:
    policy = AddressPolicy.from_cidrs(["10.1.0.0/16", " fd00::/8 ", "192.168.1.7/24"])
    assert [str(network) for network in policy.allowed] == ["10.1.0.0/16", "fd00::/8", "192.168.1.0/24"]
    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("10.2.0.1") is not None
    with pytest.raises(UsageError, match=r"'10\.0\.0\.0/33'"):
        AddressPolicy.from_cidrs(["10.0.0.0/8", "10.0.0.0/33"])
    with pytest.raises(UsageError, match="'intranet'"):
        AddressPolicy.from_cidrs(["intranet"])


_INTERNAL_V4 = [
    ipaddress.IPv4Network(cidr)
    for cidr in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
    )
]


@st.composite
def internal_v4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    network = draw(st.sampled_from(_INTERNAL_V4))
    offset = draw(st.integers(min_value=0, max_value=network.num_addresses - 1))
    return network.network_address + offset


@given(internal_v4())
def test_internal_ipv4_is_refused_in_every_spelling(v4: ipaddress.IPv4Address) -> None:
    assert DEFAULT.refusal(str(v4)) is not None
    assert "IPv4-mapped" in (DEFAULT.refusal(mapped(v4)) or "")
    for embedded in (nat64(v4), sixtofour(v4), teredo("8.8.8.8", str(v4))):
        assert f"embedding {v4}" in (DEFAULT.refusal(embedded) or ""), embedded
    # Even where 127.0.0.1 itself is allowed, its IPv6 spellings stay refused.
    assert LOCAL_ONLY.refusal(mapped(v4)) is not None
    assert LOCAL_ONLY.refusal(nat64(v4)) is not None


@given(st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address))
def test_nat64_follows_the_embedded_address_and_mapped_is_always_refused(v4: ipaddress.IPv4Address) -> None:
    assert DEFAULT.refusal(mapped(v4)) is not None
    assert (DEFAULT.refusal(nat64(v4)) is None) == (DEFAULT.refusal(str(v4)) is None)


def test_ip_literals() -> None:
    assert is_ip_literal("10.0.0.1")
    assert is_ip_literal("[::ffff:10.0.0.1]")
    assert is_ip_literal("fe80::1%eth0")
    assert not is_ip_literal("localhost")
    assert not is_ip_literal("2130706433")  # a host name to resolve (then checked), not a literal here


# Resolution ----------------------------------------------------------------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"getaddrinfo must not be called here: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class TableResolver:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise ResolutionError(host, "Name or service not known", dns_gone=True)
        return list(self.table[host])


@pytest.mark.usefixtures("no_dns")
def test_ip_literals_never_reach_the_resolver() -> None:
    backend = GuardedBackend(LOCAL_ONLY, SystemResolver())
    assert backend.checked_addresses("127.0.0.1", 80) == ["127.0.0.1"]
    with pytest.raises(BlockedAddressError, match="IPv4-mapped"):
        backend.checked_addresses("[::ffff:10.0.0.1]", 80)
    with pytest.raises(BlockedAddressError, match="link-local"):
        backend.checked_addresses("169.254.169.254", 80)


def test_system_resolver_lists_each_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "localhost"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert SystemResolver().resolve("localhost", 80) == ["127.0.0.1", "::1"]
    # "localhost" is not special: it is resolved, and its ::1 answer refuses the whole name.
    with pytest.raises(BlockedAddressError, match="loopback"):
        GuardedBackend(LOCAL_ONLY, SystemResolver()).checked_addresses("localhost", 80)


@pytest.mark.parametrize(
    ("code", "gone"),
    [
        (socket.EAI_NONAME, True),
        (getattr(socket, "EAI_NODATA", socket.EAI_NONAME), True),
        (socket.EAI_AGAIN, False),
    ],
)
def test_system_resolver_failure_says_whether_the_name_is_gone(
    monkeypatch: pytest.MonkeyPatch, code: int, gone: bool
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(code, "lookup failed")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(OnlineError) as caught:
        SystemResolver().resolve("taken-down.test", 443)
    assert isinstance(caught.value, ResolutionError)
    assert caught.value.dns_gone is gone
    assert str(caught.value).startswith("cannot resolve taken-down.test: lookup failed;")
    assert "no longer exists or DNS is unreachable" in str(caught.value)


def test_a_name_with_one_private_answer_is_refused_whatever_the_order() -> None:
    for answers in (["127.0.0.1", "10.0.0.1"], ["10.0.0.1", "127.0.0.1"]):
        resolver = TableResolver({"mixed.test": answers})
        with pytest.raises(BlockedAddressError) as caught:
            GuardedBackend(LOCAL_ONLY, resolver).checked_addresses("mixed.test", 80)
        assert caught.value.address == "10.0.0.1"
        assert resolver.calls == ["mixed.test"]


def test_connect_goes_to_the_checked_address_after_one_lookup(test_site: TestSite, canary: Canary) -> None:
    class Rebinding:
        """Answers the allowed address once, then the canary: a second look-up would be caught."""

        calls = 0

        def resolve(self, host: str, port: int) -> list[str]:
            self.calls += 1
            return ["127.0.0.1"] if self.calls == 1 else [canary.host]

    resolver = Rebinding()
    backend = GuardedBackend(LOCAL_ONLY, resolver)
    stream = backend.connect_tcp("rebinding.test", test_site.port, timeout=1.0)
    try:
        assert stream.get_extra_info("server_addr")[:2] == ("127.0.0.1", test_site.port)
    finally:
        stream.close()
    assert resolver.calls == 1
    assert canary.settled() == []


def test_connect_tries_the_next_checked_address(test_site: TestSite) -> None:
    # Nothing listens on 127.0.0.3 at the site's port: refused there, then connected to 127.0.0.1.
    resolver = TableResolver({"two.test": ["127.0.0.3", "127.0.0.1"]})
    backend = GuardedBackend(AddressPolicy.from_cidrs(["127.0.0.0/8"]), resolver)
    stream = backend.connect_tcp("two.test", test_site.port, timeout=1.0)
    try:
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
    finally:
        stream.close()


def test_refused_name_sends_no_packet(canary: Canary) -> None:
    backend = GuardedBackend(LOCAL_ONLY, TableResolver({"canary.test": [canary.host]}))
    with pytest.raises(BlockedAddressError):
        backend.connect_tcp("canary.test", canary.port, timeout=1.0)
    with pytest.raises(BlockedAddressError):
        backend.connect_tcp(canary.host, canary.port, timeout=1.0)
    assert canary.settled() == []


def test_unix_sockets_are_refused() -> None:
    with pytest.raises(OnlineError, match="Unix socket"):
        GuardedBackend(LOCAL_ONLY).connect_unix_socket("/run/docker.sock")


def test_all_connect_failures_surface_as_connect_errors() -> None:
    backend = GuardedBackend(
        AddressPolicy.from_cidrs(["127.0.0.0/8"]), TableResolver({"x.test": ["127.0.0.3"]})
    )
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("x.test", 9, timeout=1.0)
