"""Which addresses a resource link may lead the portal to: public ones only.

The link checker connects to every catalog address, so an address on the
portal's own network (its database, Redis, a cloud metadata service) would turn
it into a probe of that network. An address counts as public only when every
address its name resolves to is globally routable: not loopback, private,
link-local, shared (100.64/10), multicast, reserved or unspecified, IPv4 or IPv6,
with the IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address
judged as IPv4.
"""
import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: The well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class NonPublicAddress(ValueError):
    """The address, or one its name resolves to, is not on the public internet."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress, allowed: tuple = ()) -> bool:
    """Globally routable and not multicast; `allowed` networks count as public (tests only)."""
    if any(address in network for network in allowed):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d itself
            return is_public(address.ipv4_mapped, allowed)
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded, allowed):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast or address.is_loopback or address.is_link_local or address.is_private
        or address.is_reserved or address.is_unspecified
    )


def allowed_networks() -> tuple:
    """RESOURCE_LINK_ALLOW_PRIVATE: networks tests may reach (never read from the environment)."""
    return tuple(ipaddress.ip_network(network) for network in current_app.config["RESOURCE_LINK_ALLOW_PRIVATE"])


def public_addresses(host: str, port: int, allowed: tuple = ()) -> list[IPAddress]:
    """Resolve `host`; every address must be public (else NonPublicAddress). OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos))
    refused = [address for address in addresses if not is_public(address, allowed)]
    if refused:
        shown = host if str(refused[0]) == host else f"{host} ({refused[0]})"
        raise NonPublicAddress(f"refused: {shown} is not a public address")
    return addresses


def url_problem(url: str, allowed: tuple = ()) -> str | None:
    """Why the portal must not follow `url`, if its host is not public; None when it may (or cannot tell yet).

    A name that does not resolve now is let through: the link checker resolves it
    again, and refuses it then, each time it checks.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    try:
        public_addresses(parts.hostname or "", port, allowed)
    except NonPublicAddress:
        return "must be an address on the public internet, not a local or private one"
    except (OSError, UnicodeError, ValueError):
        return None
    return None
