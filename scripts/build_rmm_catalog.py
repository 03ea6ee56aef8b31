#!/usr/bin/env python3
"""Build splunk_app/lookups/ghosthire_rmm_catalog.csv from the LOLRMM catalogue (Apache-2.0).

Rules never list RMM tools themselves: they name Sigma placeholders (`%rmm_process%`, `%rmm_domain%`,
`%rmm_service%`, `%rmm_port%`, `%rmm_family_original_filename%`, see backends/placeholders.yml) whose values
are one column of this lookup. Every compile target reads the lookup at build time; the Splunk app ships it.

Input: LOLRMM's `rmm_tools.csv` and `rmm_domains.csv` (https://github.com/magicsword-io/LOLRMM,
website/public/api/). Give a directory holding both, or let the script download them at the pinned commit:

    python scripts/build_rmm_catalog.py --source /path/to/lolrmm-reference
    python scripts/build_rmm_catalog.py --commit 3c75cf091b10bf7e8ecd576055c44d172b35ff21

Output rows are long-form and sparse: each row fills `tool`, `category`, `origin` and exactly one
artefact column, so a placeholder reads the non-empty values of its column. Patterns are Sigma-style:
`*` and `?` are wildcards; a process pattern starts with a backslash and is matched with `|endswith`
(or `|contains` against a service's ImagePath). Nothing here is a regular expression.

What is dropped, and why (keeps the rules from drowning in noise):
  * process names of 3 characters or fewer, names starting with a wildcard, and the generic or non-RMM
    names in GENERIC_PROCESSES (SSH clients, screen readers, backup and sync tools, installers);
  * domains that are a vendor's bare web site (two labels, e.g. `vendor.com`: visiting a web site is not
    using the tool), LOLRMM's regex-style entries, and anything under shared infrastructure
    (SHARED_SUFFIXES: cloud storage, GitHub, Microsoft, Google), except the curated remote-desktop
    hosts under them (CURATED);
  * domain patterns that are not well-formed host names once normalised (DOMAIN_LABEL: every label
    non-empty, at most 63 characters of letters, digits, `_`, `-` and wildcards, never starting or ending
    with `-`; an alphabetic top-level label). LOLRMM writes the label-prefix wildcard `*-dms.zoho.com.cn`
    (hosts such as cn2-dms.zoho.com.cn) as `*.-dms.zoho.com.cn`: a `-` that a dot separates from a `*`
    belongs to the wildcard's label, so `*.-x` is read as `*-x` (and `x-.*` as `x-*`) before the check.
    What is still malformed is counted on stderr and left out; a malformed domain in the finished
    catalogue (a curated one included) stops the script without writing it. `--check` validates the
    shipped lookup without rebuilding it.
  * IP address literals that LOLRMM lists among a tool's domains (Ammyy Admin, NetBird, SimpleHelp relay
    servers): they are not domains, so a DNS or host-name match on them means nothing, they go stale with
    hosting changes, and a Splunk app that ships public addresses fails AppInspect `check_hostnames_and_ips`.
    They are counted on stderr and left out of the lookup (see splunk_app/lookups/README.md);
  * wildcards over the whole domain of a vendor whose other products (antivirus updates, meeting
    clients, help desks, backup, office suites) every customer reaches (VENDOR_WIDE_DOMAINS), every host
    of domains with no remote control under them (NON_REMOTE_CONTROL_DOMAINS: help-desk portals, chat
    widgets, backup and installer services), and vendors' web-site and documentation hosts
    (WEB_SITE_LABELS: www., docs., help. ...);
  * ports 80/443 and other general-purpose ports (GENERIC_PORTS), services other software also installs
    (GENERIC_SERVICES), and LOLRMM entries that are not remote access into the host (NON_RMM_TOOLS).
ghosthire's own additions (CURATED) carry origin `ghosthire` and cite where they come from.
"""

from __future__ import annotations

import argparse
import csv
import io
import ipaddress
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "splunk_app" / "lookups" / "ghosthire_rmm_catalog.csv"
LOLRMM_RAW = "https://raw.githubusercontent.com/magicsword-io/LOLRMM/{commit}/website/public/api/{name}"
DEFAULT_COMMIT = "3c75cf091b10bf7e8ecd576055c44d172b35ff21"
COLUMNS = [
    "tool",
    "category",
    "origin",
    "process",
    "original_filename",
    "family_original_filename",
    "service",
    "domain",
    "port",
    "dprk_reported",
]

GENERIC_PROCESSES = {
    # SSH / terminal clients and admin consoles (outbound tools, not remote access into this host)
    "putty.exe",
    "plink.exe",
    "kitty.exe",
    "puttytray.exe",
    "securecrt.exe",
    "zoc.exe",
    "mremoteng.exe",
    "royalts.exe",
    "remotedesktopmanager.exe",
    "mstsc.exe",
    "vncviewer.exe",
    "nxplayer.exe",
    # accessibility, backup, sync, software deployment, installers, built-ins
    "nvda.exe",
    "duplicati.server.exe",
    "insync.exe",
    "idrivewinsetup.exe",
    "niniteone.exe",
    "installshield setup.exe",
    "installcore.exe",
    "installer.exe",
    "mousewithoutborders.exe",
    "quickassist.exe",
    # names too generic to attribute to one product
    "agent.exe",
    "agent32.exe",
    "agent64.exe",
    "appcore.exe",
    "connect.exe",
    "rdp.exe",
    "remote access.exe",
    "supporttool.exe",
    "windowslauncher.exe",
    "client.exe",
    "server.exe",
    "service.exe",
    "setup.exe",
    "update.exe",
    "updater.exe",
    "launcher.exe",
    "helper.exe",
    "tray.exe",
    "monitor.exe",
    "host.exe",
    "duet.exe",
    "level.exe",
    "vhost.exe",
    "rhost.exe",
    "xcmd.exe",
    "amon.exe",
    "arcui.exe",
    "konea.exe",
    "ilias.exe",
    "rport.exe",
    "guacd.exe",
}
SHARED_SUFFIXES = (
    "amazonaws.com",
    "windows.net",
    "azurewebsites.net",
    "azureedge.net",
    "cloudfront.net",
    "akamaized.net",
    "github.com",
    "githubusercontent.com",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "microsoft.com",
    "live.com",
    "office.com",
    "apple.com",
    "pubnubapi.com",
    "herokuapp.com",
    "cloudflare.com",
)
# Whole domains of vendors that sell much more than remote access (antivirus updates, meeting clients,
# help desks, mail and CRM suites): a wildcard over them fires on every customer of their other products.
# The remote-access products' own hosts under them (assist.zoho.com, *.dms.zoho.com,
# desktopcentral.manageengine.com) are kept.
VENDOR_WIDE_DOMAINS = {
    "sophos.com",
    "sophosupd.com",
    "sophosupd.net",
    "getgo.com",
    "cdn.getgo.com",
    "logmeininc.com",
    "zoho.com",
    "zoho.eu",
    "zoho.in",
    "zoho.com.au",
    "zoho.com.cn",
    "freshworks.com",
    "myfreshworks.com",
    "freshworksapi.com",
    "ivanti.com",
    "ivanticloud.com",
    "manageengine.com",
    "parallels.com",
    # ConnectWise's portal, PSA and Automate (ScreenConnect's relays are *.screenconnect.com)
    "connectwise.com",
    # MSP suites: backup, mail security and EDR share the vendor's domain with the RMM
    "n-able.com",
    "msp360.com",
    "auvik.com",
    # vendors whose main products are backup or disk tools (their remote tools have own domains:
    # iperiusremote.com, anyviewer.com)
    "iperius.com",
    "aomeisoftware.com",
    # endpoint management vendors' web sites and update hosts (agents talk to the customer's own server)
    "baramundi.com",
    "kace.com",
    # help-desk portals, one per customer (acme.invgate.net): every employee opening a ticket reaches them
    "invgate.net",
}
# Domains with no remote control under them at all, dropped with every host: Freshworks' help desk,
# chat widget (on many third-party web sites), bots and developer CDNs, and backup and installer services
# LOLRMM lists beside an RMM.
NON_REMOTE_CONTROL_DOMAINS = {
    "freshservice.com",
    "freshasset.com",
    "freshconnect.io",
    "fdcollab.com",
    "freshchat.com",
    "rtschannel.com",
    "freshdev.io",
    "freshcloud.io",
    "in-freshbots.ai",
    "idrive.com",
    "cloudberrylab.com",
    "mspbackups.com",
    "cloudbackup.management",
    "ninja-backup.com",
    "ninite.com",
}
# First labels of a vendor's web site and documentation hosts (www.vendor.com, docs.vendor.com): reading
# about a tool is not using it. Download hosts are kept (fetching an RMM installer is part of the signal).
WEB_SITE_LABELS = {"www", "docs", "help", "trust", "forum", "blog", "status", "kb", "community"}
GENERIC_PORTS = {
    20,
    21,
    22,
    23,
    25,
    53,
    80,
    135,
    139,
    161,
    443,
    445,
    1313,
    3080,
    3333,
    3389,
    3478,
    5000,
    5555,
    8000,
    8080,
    8443,
    10000,
    10001,
    10500,
    11000,
    51820,
}
# Service names that other software also installs (hardware-monitoring drivers) or that are too short.
GENERIC_SERVICES = {"level", "winring0_1_2_0"}
# LOLRMM entries that are not remote access into this host (built-ins, accessibility, input sharing).
# Sophos's Remote Management System is the management channel of its endpoint protection: on every
# machine that runs Sophos antivirus.
NON_RMM_TOOLS = (
    "Mouse Without Borders",
    "mstsc.exe",
    "NVDA",
    "Quick Assist",
    "Sophos-Remote Management System",
)

# Remote desktop products named in DPRK IT worker reporting (threat model, section 3).
DPRK_REPORTED = {"AnyDesk", "Chrome Remote Desktop", "RustDesk", "Splashtop", "TeamViewer", "Jump Desktop"}

# ghosthire additions: (tool, column, pattern, where it comes from)
CURATED: list[tuple[str, str, str, str]] = [
    # Chrome Remote Desktop host binaries and service (Google's chromoting installer; Splunk ESCU list)
    ("Chrome Remote Desktop", "process", "\\remoting_host.exe", "Chromium remoting host"),
    ("Chrome Remote Desktop", "process", "\\remoting_start_host.exe", "Chromium remoting host"),
    ("Chrome Remote Desktop", "process", "\\remoting_desktop.exe", "Chromium remoting host"),
    ("Chrome Remote Desktop", "process", "\\remote_assistance_host.exe", "Chromium remoting host"),
    ("Chrome Remote Desktop", "original_filename", "remoting_host.exe", "Chromium remoting host"),
    ("Chrome Remote Desktop", "original_filename", "remoting_start_host.exe", "Chromium remoting host"),
    (
        "Chrome Remote Desktop",
        "service",
        "chromoting",
        "SigmaHQ win_system_service_install_remote_access_software",
    ),
    ("Chrome Remote Desktop", "service", "Chrome Remote Desktop Service", "service display name (7045)"),
    ("Chrome Remote Desktop", "domain", "remotedesktop.google.com", "threat model section 3"),
    ("Chrome Remote Desktop", "domain", "*.remotedesktop.google.com", "LOLRMM (kept under a shared suffix)"),
    ("Chrome Remote Desktop", "domain", "remotedesktop-pa.googleapis.com", "threat model section 3"),
    (
        "Chrome Remote Desktop",
        "domain",
        "*.remotedesktop-pa.googleapis.com",
        "LOLRMM (kept under a shared suffix)",
    ),
    (
        "Chrome Remote Desktop",
        "domain",
        "chromoting-host.talkgadget.google.com",
        "LOLRMM (kept under a shared suffix)",
    ),
    (
        "Chrome Remote Desktop",
        "domain",
        "chromoting-client.talkgadget.google.com",
        "LOLRMM (kept under a shared suffix)",
    ),
    (
        "Chrome Remote Desktop",
        "domain",
        "chromoting-oauth.talkgadget.google.com",
        "LOLRMM (kept under a shared suffix)",
    ),
    # AnyDesk
    ("AnyDesk", "process", "\\AnyDesk.exe", "vendor binary"),
    (
        "AnyDesk",
        "service",
        "AnyDesk",
        "SigmaHQ win_security_service_install_remote_access_software (4697 key name)",
    ),
    ("AnyDesk", "domain", "*.net.anydesk.com", "threat model section 3"),
    ("AnyDesk", "port", "7070", "AnyDesk firewall documentation (TCP 7070 direct/relay)"),
    # RustDesk
    ("RustDesk", "process", "\\rustdesk*.exe", "threat model section 3 (portable builds carry the version)"),
    ("RustDesk", "original_filename", "rustdesk.exe", "vendor binary"),
    ("RustDesk", "service", "RustDesk", "RustDesk Windows service"),
    ("RustDesk", "domain", "rs-*.rustdesk.com", "threat model section 3"),
    ("RustDesk", "port", "21115", "RustDesk self-host documentation (hbbs/hbbr 21115-21119)"),
    ("RustDesk", "port", "21116", "RustDesk self-host documentation"),
    ("RustDesk", "port", "21117", "RustDesk self-host documentation"),
    ("RustDesk", "port", "21118", "RustDesk self-host documentation"),
    ("RustDesk", "port", "21119", "RustDesk self-host documentation"),
    # Splashtop
    ("Splashtop", "process", "\\SRService.exe", "threat model section 3"),
    ("Splashtop", "process", "\\SRServer.exe", "threat model section 3"),
    ("Splashtop", "process", "\\strwinclt.exe", "threat model section 3"),
    ("Splashtop", "original_filename", "SRService.exe", "vendor binary"),
    ("Splashtop", "service", "SplashtopRemoteService", "LOLRMM event log artefact"),
    ("Splashtop", "domain", "*.relay.splashtop.com", "LOLRMM"),
    ("Splashtop", "domain", "*.api.splashtop.com", "LOLRMM"),
    # TeamViewer
    ("TeamViewer", "process", "\\TeamViewer.exe", "vendor binary"),
    ("TeamViewer", "process", "\\TeamViewer_Service.exe", "vendor binary"),
    ("TeamViewer", "process", "\\TeamViewerQS*.exe", "QuickSupport download names"),
    ("TeamViewer", "process", "\\tv_w32.exe", "vendor binary"),
    ("TeamViewer", "process", "\\tv_x64.exe", "vendor binary"),
    ("TeamViewer", "original_filename", "TeamViewer.exe", "vendor binary"),
    ("TeamViewer", "port", "5938", "TeamViewer firewall documentation (TCP/UDP 5938)"),
    # Jump Desktop Connect
    ("Jump Desktop", "process", "\\JumpConnect.exe", "threat model section 3 (Microsoft: JumpConnect)"),
    ("Jump Desktop", "original_filename", "JumpConnect.exe", "vendor binary"),
    # Others with well-known binaries
    ("ScreenConnect", "original_filename", "ScreenConnect.ClientService.exe", "vendor binary"),
    ("Ammyy Admin", "port", "5931", "LOLRMM network artefact"),
]

# One executable per family, the one that runs whenever the family is in use: the multi-family
# correlation counts distinct values of OriginalFileName among these (one value == one family).
FAMILY_PRIMARY = {
    "AnyDesk": "AnyDesk.exe",
    "Chrome Remote Desktop": "remoting_host.exe",
    "RustDesk": "rustdesk.exe",
    "Splashtop": "SRService.exe",
    "TeamViewer": "TeamViewer.exe",
    "Jump Desktop": "JumpConnect.exe",
    "ScreenConnect": "ScreenConnect.ClientService.exe",
    "Atera": "AteraAgent.exe",
    "RAdmin": "RServer3.exe",
    "NetSupport Manager": "client32.exe",
    "GetScreen": "getscreen.exe",
    "Remotely": "Remotely_Agent.exe",
    "HelpWire": "helpwire.exe",
    "HopToDesk": "hoptodesk.exe",
    "Aspia": "aspia_client.exe",
    "Ammyy Admin": "AA_v3.exe",
    "UltraViewer": "UltraViewer_Desktop.exe",
}


def read_source(source: Path | None, commit: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if source is not None:
        tools = (source / "rmm_tools.csv").read_text(encoding="utf-8")
        domains = (source / "rmm_domains.csv").read_text(encoding="utf-8")
    else:
        import requests

        tools, domains = (
            requests.get(LOLRMM_RAW.format(commit=commit, name=name), timeout=60).text
            for name in ("rmm_tools.csv", "rmm_domains.csv")
        )
    return list(csv.DictReader(io.StringIO(tools))), list(csv.DictReader(io.StringIO(domains)))


def process_pattern(entry: str) -> str | None:
    """`C:\\Program Files\\X\\foo.exe` or `foo*.exe` -> `\\foo.exe` / `\\foo*.exe`; None if unusable."""
    name = re.split(r"[\\/]", entry.strip())[-1].strip()
    lowered = name.lower()
    if not lowered.endswith(".exe") or lowered.startswith("*") or "<" in name or "(" in name:
        return None
    if lowered in GENERIC_PROCESSES or len(lowered.removesuffix(".exe").replace("*", "")) <= 3:
        return None
    return "\\" + name


def is_ip_literal(entry: str) -> bool:
    """An IPv4/IPv6 address (or an IPv4 pattern such as `10.1.*.*`), with or without a port."""
    value = entry.strip().strip("[]").lower()
    without_port = re.sub(r"^(\d[\d.*]*):\d+$", r"\1", value)
    if re.fullmatch(r"[\d*]{1,3}(\.[\d*]{1,3}){3}", without_port):
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# One label of a domain pattern: letters, digits, `_` (seen in real host names, e.g. upload_data.qq.com),
# `-` and the Sigma wildcards `*`/`?`; 1-63 characters; never starting or ending with `-`.
DOMAIN_LABEL = re.compile(r"[a-z0-9_*?](?:[a-z0-9_*?-]{0,61}[a-z0-9_*?])?")
TOP_LEVEL_LABEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}[a-z0-9]")


def normalise_domain(entry: str) -> str:
    """Lower-case, no port, and a wildcard mis-split from its label re-joined: `*.-dms.x.cn` -> `*-dms.x.cn`."""
    value = re.sub(r":\d+$", "", entry.strip().lower())
    return re.sub(r"-\.\*", "-*", re.sub(r"\*\.-", "*-", value))


def is_well_formed_domain(value: str) -> bool:
    """A host-name pattern: labels per DOMAIN_LABEL, an alphabetic top-level label, at most 253 characters."""
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(DOMAIN_LABEL.fullmatch(label) for label in labels)
        and TOP_LEVEL_LABEL.fullmatch(labels[-1]) is not None
    )


def domain_pattern(entry: str) -> str | None:
    value = normalise_domain(entry)
    if not value or value == "user_managed" or is_ip_literal(value):
        return None
    if re.search(r"[\[\]{}()/\\:|+^$ ]", value):
        return None
    if not is_well_formed_domain(value):
        return None
    if value.count(".") < 2 and not value.startswith("*."):
        return None  # a vendor's bare web site
    bare = value.removeprefix("*.")
    if "." not in bare:
        return None
    if any(bare == suffix or bare.endswith("." + suffix) for suffix in SHARED_SUFFIXES):
        return None
    if value.startswith("*.") and bare in VENDOR_WIDE_DOMAINS:
        return None  # a vendor's whole domain (see VENDOR_WIDE_DOMAINS)
    if any(bare == domain or bare.endswith("." + domain) for domain in NON_REMOTE_CONTROL_DOMAINS):
        return None
    if value.split(".", 1)[0] in WEB_SITE_LABELS:
        return None  # the vendor's web site or documentation
    return value


def build(tools: list[dict[str, str]], domains: list[dict[str, str]]) -> list[dict[str, str]]:
    rows: dict[tuple[str, str], dict[str, str]] = {}

    def add(tool: str, category: str, origin: str, column: str, value: str) -> None:
        key = (column, value.lower())
        if key in rows:
            return
        row = dict.fromkeys(COLUMNS, "")
        family = next((name for name in DPRK_REPORTED if tool.lower().startswith(name.lower())), None)
        row.update(tool=tool, category=category, origin=origin, dprk_reported="yes" if family else "")
        row[column] = value
        rows[key] = row

    for tool, column, value, _why in CURATED:
        add(tool, "RMM", "ghosthire", column, value)
    for tool, original in FAMILY_PRIMARY.items():
        add(tool, "RMM", "ghosthire", "family_original_filename", original)

    for tool in tools:
        name, category = tool["Name"].strip(), tool["Category"].strip() or "RMM"
        if name.startswith(NON_RMM_TOOLS):
            continue
        entries = [tool["Filename"], *tool["InstallationPaths"].split(",")]
        for entry in entries:
            if entry and (pattern := process_pattern(entry)):
                add(name, category, "lolrmm", "process", pattern)
        original = tool["OriginalFileName"].strip()
        if original.lower().endswith(".exe") and original.lower() not in GENERIC_PROCESSES:
            add(name, category, "lolrmm", "original_filename", original)
        artifacts = json.loads(tool["Artifacts"] or "{}")
        for event in artifacts.get("EventLog") or []:
            service = (event.get("ServiceName") or "").strip()
            if (
                service
                and event.get("EventID") in (7045, 4697)
                and "*" not in service.strip("*")
                and service.lower() not in GENERIC_SERVICES
            ):
                add(name, category, "lolrmm", "service", service)
        for network in artifacts.get("Network") or []:
            for entry in network.get("Domains") or []:
                if pattern := domain_pattern(entry):
                    add(name, category, "lolrmm", "domain", pattern)
            for port in network.get("Ports") or []:
                if isinstance(port, int) and port not in GENERIC_PORTS:
                    add(name, category, "lolrmm", "port", str(port))
    for entry in domains:
        if entry["RMM_Tool"].strip().startswith(NON_RMM_TOOLS):
            continue
        if pattern := domain_pattern(entry["URI"]):
            add(entry["RMM_Tool"].strip(), "RMM", "lolrmm", "domain", pattern)

    return sorted(
        rows.values(), key=lambda r: (r["tool"].lower(), next(c for c in COLUMNS[3:] if r[c]), r["origin"])
    )


def malformed_domains(rows: list[dict[str, str]]) -> list[str]:
    """Domain column values of finished rows that are not well-formed host-name patterns."""
    return [
        f"{row['tool']}: {row['domain']!r}"
        for row in rows
        if row["domain"] and not is_well_formed_domain(row["domain"])
    ]


def dropped_malformed(tools: list[dict[str, str]], domains: list[dict[str, str]]) -> list[str]:
    """LOLRMM domain entries left out because they are malformed after normalisation (placeholders aside)."""
    entries = [
        entry
        for tool in tools
        for network in json.loads(tool["Artifacts"] or "{}").get("Network") or []
        for entry in network.get("Domains") or []
    ] + [entry["URI"] for entry in domains]
    dropped = set()
    for entry in entries:
        value = normalise_domain(entry)
        if (
            value not in ("", "user_managed")
            and not is_ip_literal(value)
            and not re.search(r"[\[\]{}()/\\:|+^$ <>]", value)
            and not is_well_formed_domain(value)
        ):
            dropped.add(entry.strip())
    return sorted(dropped)


def ip_literals(tools: list[dict[str, str]], domains: list[dict[str, str]]) -> dict[str, int]:
    """Per tool, how many distinct IP address literals LOLRMM lists among its domains (left out)."""
    found: dict[str, set[str]] = {}
    for tool in tools:
        for network in json.loads(tool["Artifacts"] or "{}").get("Network") or []:
            for entry in network.get("Domains") or []:
                if is_ip_literal(entry):
                    found.setdefault(tool["Name"].strip(), set()).add(entry.strip())
    for entry in domains:
        if is_ip_literal(entry["URI"]):
            found.setdefault(entry["RMM_Tool"].strip(), set()).add(entry["URI"].strip())
    return {tool: len(values) for tool, values in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="directory with LOLRMM rmm_tools.csv and rmm_domains.csv")
    parser.add_argument(
        "--commit", default=DEFAULT_COMMIT, help="LOLRMM commit to download when --source is not given"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="only validate the domains of the existing --output file"
    )
    args = parser.parse_args(argv)
    if args.check:
        with args.output.open(newline="", encoding="utf-8") as handle:
            malformed = malformed_domains(list(csv.DictReader(handle)))
        for problem in malformed:
            print(f"{args.output}: malformed domain pattern {problem}", file=sys.stderr)
        return 1 if malformed else 0
    tools, domains = read_source(args.source, args.commit)
    rows = build(tools, domains)
    if malformed := malformed_domains(rows):
        for problem in malformed:
            print(f"malformed domain pattern {problem}", file=sys.stderr)
        print(f"{args.output} not written: {len(malformed)} malformed domain pattern(s)", file=sys.stderr)
        return 1
    addresses = ip_literals(tools, domains)
    skipped = dropped_malformed(tools, domains)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = {column: sum(1 for row in rows if row[column]) for column in COLUMNS[3:-1]}
    print(
        f"{args.output}: {len(rows)} rows " + ", ".join(f"{k}={v}" for k, v in counts.items()),
        file=sys.stderr,
    )
    if addresses:
        print(
            f"left out {sum(addresses.values())} IP address literal(s) LOLRMM lists as domains: "
            + ", ".join(f"{tool} ({count})" for tool, count in sorted(addresses.items())),
            file=sys.stderr,
        )
    if skipped:
        print(
            f"left out {len(skipped)} malformed domain pattern(s): " + ", ".join(skipped),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
