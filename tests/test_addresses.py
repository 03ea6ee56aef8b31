"""Corporate egress ranges as wildcard patterns: every target matches exactly the range's addresses."""

from __future__ import annotations

import ipaddress
import random
from fnmatch import fnmatchcase

import pytest

from ghosthire.compile.addresses import address_patterns
from ghosthire.compile.targets import placeholder_values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.16/30", ["203.0.113.16", "203.0.113.17", "203.0.113.18", "203.0.113.19"]),
        ("10.1.0.0/16", ["10.1.*"]),
        ("10.1.0.0/23", ["10.1.0.*", "10.1.1.*"]),
        ("198.51.100.7", ["198.51.100.7"]),
        ("198.51.100.*", ["198.51.100.*"]),
        ("2001:db8:4a00::/48", ["2001:db8:4a00:*"]),
        ("2001:db8:4a00:5::/64", ["2001:db8:4a00:5:*"]),
        ("2001:DB8::1", ["2001:db8::1"]),
    ],
)
def test_ranges_become_patterns(value: str, expected: list[str]) -> None:
    assert address_patterns(value) == expected


@pytest.mark.parametrize(
    "value", ["203.0.113.16/28", "10.0.0.0/9", "2001:db8:4a00::/56", "2001:db8:4a00:0:0::/80"]
)
def test_patterns_match_exactly_the_range(value: str) -> None:
    """Addresses inside and just outside the range, written as logs write them (RFC 5952 for IPv6)."""
    network = ipaddress.ip_network(value)
    patterns = address_patterns(value)
    chooser = random.Random(value)
    for _ in range(2000):
        if chooser.random() < 0.5:
            address = network.network_address + chooser.randrange(network.num_addresses)
        else:  # flip one bit anywhere: inside or outside the range
            flipped = int(network.network_address) ^ (1 << chooser.randrange(network.max_prefixlen))
            address = ipaddress.ip_address(flipped)
        if address.version == 6 and chooser.random() < 0.3:  # interface ids full of zeros ("::" forms)
            address = ipaddress.ip_address(int(address) & ~((1 << 64) - 1) | chooser.randrange(3))
        matched = any(fnmatchcase(address.compressed, pattern) for pattern in patterns)
        assert matched == (address in network), address


def test_a_range_too_wide_is_refused() -> None:
    with pytest.raises(ValueError, match="split it"):
        address_patterns("2001:db8::/33")


def test_a_lookup_row_that_is_no_address_names_file_and_line(tmp_path, monkeypatch) -> None:
    from ghosthire import content
    from ghosthire.errors import ContentError

    lookups = tmp_path / "splunk_app" / "lookups"
    lookups.mkdir(parents=True)
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "placeholders.yml").write_text(
        "placeholders:\n  corporate_egress_ip: {lookup: egress.csv, column: ip_pattern, values: address}\n"
    )
    (lookups / "egress.csv").write_text("name,ip_pattern\noffice,203.0.113.0/28\nvpn,not-an-address\n")
    monkeypatch.setattr(content, "content_root", lambda: tmp_path)
    with pytest.raises(ContentError) as error:
        placeholder_values()
    assert "egress.csv:3" in str(error.value) and "not-an-address" in str(error.value)
