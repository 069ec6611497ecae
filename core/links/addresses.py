"""Which addresses a link may lead to: the server-side request forgery policy, and the resolver it checks.

Links come from chat users, so a link (or a redirect it leads to) could point at the host's own services,
the LAN, or a cloud metadata endpoint.  Every address a host name resolves to is checked here (private,
loopback, link-local, CGNAT, multicast, reserved, unspecified; IPv4-mapped/NAT64/6to4/Teredo wrappers
unwrapped first), and cloud metadata addresses are refused even where private networks are allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from moodtape.core.links.errors import BadLink, Unreachable

__all__ = [
    "IPAddress", "Resolver", "METADATA_ADDRESSES", "address_problem", "host_name_problem", "AddressPolicy",
    "system_resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: (host, port) -> every address the host resolves to; tests stand in a fixed table for DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS ECS, AWS IPv6, Alibaba, Oracle): refused always.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.253", "fd00:ec2::254", "100.100.100.200",
              "192.0.0.192")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
#: What a label of a host name may hold (letters, digits, hyphens; underscores, which real hosts use too).
_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv6 one (mapped, NAT64, 6to4, Teredo), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def address_problem(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why we refuse to connect to `ip` (a short phrase), or None when it is a public unicast address."""
    inner = _unwrap(ip)
    for candidate in {ip, inner}:
        if candidate in METADATA_ADDRESSES:
            return "a cloud metadata address"
    if allow_private:
        return None
    for candidate in {ip, inner}:
        if candidate.is_unspecified:
            return "an unspecified address"
        if candidate.is_loopback:
            return "a loopback address"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if isinstance(candidate, ipaddress.IPv4Address) and candidate in _CGNAT:
            return "a carrier-grade NAT address"
        if isinstance(candidate, ipaddress.IPv6Address) and candidate in _NAT64_LOCAL:
            return "a private address"
        if candidate.is_private:
            return "a private address"
        if candidate.is_reserved or not candidate.is_global:
            return "a reserved address"
    return None


def host_name_problem(host: str) -> str | None:
    """Why `host` (ASCII, as it goes on the wire: IDNA already applied) is not a usable DNS name, or None.

    Checked before any lookup so that a name the resolver would choke on (an empty or 64-character label,
    which Python's IDNA codec refuses with a bare `UnicodeError`) or that no DNS could hold (a label
    starting with a hyphen) gets one clear sentence instead of a codec message or a pointless lookup.
    IP literals are not names and pass.
    """
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        return None
    except ValueError:
        pass
    name = host.removesuffix(".")  # "example.com." is the fully qualified form
    if not name:
        return "it is empty"
    if len(name) > 253:
        return "it is longer than 253 characters"
    for label in name.lower().split("."):
        if not label:
            return "it has an empty part (two dots in a row)"
        if len(label) > 63:
            return "a part of it is longer than 63 characters"
        if not set(label) <= _LABEL_CHARACTERS:
            return "it has characters that host names cannot have"
        if label.startswith("-") or label.endswith("-"):
            return "a part of it starts or ends with a hyphen"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses we connect to.

    `treat_as_public` lists addresses to accept as if they were public.  Production code never sets it; the
    tests use it to play a "public" server on a loopback address (there is no public address in a sandbox),
    so redirects from it to 127.0.0.1 / 10.x / 169.254.169.254 can be shown to be refused by the real rules.
    """

    allow_private: bool = False
    treat_as_public: frozenset[IPAddress] = frozenset()

    def problem(self, ip: IPAddress) -> str | None:
        if ip in self.treat_as_public:
            return None
        return address_problem(ip, allow_private=self.allow_private)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (A and AAAA), in its order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:  # the IDNA codec refused the name: no DNS could hold it
        raise BadLink(f"{host[:80]} is not a valid host name") from exc
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise Unreachable(f"cannot look up {host} right now (DNS): try again later") from exc
        raise Unreachable(f"{host} does not exist (no DNS record)") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
