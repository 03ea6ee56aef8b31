"""Address lists as Sigma wildcard patterns: CIDR ranges and single IPv4/IPv6 addresses in a lookup become
patterns every target matches the same way (`203.0.113.0/28` -> its addresses, `10.1.0.0/16` -> `10.1.*`).

Wildcard patterns pass through unchanged. IPv6 ranges are matched on the RFC 5952 text of an address
(lower case, leading zeros dropped, "::" for the longest zero run), so a prefix is exact unless its
fixed groups hold a run of two or more zero groups before a non-zero one.
"""

from __future__ import annotations

import ipaddress

# A range is written as at most this many patterns (a /25 is 128 addresses, a /17 is 128 /24s).
MAX_PATTERNS = 256


def address_patterns(value: str) -> list[str]:
    """The wildcard patterns matching exactly the addresses of `value` (a CIDR range, an address or a
    pattern); raises ValueError for a range that needs more than MAX_PATTERNS patterns."""
    text = value.strip()
    if "*" in text or "?" in text:
        return [text]
    network = ipaddress.ip_network(text, strict=False)
    if network.version == 4:
        return _patterns(network, 8, ".")
    return _patterns(network, 16, ":")


def _patterns(network: ipaddress.IPv4Network | ipaddress.IPv6Network, width: int, sep: str) -> list[str]:
    total = network.max_prefixlen
    if network.prefixlen == total:
        return [network.network_address.compressed]
    # Widen to the next field boundary: a /27 becomes its 32 addresses, a /20 its 16 /24s.
    boundary = -(-network.prefixlen // width) * width
    subnets = [network] if boundary == network.prefixlen else list(network.subnets(new_prefix=boundary))
    if len(subnets) > MAX_PATTERNS:
        raise ValueError(f"{network} needs {len(subnets)} patterns (at most {MAX_PATTERNS}): split it")
    return [pattern for subnet in subnets for pattern in _subnet_patterns(subnet, width, sep)]


def _subnet_patterns(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, width: int, sep: str
) -> list[str]:
    if network.prefixlen == network.max_prefixlen:
        return [network.network_address.compressed]
    fields = network.prefixlen // width
    if network.version == 4:
        kept = network.network_address.exploded.split(".")[:fields]
        return [".".join(kept) + ".*" if kept else "*"]
    kept = [group.lstrip("0") or "0" for group in network.network_address.exploded.split(":")[:fields]]
    patterns = [":".join(kept) + ":*" if kept else "*"]
    # RFC 5952 text writes a run of two or more zero groups as "::": 2001:db8:4a00:0:0:0:0:1 is
    # 2001:db8:4a00::1. Trailing zero groups (one or two, so "::" cannot stand for fewer) get that form too.
    zeros = next((n for n, group in enumerate(reversed(kept)) if group != "0"), len(kept))
    if 1 <= zeros <= 2:
        patterns.append(":".join(kept[: len(kept) - zeros]) + "::*")
    return patterns
