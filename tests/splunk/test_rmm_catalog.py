"""scripts/build_rmm_catalog.py: what it keeps out of the RMM lookup, and that the shipped CSV is its output.

IP address literals that LOLRMM lists among a tool's domains are not domain names and would put public
addresses into the Splunk app's searches (AppInspect check_hostnames_and_ips): the script leaves them out.
"""

from __future__ import annotations

import csv
import importlib.util
import ipaddress
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ghosthire.content import splunk_app_dir

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_rmm_catalog.py"
LOLRMM_REFERENCE = Path("/work/shared/data/public-samples/lolrmm-reference")
CATALOGUE = splunk_app_dir() / "lookups" / "ghosthire_rmm_catalog.csv"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_rmm_catalog", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "entry",
    ["136.243.104.235", "136.243.104.235:443", "10.1.*.*", "2001:db8::1", "[2001:db8::1]", " 51.255.19.178 "],
)
def test_ip_literals_are_not_domains(script: ModuleType, entry: str) -> None:
    assert script.is_ip_literal(entry)
    assert script.domain_pattern(entry) is None


@pytest.mark.parametrize("entry", ["*.net.anydesk.com", "rs-ny.rustdesk.com", "relay.v1.example.io"])
def test_domains_stay(script: ModuleType, entry: str) -> None:
    assert not script.is_ip_literal(entry)
    assert script.domain_pattern(entry) == entry


@pytest.mark.parametrize(
    "entry",
    [
        "*.connectwise.com",  # the vendor's portal and PSA; ScreenConnect relays are *.screenconnect.com
        "*.freshservice.com",  # every customer's help desk
        "apicdn-wchat.freshchat.com",  # a chat widget on third-party web sites
        "*.idrive.com",  # cloud backup
        "api.idrive.com",
        "www.remotepc.com",  # reading the vendor's site is not using the tool
        "docs.tacticalrmm.com",
    ],
)
def test_whole_vendors_web_sites_and_non_remote_services_are_left_out(script: ModuleType, entry: str) -> None:
    assert script.domain_pattern(entry) is None


@pytest.mark.parametrize(
    "entry", ["*.screenconnect.com", "control.connectwise.com", "download.hoptodesk.com"]
)
def test_relay_service_and_download_hosts_stay(script: ModuleType, entry: str) -> None:
    assert script.domain_pattern(entry) == entry


def test_the_shipped_catalogue_holds_no_ip_address(script: ModuleType) -> None:
    with CATALOGUE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        for column in script.COLUMNS[3:]:
            for token in re.findall(r"[0-9a-fA-F:.]+", row[column]):
                try:
                    ipaddress.ip_address(token)
                except ValueError:
                    continue
                pytest.fail(f"{row['tool']}: {column} holds the address {token}")


@pytest.mark.skipif(not LOLRMM_REFERENCE.is_dir(), reason="LOLRMM reference copy not on this machine")
def test_the_shipped_catalogue_is_the_scripts_output(script: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / "catalogue.csv"
    assert script.main(["--source", str(LOLRMM_REFERENCE), "--output", str(output)]) == 0
    assert output.read_bytes() == CATALOGUE.read_bytes()
