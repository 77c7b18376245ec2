"""Who a capture may reach: the address policy (SSRF) and a network backend that pins checked addresses.

A reported URL is chosen by whoever reported it, so it may point at the unit's own network (a router's admin
page, a cloud metadata service at 169.254.169.254, a database on 10.x). Every fetch therefore resolves the
host name once, checks every address it resolves to, and connects to exactly one of the checked addresses:
no second look-up happens between check and connect, so a name that changes its answer (DNS rebinding)
cannot slip a private address in. Redirects go through the same backend, so every hop is checked.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import httpcore

from himaya.errors import BlockedAddressError, OnlineError, UsageError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Named refusals, checked in order, so the record says which kind of address was hit. Anything these miss
# but that Python's ipaddress still calls non-global is refused by the generic checks after them.
_NAMED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/32"), "unspecified"),
    (_V4("0.0.0.0/8"), "this-network 0.0.0.0/8"),
    (_V4("10.0.0.0/8"), "private network 10.0.0.0/8"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT 100.64.0.0/10"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata)"),
    (_V4("172.16.0.0/12"), "private network 172.16.0.0/12"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments 192.0.0.0/24"),
    (_V4("192.0.2.0/24"), "documentation 192.0.2.0/24"),
    (_V4("192.168.0.0/16"), "private network 192.168.0.0/16"),
    (_V4("198.18.0.0/15"), "benchmarking 198.18.0.0/15"),
    (_V4("198.51.100.0/24"), "documentation 198.51.100.0/24"),
    (_V4("203.0.113.0/24"), "documentation 203.0.113.0/24"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)
_NAMED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("fc00::/7"), "unique local (private) fc00::/7"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("ff00::/8"), "multicast"),
    (_V6("2001:db8::/32"), "documentation 2001:db8::/32"),
)
_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")


def _parse(address: str) -> IPAddress:
    # getaddrinfo gives IPv6 link-local addresses with a zone ("fe80::1%eth0"); the zone is not part of the
    # address being judged.
    return ipaddress.ip_address(address.strip("[]").split("%", 1)[0])


def is_ip_literal(host: str) -> bool:
    """True for "10.0.0.1", "::1", "[::ffff:10.0.0.1]": hosts that must never be handed to a resolver."""
    try:
        _parse(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a capture may connect to: public ones only, plus the networks in `allowed`."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        networks: list[IPNetwork] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as error:
                raise UsageError(
                    f"allowed network {cidr!r} is not a CIDR network ({error}); write it like "
                    "'192.0.2.0/24' or '2001:db8::/32'"
                ) from error
        return cls(tuple(networks))

    def refusal(self, address: str) -> str | None:
        """None when `address` may be reached; otherwise why not, in a few words."""
        try:
            ip = _parse(address)
        except ValueError:
            return "not an IP address"
        if any(ip.version == network.version and ip in network for network in self.allowed):
            return None
        if isinstance(ip, ipaddress.IPv4Address):
            return _refusal_v4(ip)
        return _refusal_v6(ip)

    def check(self, url: str, address: str) -> None:
        reason = self.refusal(address)
        if reason is not None:
            raise BlockedAddressError(url, address, reason)


def _refusal_v4(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _NAMED_V4:
        if ip in network:
            return reason
    return _generic_refusal(ip)


def _refusal_v6(ip: ipaddress.IPv6Address) -> str | None:
    if ip in _MAPPED:
        # Refused whatever it maps to: a dual-stack socket would reach the IPv4 address, and allowing the
        # public ones would only invite parser differentials between here and the kernel.
        return f"IPv4-mapped IPv6 ({ip.ipv4_mapped})"
    embedded: list[ipaddress.IPv4Address] = []
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    for inner in embedded:
        reason = _refusal_v4(inner)
        if reason is not None:
            return f"NAT64 / 6to4 / Teredo embedding {inner} ({reason})"
    if ip in _NAT64:
        # A NAT64 gateway (DNS64 networks) reaches the public IPv4 address embedded; judge that one. Python
        # calls the whole prefix "reserved", which would make IPv6-only capture machines useless.
        return None
    for network, reason in _NAMED_V6:
        if ip in network:
            return reason
    return _generic_refusal(ip)


def _generic_refusal(ip: IPAddress) -> str | None:
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private or special-purpose network"),
        (not ip.is_global, "not a public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]:
        """Every address (IPv4 and IPv6) `host` resolves to, as text, in the resolver's order."""
        ...


class ResolutionError(OnlineError):
    """A host name could not be resolved. `dns_gone` is True when DNS says the name does not exist."""

    def __init__(self, host: str, detail: str, *, dns_gone: bool) -> None:
        super().__init__(
            f"cannot resolve {host}: {detail}; the host name no longer exists or DNS is unreachable "
            "(check the machine's DNS settings, then re-check later)"
        )
        self.host = host
        self.dns_gone = dns_gone


_GONE_CODES = frozenset(
    code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None)) if code
)


class SystemResolver:
    """The operating system's resolver (getaddrinfo): /etc/hosts, then the configured DNS servers."""

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise ResolutionError(
                host, error.strerror or str(error), dns_gone=error.errno in _GONE_CODES
            ) from error
        except (OSError, UnicodeError) as error:
            raise ResolutionError(host, str(error), dns_gone=False) from error
        addresses: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ResolutionError(host, "no addresses", dns_gone=True)
        return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that connects only to addresses the policy allows, pinned at look-up.

    TLS is not done here: httpcore calls `start_tls` on the returned stream with `server_hostname` set to
    the URL's host (httpcore/_sync/connection.py, `_connect`), so SNI and the certificate check use the
    name the user asked for while the TCP connection goes to the address checked here.
    """

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver if resolver is not None else SystemResolver()
        self._inner = httpcore.SyncBackend()

    def checked_addresses(self, host: str, port: int, url: str | None = None) -> list[str]:
        """Resolve `host` once and return its addresses, or raise if any of them is refused.

        One refused address refuses the name: a name answering with a public and a private address is
        either misconfigured or built to win a race against the check.
        """
        where = url or f"{host}:{port}"
        if is_ip_literal(host):
            addresses = [host.strip("[]")]
        else:
            addresses = self.resolver.resolve(host, port)
            if not addresses:
                raise ResolutionError(host, "no addresses", dns_gone=True)
        for address in addresses:
            self.policy.check(where, address)
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.checked_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None  # checked_addresses never returns an empty list
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise OnlineError(f"refused to connect to Unix socket {path}: captures reach TCP hosts only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
