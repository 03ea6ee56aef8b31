"""Benchmark: one realistic week of a company, hunted with the pack as a customer would configure it.

Generates a baseline period and one measured week of raw logs for a company of --employees people across
every source the pack reads (Okta System Log, Entra ID sign-ins, Microsoft 365 unified audit log, Google
Workspace, GitHub audit log, Windows Security/System/Sysmon/Kernel-PnP as EVTX JSON, Zeek DNS, web
proxy, HR/ATS), with the everyday behaviour that trips naive rules (travellers, mobile carrier churn,
commutes carrying a session, dual-stack homes, couples, coworking and trade-show Wi-Fi, shift-shared PCs,
IT admins, a sanctioned RMM, CI bots, refactors, new hires' first day, guest sharing, streamers, docks,
VoIP candidates, re-applications, leavers: last evenings, phones and sync clients working until the account
is disabled, failed sign-ins after, rehires, contractors taken on as employees) and a few planted fraudulent
workers of different strength, one of them a developer fired and back days later to take code. It writes
the company's lookups folder (identities and assets in Splunk ES format, corporate egress as CIDR,
sanctioned RMM, approved VPN, IT and service accounts, shared devices, new hires), runs
`ghosthire hunt --lookups DIR`, and reports:

- benign persons per 1,000 employees per day with a non-building-block alert (goal <= 3),
- benign persons per rule, and recall of every planted signal,
- with `--format persons`: each planted worker's triage status and rank, benign persons in the triage
  queue per 1,000 employees per week (goal <= 1).

Alerts are attributed to persons from the simulation's ground truth (every identifier of every person),
independently of the pack's own resolver. Only alerts inside the measured week count; the baseline period
before it is there because first-seen rules need history, as they do on a live SIEM.

    .venv/bin/python scripts/simulate_company.py --employees 2000 --seed 1 --output /tmp/company
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import ipaddress
import json
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ghosthire.identities.lookups import ASSET_COLUMNS, IDENTITY_COLUMNS

Event = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
MEASURED_START = datetime(2025, 6, 16, tzinfo=UTC)  # a Monday
MEASURED_DAYS = 7
TRIP_DAYS = 3  # days abroad, the flight home on the last
DOMAIN = "acme-corp.com"
MY_SIGNINS = ("19db86c3-b2b9-44cc-b339-36da233a3be2", "My Signins")  # where Entra MFA methods are registered
AD_DOMAIN = "CORP"
HOST_SUFFIX = "corp.acme-corp.com"
GITHUB_ORG = "acme-corp"
COUNTRIES = {  # code: (Okta country name, UTC offset of the working day, ISPs, mobile carriers)
    "US": (
        "United States",
        -6,
        [(7922, "comcast cable communications llc"), (7018, "at&t services inc.")],
        [(21928, "t-mobile usa inc."), (22394, "cellco partnership dba verizon wireless")],
    ),
    "GB": ("United Kingdom", 0, [(2856, "british telecommunications plc")], [(12576, "ee limited")]),
    "DE": ("Germany", 1, [(3320, "deutsche telekom ag")], [(3209, "vodafone gmbh")]),
    "IN": ("India", 5, [(24560, "bharti airtel ltd.")], [(55836, "reliance jio infocomm limited")]),
    "CA": ("Canada", -5, [(812, "rogers communications canada inc.")], [(577, "bell canada")]),
}
COUNTRY_WEIGHTS = {"US": 70, "GB": 10, "DE": 8, "IN": 7, "CA": 5}
TIME_ZONES = {  # the identity lookup's time_zone of staff in each country
    "US": "America/Chicago",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "IN": "Asia/Kolkata",
    "CA": "America/Toronto",
}
KOREA_UTC_OFFSET = 9  # the planted workers' real working day
FOREIGN = {"CN": "China", "RU": "Russia", "KP": "North Korea"}
OFFICES = {"US": "203.0.113.16/28", "GB": "198.51.100.64/27", "DE": "198.51.100.128/26"}
OFFICE_V6 = "2001:db8:4a00::/48"
VPN_EGRESS = "192.0.2.8/29"
OFFICE_ASN = (64496, "acme corp")
HOSTING = [(14061, "digitalocean, llc"), (16509, "amazon.com, inc."), (20473, "the constant company, llc")]
ASTRILL = (9009, "astrill vpn")
PRIVATE_RELAY = (13335, "cloudflare, inc.")
FIRST = (  # noqa: SIM905 (a word list reads best as text)
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard "
    "susan joseph jessica thomas sarah charles karen priya arjun wei li oliver amelia lukas mia "
    "noah emma liam olivia ava sophia lucas ethan mateo aria ravi anita hannah felix ella jack "
    "grace leo zoe "
).split()
LAST = (  # noqa: SIM905 (a word list reads best as text)
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "wilson anderson thomas taylor moore jackson martin lee thompson white harris clark lewis "
    "walker young allen king wright scott green baker adams nelson hill campbell mitchell roberts "
    "carter phillips evans turner patel sharma singh mueller schmidt fischer weber wagner becker "
    "chen wang "
).split()
BROWSERS = ("Chrome 125.0.0", "Edge 125.0.0")
OFFICE_APPS = (
    "Office 365 Exchange Online",
    "Microsoft Teams",
    "Office 365 SharePoint Online",
    "Microsoft Graph",
)
BENIGN_PROCESSES = (
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Program Files\Microsoft VS Code\Code.exe",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"C:\Program Files\Slack\slack.exe",
    r"C:\Windows\explorer.exe",
)
SANCTIONED_RMM = {  # tool: (process image, original file name, service, domains queried)
    "TeamViewer": (
        r"C:\Program Files\TeamViewer\TeamViewer_Service.exe",
        "TeamViewer_Service.exe",
        "TeamViewer",
        ["router15.teamviewer.com", "client.teamviewer.com"],
    ),
    "ScreenConnect": (
        r"C:\Program Files (x86)\ScreenConnect Client (1a2b3c)\ScreenConnect.ClientService.exe",
        "ScreenConnect.ClientService.exe",
        "ScreenConnect Client (1a2b3c)",
        ["instance-1a2b3c-relay.screenconnect.com"],
    ),
    "NinjaRMM": (
        r"C:\ProgramData\NinjaRMMAgent\NinjaRMMAgent.exe",
        "NinjaRMMAgent.exe",
        "NinjaRMMAgent",
        ["app.ninjarmm.com", "ca-agent.ninjarmm.net"],
    ),
}
# Everyday software whose update or meeting domains belong to vendors that also sell remote-access tools.
EVERYDAY_DOMAINS = (
    "d1.sophosupd.com",
    "d2.sophosupd.net",
    "central.sophos.com",
    "global.gotomeeting.com",
    "authentication.logmeininc.com",
    "api.getgo.com",
    "mail.zoho.com",
    "crm.zoho.com",
    "acme.freshworks.com",
    "assets.freshworks.com",
    "download.parallels.com",
    "patch.ivanti.com",
    "www.manageengine.com",
    "teams.microsoft.com",
    "outlook.office365.com",
    "slack.com",
    "github.com",
    "www.google.com",
    "drive.google.com",
    "update.googleapis.com",
    "zoom.us",
)
# Everyday services installed with generic executable names.
GENERIC_SERVICES = (
    ("Dell SupportAssist Agent", r"C:\Program Files\Dell\SupportAssistAgent\bin\agent64.exe"),
    (
        "Printer Installer Client",
        r"C:\Program Files (x86)\Printer Properties Pro\Printer Installer Client\installer.exe",
    ),
    ("Intel Driver Support", r"C:\Program Files (x86)\Intel\Driver and Support Assistant\AppCore.exe"),
    ("Zoom Sharing Service", r"C:\Program Files\Common Files\Zoom\Support\CptService.exe"),
)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class Network:
    """Where a sign-in comes from: the address, its autonomous system and country."""

    ip: str
    asn: int
    as_org: str
    country: str
    proxy: bool = False


@dataclass
class Person:
    index: int
    first: str
    last: str
    upn: str
    sam: str
    employee_id: str
    host: str
    device_id: str
    dt_hash: str
    okta_id: str
    entra_id: str
    country: str
    isp: tuple[int, str]
    carrier: tuple[int, str]
    home_ip: str
    home_v6: str | None
    role: str  # staff, developer, it_admin, support, sales
    office: bool
    github: str | None = None
    applicant_ids: list[str] = field(default_factory=list)
    personal_email: str = ""
    phone: str = ""
    start: datetime | None = None  # set for recent hires
    worker: str | None = None  # name of the planted scenario, None when benign
    private_relay: bool = False
    byod_pc: bool = False
    night_shift: bool = False  # support staff on nights, their identity category says so
    working_day_offset: int | None = None  # the UTC offset of the working day when not the country's
    end: date | None = (
        None  # the identity lookup's endDate: the last working day of a leaver (or a rehire's old one)
    )
    contractor_account: str | None = None  # the contractor account of a contractor taken on as an employee

    def gone(self, day: date) -> bool:
        """Whether `day` is after the last working day: a leaver does no everyday work from then on."""
        return (
            self.end is not None and (self.start is None or self.start.date() <= self.end) and day > self.end
        )

    @property
    def categories(self) -> str:
        base = "it_admin" if self.role == "it_admin" else "employee"
        return base + ("|night_shift" if self.night_shift else "")

    @property
    def contractor_upn(self) -> str:
        return f"{self.first}.{self.last}.ctr@{DOMAIN}"

    @property
    def fqdn(self) -> str:
        return f"{self.host}.{HOST_SUFFIX}"

    @property
    def identifiers(self) -> list[str]:
        ids = [
            self.upn,
            self.sam,
            f"{AD_DOMAIN}\\{self.sam}",
            self.host,
            self.fqdn,
            self.device_id,
            self.dt_hash,
            self.employee_id,
            self.okta_id,
            self.entra_id,
            self.personal_email,
            *self.applicant_ids,
            *((self.contractor_account, self.contractor_upn) if self.contractor_account else ()),
        ]
        return [i for i in ids if i] + ([self.github] if self.github else []) + [self.client_ip]

    @property
    def client_ip(self) -> str:
        """The laptop's address inside the corporate network (DNS and proxy logs), fixed per laptop."""
        return f"10.8.{self.index // 250}.{self.index % 250 + 1}"


class Company:
    """One deterministic company: the same seed and size give the same logs and lookups."""

    def __init__(self, employees: int, seed: int, baseline_days: int) -> None:
        self.random = random.Random(seed)
        self.leaving = random.Random(f"leavers-{seed}")  # its own stream: the others' draws stay as they were
        self.start = MEASURED_START - timedelta(days=baseline_days)
        self.days = baseline_days + MEASURED_DAYS
        self.sanctioned = self.random.choice(sorted(SANCTIONED_RMM))
        self.prefixes: dict[int, ipaddress.IPv4Network] = {}
        self.persons: list[Person] = []
        self.repos = [f"{GITHUB_ORG}/{self._word(5)}-{n:03d}" for n in range(max(60, employees // 8))]
        self.coworking = {  # three coworking spaces in every country, each on one of its ISPs
            country: [self._coworking_space(country) for _ in range(3)] for country in COUNTRIES
        }
        self.trade_show = Network(self._ip_in(HOSTING[1]), HOSTING[1][0], HOSTING[1][1], "US")
        self.service_accounts = ["svc-ci-acme", "dependabot[bot]", "svc-mirror-acme", "renovate[bot]"]
        self.shared_devices: list[tuple[str, str]] = []  # (host, Entra device id or Okta dtHash) of shift PCs
        self.applicants: list[Event] = []
        self.records = 0
        self._make_people(employees)

    # -- random helpers -------------------------------------------------------------------------

    def _word(self, n: int) -> str:
        return "".join(self.random.choices("abcdefghijklmnopqrstuvwxyz", k=n))

    def _hex(self, n: int) -> str:
        return "".join(self.random.choices("0123456789abcdef", k=n))

    def _guid(self) -> str:
        h = self._hex(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _ip_in(self, asys: tuple[int, str], pool: int = 65536) -> str:
        """An address in the /16 this simulation gives an autonomous system (first `pool` addresses)."""
        net = self.prefixes.get(asys[0])
        if net is None:
            digest = hashlib.sha256(str(asys[0]).encode()).digest()
            net = ipaddress.IPv4Network(f"{11 + digest[0] % 180}.{digest[1]}.0.0/16")
            self.prefixes[asys[0]] = net
        return str(net.network_address + self.random.randrange(1, pool - 1))

    def _isp_ip(self, isp: tuple[int, str]) -> str:
        return self._ip_in(isp)

    def _coworking_space(self, country: str) -> Network:
        isp = self.random.choice(COUNTRIES[country][2])
        return Network(self._isp_ip(isp), isp[0], isp[1], country)

    def _cidr_ip(self, cidr: str) -> str:
        net = ipaddress.ip_network(cidr)
        return str(net.network_address + self.random.randrange(1, min(net.num_addresses - 1, 2**16)))

    # -- the people ----------------------------------------------------------------------------

    def _make_people(self, employees: int) -> None:
        upns: set[str] = set()
        sams: set[str] = set()
        for index in range(employees):
            first, last = self.random.choice(FIRST), self.random.choice(LAST)
            base = f"{first}.{last}"
            upn = f"{base}@{DOMAIN}"
            n = 1
            while upn in upns:
                n += 1
                upn = f"{base}{n}@{DOMAIN}"
            upns.add(upn)
            country = self.random.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
            isp = self.random.choice(COUNTRIES[country][2])
            roll = self.random.random()
            role = (
                "it_admin"
                if roll < 0.012
                else "support"
                if roll < 0.04
                else "sales"
                if roll < 0.14
                else "developer"
                if roll < 0.45
                else "staff"
            )
            sam, suffix = (first[0] + last)[:15], 1
            while sam in sams:  # sAMAccountNames are unique in a domain: jsmith, jsmith2, ...
                suffix += 1
                sam = (first[0] + last)[:15] + str(suffix)
            sams.add(sam)
            person = Person(
                index=index,
                first=first,
                last=last,
                upn=upn,
                sam=sam,
                employee_id=f"E{100000 + index}",
                host=f"LT-{sam.upper()[:8]}-{index:04d}",
                device_id=self._guid(),
                dt_hash=self._hex(64),
                okta_id="00u" + self._hex(17),
                entra_id=self._guid(),
                country=country,
                isp=isp,
                carrier=self.random.choice(COUNTRIES[country][3]),
                home_ip=self._isp_ip(isp),
                home_v6=f"2601:{self._hex(3)}:{self._hex(4)}:{self._hex(4)}"
                if self.random.random() < 0.45
                else None,
                role=role,
                office=country in OFFICES and self.random.random() < 0.35,
                github=f"{sam}-acme" if role in ("developer", "it_admin") else None,
                applicant_ids=[f"GH-{500000 + index}"],
                personal_email=f"{first}.{last}{self.random.randint(1, 99)}@gmail.com",
                phone=f"+1{self.random.randint(2000000000, 9899999999)}",
                private_relay=self.random.random() < 0.04,
                byod_pc=self.random.random() < 0.05,
            )
            person.night_shift = role == "support" and index % 3 == 0
            self.persons.append(person)
        # Recent hires: about 0.4% of staff start each week; a few started in the measured week.
        for person in self.random.sample(self.persons, max(4, len(self.persons) // 120)):
            person.start = self.start + timedelta(days=self.random.randrange(-30, self.days - 2))
        # About 2% of staff fly each week (travellers()); their trip days replace their ordinary days.
        trips = len(self.persons) // 50 * self.days // 7
        self.destinations: dict[int, str] = {}  # where each traveller flies (travellers())
        self.trips = {
            p.index: self.random.randrange(self.days - 1) for p in self.random.sample(self.persons, trips)
        }
        # Couples: both partners work here and share one home address.
        for a, b in self._pairs(max(2, len(self.persons) // 200)):
            b.home_ip, b.home_v6, b.isp, b.country = a.home_ip, a.home_v6, a.isp, a.country

    def _pairs(self, count: int) -> Iterator[tuple[Person, Person]]:
        chosen = self.random.sample(self.persons, count * 2)
        yield from zip(chosen[::2], chosen[1::2], strict=True)

    def plant_workers(self) -> dict[str, list[str]]:
        """Three fraudulent workers replace three recent-hire slots; returns their planted rule names."""
        picks = self.random.sample([p for p in self.persons if p.role in ("developer", "staff")], 3)
        blatant, subtle, partner = picks
        for person, name in zip(picks, ("blatant", "subtle", "infrastructure-sharing"), strict=True):
            person.worker = name
            person.start = MEASURED_START - timedelta(days=self.random.randrange(3, 20))
            person.role = "developer"
            person.github = person.github or f"{person.sam}-acme"
            person.private_relay = person.byod_pc = False
        subtle.country = partner.country = blatant.country = "US"
        subtle.home_ip = partner.home_ip = self._isp_ip(COUNTRIES["US"][2][0])  # one laptop farm
        subtle.home_v6 = partner.home_v6 = None
        subtle.working_day_offset = partner.working_day_offset = KOREA_UTC_OFFSET
        return {
            blatant.worker: [
                "okta_session_from_consumer_vpn_operator",
                "okta_user_sessions_from_multiple_countries",
                "win_rmm_multiple_families_on_host",
                "win_ipkvm_default_usb_identity",
                "github_mass_private_repo_clone",
                "win_mouse_jiggler_execution",
                "hr_phone_reused_across_applicants",
                "hr_shipping_address_change_near_start",
                "win_chrome_remote_desktop_headless_enrolment",
                "entra_signin_from_unmanaged_device",
                "globalprotect_vpn_from_other_country_than_work_country",
            ],
            subtle.worker: [
                "entra_laptop_farm_shared_egress",
                "entra_mfa_phone_shared_by_users",
                "okta_session_used_from_multiple_networks",
                "hr_resume_reused_across_applicants",
                "okta_activity_in_east_asian_working_hours",
            ],
            partner.worker: [
                "entra_laptop_farm_shared_egress",
                "entra_mfa_phone_shared_by_users",
                "win_ipkvm_composite_keyboard_pointer_storage",
                "okta_session_start_via_anonymising_proxy",
                "hr_resume_reused_across_applicants",
                "proxy_upload_to_personal_cloud_storage",
                "okta_activity_continuous_for_20_hours",
            ],
        }

    def plant_leavers(self) -> dict[str, list[str]]:
        """Leavers, with their own random stream. Staff turn over about 15% a year: 0.3% a week leave during
        the simulated weeks, 2% left in the 120 days before and are still in the HR export. A few recent
        hires are rehires whose row kept their previous end date, or contractors taken on as employees
        (the contractor account ends the day before). One developer fired before the measured week comes
        back days later to sign in and take code (extortion after firing, FBI PSA I-012325, January 2025)."""
        r = self.leaving
        first = self.start.date()
        steady = [
            p
            for p in self.persons
            if not p.worker
            and not p.start
            and p.index not in self.trips
            and p.role in ("staff", "developer", "sales")
        ]
        leaving, left = max(3, len(self.persons) * 3 * self.days // 7000), len(self.persons) // 50
        chosen = r.sample(steady, 1 + leaving + left)
        extortion, during, before = chosen[0], chosen[1 : 1 + leaving], chosen[1 + leaving :]
        for person in during:
            person.end = first + timedelta(days=r.randrange(self.days - 1))
        for person in before:
            person.end = first - timedelta(days=r.randint(1, 120))
        hires = [p for p in self.persons if p.start and not p.worker and p.index not in self.trips]
        for n, person in enumerate(r.sample(hires, min(len(hires), max(2, len(self.persons) // 400)))):
            if n % 2:  # a rehire: the row's endDate is the previous employment's
                person.end = person.start.date() - timedelta(days=r.randint(200, 900))
            else:  # a contractor taken on as an employee: a new account, the old one ends the day before
                person.contractor_account = f"c-{person.sam}"
        extortion.role, extortion.github = "developer", extortion.github or f"{extortion.sam}-acme"
        extortion.end = MEASURED_START.date() - timedelta(days=3)  # fired on the Friday before the week
        extortion.worker = "extortion-leaver"
        return {
            extortion.worker: [
                "okta_signin_after_end_date",
                "entra_signin_after_end_date",
                "github_activity_after_end_date",
                "m365_file_downloaded_after_end_date",
            ]
        }

    def travelling(self, person: Person, day: int) -> bool:
        """Abroad or flying on the day (planted workers do not travel)."""
        trip = self.trips.get(person.index)
        return not person.worker and trip is not None and 0 <= day - trip <= TRIP_DAYS

    def worker(self, name: str) -> Person:
        return next(p for p in self.persons if p.worker == name)

    # -- networks -----------------------------------------------------------------------------

    def home(self, person: Person, v6: bool = False) -> Network:
        if v6 and person.home_v6:
            ip = f"{person.home_v6}:{self._hex(4)}:{self._hex(4)}:{self._hex(4)}:{self._hex(4)}"
            return Network(ip, person.isp[0], person.isp[1], person.country)
        return Network(person.home_ip, person.isp[0], person.isp[1], person.country)

    def office(self, person: Person, v6: bool = False) -> Network:
        cidr = OFFICE_V6 if v6 else OFFICES.get(person.country, OFFICES["US"])
        return Network(self._cidr_ip(cidr), OFFICE_ASN[0], OFFICE_ASN[1], person.country)

    def mobile(self, person: Person) -> Network:
        # Carrier-grade NAT: public addresses shared by many subscribers, a new one per hop.
        return Network(self._ip_in(person.carrier), person.carrier[0], person.carrier[1], person.country)

    def vpn(self, person: Person) -> Network:
        return Network(self._cidr_ip(VPN_EGRESS), OFFICE_ASN[0], OFFICE_ASN[1], "US")

    def globalprotect(self, at: datetime, person: Person, ip: str, country: str) -> Event:
        """A GlobalProtect tunnel up, with PAN-OS's field names (an HTTP log-forwarding payload)."""
        stamp = at.strftime("%Y/%m/%d %H:%M:%S")
        return {
            "receive_time": stamp,
            "serial": "013201028945",
            "type": "GLOBALPROTECT",
            "subtype": "globalprotect",
            "time_generated": stamp,
            "vsys": "vsys1",
            "eventid": "gateway-connected",
            "stage": "tunnel",
            "auth_method": "SAML",
            "tunnel_type": "IPSec",
            "srcuser": person.upn,
            "srcregion": country,
            "machinename": person.host,
            "public_ip": ip,
            "private_ip": f"10.210.{person.index // 250}.{person.index % 250 + 1}",
            "client_os": "Microsoft Windows",
            "status": "success",
            "portal": "GP-Portal-Ext",
            "gateway": "gw-01",
            "high_res_timestamp": iso(at),
        }

    def relay(self, person: Person) -> Network:
        return Network(
            self._ip_in(PRIVATE_RELAY), PRIVATE_RELAY[0], PRIVATE_RELAY[1], person.country, proxy=True
        )

    # -- raw records --------------------------------------------------------------------------

    def okta(
        self,
        at: datetime,
        person: Person,
        net: Network,
        event_type: str,
        session: str,
        device: str = "Computer",
        dt_hash: str | None = None,
        result: str = "SUCCESS",
    ) -> Event:
        country = (
            COUNTRIES[net.country][0] if net.country in COUNTRIES else FOREIGN.get(net.country, net.country)
        )
        geo = {"city": "", "country": country, "state": "", "postalCode": None}
        return {
            "uuid": self._guid(),
            "published": iso(at),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "displayMessage": "User login to Okta"
            if event_type == "user.session.start"
            else "User single sign on to app",
            "actor": {
                "id": person.okta_id,
                "type": "User",
                "alternateId": person.upn,
                "displayName": f"{person.first.title()} {person.last.title()}",
            },
            "client": {
                "userAgent": {
                    "rawUserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0"
                    if device == "Computer"
                    else "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5)",
                    "os": "Windows 10" if device == "Computer" else "iOS",
                    "browser": "CHROME" if device == "Computer" else "SAFARI",
                },
                "zone": "null",
                "device": device,
                "ipAddress": net.ip,
                "geographicalContext": geo,
            },
            "authenticationContext": {"externalSessionId": session, "authenticationStep": 0},
            "outcome": {"result": result, "reason": None},
            "securityContext": {
                "asNumber": net.asn,
                "asOrg": net.as_org,
                "isp": net.as_org,
                "domain": None,
                "isProxy": net.proxy,
            },
            "debugContext": {
                "debugData": {"dtHash": dt_hash or person.dt_hash, "requestUri": "/idp/idx/identify"}
            },
            "transaction": {"type": "WEB", "id": self._hex(24)},
        }

    def entra_audit(self, at: datetime, activity: str, actor: Person, target: Person, net: Network) -> Event:
        """A Graph directoryAudit entry of the Authentication Methods service (security info changes); its
        ids derive from its content, so adding it leaves the company's random stream as it was."""
        key = f"{activity}|{actor.upn}|{target.upn}|{at.isoformat()}"
        return {
            "id": "UserManagement_" + hashlib.sha256(key.encode()).hexdigest()[:20].upper(),
            "category": "UserManagement",
            "correlationId": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            "result": "success",
            "resultReason": activity,
            "activityDisplayName": activity,
            "activityDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "loggedByService": "Authentication Methods",
            "operationType": "Delete" if "deleted" in activity else "Add",
            "initiatedBy": {
                "app": None,
                "user": {"id": actor.entra_id, "userPrincipalName": actor.upn, "ipAddress": net.ip},
            },
            "targetResources": [
                {
                    "id": target.entra_id,
                    "type": "User",
                    "userPrincipalName": target.upn,
                    "modifiedProperties": [],
                }
            ],
            "additionalDetails": [],
        }

    def mfa_phone(self, person: Person, replaced: int = 0) -> str:
        """The number on a person's MFA phone (the `replaced`-th replacement may bring a new one), written
        as people type it; the laptop-farm pair answer on their facilitator's handset. From a hash, so
        the company's random stream is unchanged."""
        key = "farm" if person.worker in ("subtle", "infrastructure-sharing") else f"{person.upn}|{replaced}"
        digits = str(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % 10**7).zfill(7)
        area = 200 + int(hashlib.sha256(key.encode()).hexdigest()[12:14], 16) % 700
        return f"+1 ({area}) {digits[:3]}-{digits[3:]}" if person.index % 2 else f"+1 {area}{digits}"

    def entra_phone_set(self, at: datetime, person: Person, phone: str, old: str | None) -> Event:
        """A Graph directoryAudit "Update user" entry of Core Directory: the MFA service writes the phone
        into StrongAuthenticationUserDetails (JSON text) when a phone method is registered."""
        key = f"Update user|{person.upn}|{at.isoformat()}"

        def details(number: str | None) -> str:
            return json.dumps(
                [
                    {
                        "PhoneNumber": number,
                        "AlternativePhoneNumber": None,
                        "Email": None,
                        "VoiceOnlyPhoneNumber": None,
                    }
                ],
                separators=(",", ":"),
            )

        return {
            "id": "Directory_" + hashlib.sha256(key.encode()).hexdigest()[:20].upper(),
            "category": "UserManagement",
            "correlationId": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            "result": "success",
            "resultReason": "",
            "activityDisplayName": "Update user",
            "activityDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "loggedByService": "Core Directory",
            "operationType": "Update",
            "initiatedBy": {"app": {"displayName": "Azure MFA StrongAuthenticationService"}, "user": None},
            "targetResources": [
                {
                    "id": person.entra_id,
                    "type": "User",
                    "userPrincipalName": person.upn,
                    "modifiedProperties": [
                        {
                            "displayName": "StrongAuthenticationUserDetails",
                            "oldValue": details(old) if old else "[]",
                            "newValue": details(phone),
                        },
                        {
                            "displayName": "Included Updated Properties",
                            "oldValue": None,
                            "newValue": '"StrongAuthenticationUserDetails"',
                        },
                    ],
                }
            ],
            "additionalDetails": [],
        }

    def entra(
        self,
        at: datetime,
        person: Person,
        net: Network,
        session: str,
        *,
        interactive: bool,
        managed: bool = True,
        device_id: str | None = None,
        os_name: str = "Windows10",
        mfa_device: str | None = None,
        app: tuple[str, str] | None = None,
    ) -> Event:
        registered = device_id if device_id is not None else (person.device_id if managed else "")
        record: Event = {
            "id": self._guid(),
            "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "userDisplayName": f"{person.first.title()} {person.last.title()}",
            "userPrincipalName": person.upn,
            "userId": person.entra_id,
            "appDisplayName": app[1] if app else self.random.choice(OFFICE_APPS),
            "appId": app[0] if app else "00000002-0000-0ff1-ce00-000000000000",
            "ipAddress": net.ip,
            "autonomousSystemNumber": net.asn,
            "clientAppUsed": "Browser" if os_name.startswith("Win") else "Mobile Apps and Desktop clients",
            "correlationId": self._guid(),
            "isInteractive": interactive,
            "sessionId": session,
            "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None},
            "deviceDetail": {
                "deviceId": registered,
                "displayName": person.host if registered else "",
                "operatingSystem": os_name,
                "browser": self.random.choice(BROWSERS),
                "isCompliant": managed,
                "isManaged": managed,
                "trustType": "Azure AD joined" if registered else "",
            },
            "location": {"city": "", "state": "", "countryOrRegion": net.country},
        }
        if mfa_device:
            record["authenticationAppDeviceDetails"] = {
                "deviceId": mfa_device,
                "operatingSystem": "iOS",
                "appVersion": "6.8.11",
                "clientApp": "Microsoft Authenticator",
            }
        return record

    def windows(
        self, at: datetime, host: str, channel: str, provider: str, event_id: int, data: Event
    ) -> Event:
        self.records += 1
        return {
            "Event": {
                "System": {
                    "Provider": {"#attributes": {"Name": provider}},
                    "EventID": event_id,
                    "Version": 0,
                    "Level": 0,
                    "TimeCreated": {"#attributes": {"SystemTime": iso(at)}},
                    "EventRecordID": self.records,
                    "Channel": channel,
                    "Computer": host,
                },
                "EventData": data,
            }
        }

    def security(self, at: datetime, host: str, event_id: int, data: Event) -> Event:
        return self.windows(at, host, "Security", "Microsoft-Windows-Security-Auditing", event_id, data)

    def sysmon(self, at: datetime, host: str, event_id: int, data: Event) -> Event:
        data = {
            "UtcTime": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "ProcessGuid": "{" + self._guid() + "}",
            **data,
        }
        return self.windows(
            at, host, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", event_id, data
        )

    def process(
        self,
        at: datetime,
        person: Person,
        image: str,
        command: str = "",
        user: str | None = None,
        original: str | None = None,
        host: str | None = None,
    ) -> Event:
        name = image.rsplit("\\", 1)[-1]
        return self.sysmon(
            at,
            host or person.fqdn,
            1,
            {
                "ProcessId": self.random.randint(100, 60000),
                "Image": image,
                "OriginalFileName": original or name,
                "CommandLine": command or f'"{image}"',
                "CurrentDirectory": "C:\\Windows\\system32\\",
                "User": user or f"{AD_DOMAIN}\\{person.sam}",
                "IntegrityLevel": "Medium",
                "ParentImage": r"C:\Windows\explorer.exe",
            },
        )

    def usb(
        self,
        at: datetime,
        host: str,
        device_id: str,
        description: str,
        compatible: str,
        vendor: str,
        location: str,
    ) -> Event:
        return self.security(
            at,
            host,
            6416,
            {
                "SubjectUserSid": "S-1-5-18",
                "SubjectUserName": host.split(".")[0] + "$",
                "SubjectDomainName": AD_DOMAIN,
                "SubjectLogonId": "0x3e7",
                "ClassId": "{745A17A0-74D3-11D0-B6FE-00A0C90F57DA}",
                "ClassName": "HIDClass" if "Class_03" in compatible else "USB",
                "DeviceId": device_id,
                "DeviceDescription": description,
                "VendorIds": f"\r\n\t\t{vendor}\r\n\t\t",
                "CompatibleIds": f"\r\n\t\t{compatible}\r\n\t\t",
                "LocationInformation": location,
            },
        )

    def dns(self, at: datetime, client: str, query: str) -> Event:
        return {
            "ts": round(at.timestamp(), 3),
            "uid": "C" + self._hex(17),
            "id.orig_h": client,
            "id.orig_p": self.random.randint(49152, 65535),
            "id.resp_h": "10.0.0.53",
            "id.resp_p": 53,
            "proto": "udp",
            "query": query,
            "qtype_name": "A",
            "rcode_name": "NOERROR",
            "answers": [self._ip_in(HOSTING[0])],
            "rejected": False,
        }

    def proxy(
        self,
        at: datetime,
        person: Person,
        host: str,
        method: str = "CONNECT",
        sent: int = 900,
        path: str = "/",
    ) -> Event:
        return {
            "datetime": iso(at),
            "c-ip": person.client_ip,
            "cs-username": person.upn,
            "cs-method": method,
            "cs-host": host,
            "c-uri": f"https://{host}{path}" if method != "CONNECT" else f"{host}:443",
            "sc-status": 200,
            "cs-bytes": sent,
            "sc-bytes": self.random.randint(500, 90000),
            "c-useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0",
            "x-action": "allowed",
        }

    def m365(
        self,
        at: datetime,
        person: Person,
        operation: str,
        object_id: str,
        workload: str = "OneDrive",
        **extra: Any,
    ) -> Event:
        return {
            "CreationTime": at.strftime("%Y-%m-%dT%H:%M:%S"),
            "Id": self._guid(),
            "Operation": operation,
            "OrganizationId": "6f1c2d4e-0a7b-4c1e-9d2f-3b5a7c9e1f20",
            "RecordType": 6,
            "UserType": 0,
            "Version": 1,
            "Workload": workload,
            "ClientIP": person.home_ip,
            "ObjectId": object_id,
            "UserId": person.upn,
            "UserAgent": "Microsoft SkyDriveSync 24.101.0519.0010 ship; Windows NT 10.0",
            **extra,
        }

    def gws(
        self, at: datetime, person: Person, app: str, name: str, net: Network, **parameters: Any
    ) -> Event:
        return {
            "kind": "admin#reports#activity",
            "id": {
                "time": iso(at),
                "uniqueQualifier": str(self.random.randint(10**17, 10**18)),
                "applicationName": app,
                "customerId": "C03az79cb",
            },
            "actor": {"callerType": "USER", "email": person.upn, "profileId": str(10**20 + person.index)},
            "ipAddress": net.ip,
            "networkInfo": {"regionCode": net.country, "ipAsn": [net.asn]},
            "events": {
                "type": "login" if app == "login" else "access",
                "name": name,
                "parameters": parameters,
            },
        }

    def github(
        self,
        at: datetime,
        actor: str,
        action: str,
        repo: str,
        ip: str,
        *,
        private: bool = True,
        access: str = "SSH key",
        country: str = "US",
    ) -> Event:
        return {
            "@timestamp": int(at.timestamp() * 1000),
            "_document_id": self._hex(22) + "==",
            "action": action,
            "actor": actor,
            "actor_ip": ip,
            "actor_location": {"country_code": country},
            "org": GITHUB_ORG,
            "repo": repo,
            "repository": repo,
            "repository_public": not private,
            "operation_type": "access",
            "user_agent": "git/2.45.2",
            "transport_protocol_name": "ssh",
            "programmatic_access_type": access,
        }


def day_start(company: Company, day: int, person: Person) -> datetime:
    """09:00 local time on the day (22:00 on night shift), as UTC, with a little jitter."""
    offset = COUNTRIES.get(person.country, COUNTRIES["US"])[1]
    if person.working_day_offset is not None:
        offset = person.working_day_offset
    base = company.start + timedelta(days=day, hours=(22 if person.night_shift else 9) - offset)
    return base + timedelta(minutes=company.random.randint(-50, 50))


class Writer:
    """Raw records by source, one file each, as a customer would export them."""

    FILES = (
        "okta.ndjson",
        "entra_signin.ndjson",
        "entra_audit.ndjson",
        "m365_audit.ndjson",
        "google_workspace.ndjson",
        "github_audit.ndjson",
        "windows.ndjson",
        "dns.ndjson",
        "proxy.ndjson",
        "globalprotect.ndjson",
    )

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.streams = {
            name.split(".")[0]: (folder / name).open("w", encoding="utf-8") for name in self.FILES
        }
        self.counts: Counter[str] = Counter()

    def write(self, source: str, events: Iterable[Event]) -> None:
        stream = self.streams[source]
        for event in events:
            stream.write(json.dumps(event, separators=(",", ":")) + "\n")
            self.counts[source] += 1

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()


class Week:
    """Everyday behaviour of every person, plus the scenario-level hard negatives and planted workers."""

    def __init__(self, company: Company, out: Writer) -> None:
        self.c = company
        self.r = company.random
        self.out = out

    # -- everyday ----------------------------------------------------------------------------------

    def person_day(self, person: Person, day: int) -> None:
        c, r = self.c, self.r
        if c.travelling(person, day):
            return  # abroad or flying (travellers() writes those days)
        weekday = (c.start + timedelta(days=day)).weekday()
        if person.start and c.start + timedelta(days=day) < person.start:
            return
        if person.gone((c.start + timedelta(days=day)).date()):
            return
        if weekday >= 5 and r.random() > 0.15:
            return
        at = day_start(c, day, person)
        at_office = person.office and weekday < 5 and r.random() < 0.6
        v6 = person.home_v6 is not None and r.random() < 0.5
        net = c.office(person) if at_office else c.home(person, v6)
        if (person.role == "sales" and r.random() < 0.1) or r.random() < 0.01:
            spaces = c.coworking[person.country]  # the spaces near the person's home
            net = spaces[person.index % len(spaces)]
        first_day = person.start is not None and (c.start + timedelta(days=day)).date() == person.start.date()
        self.okta_day(person, at, net, commute=person.office and at_office and r.random() < 0.3)
        self.entra_day(person, at, net, first_day)
        self.windows_day(person, at, first_day)
        self.web_day(person, at)
        self.m365_day(person, at, first_day)
        if person.index % 3 == 0:
            self.gws_day(person, at, net)
        if person.github:
            self.github_day(person, at, net, first_day)

    def okta_day(self, person: Person, at: datetime, net: Network, commute: bool) -> None:
        c, r = self.c, self.r
        session = "102" + c._hex(23)
        events = []
        if commute:  # session started at home before leaving, used again from the office within the hour
            home = c.home(person)
            events.append(c.okta(at - timedelta(minutes=55), person, home, "user.session.start", session))
            events.append(
                c.okta(at - timedelta(minutes=50), person, home, "user.authentication.sso", session)
            )
        elif person.private_relay and r.random() < 0.5:
            net = c.relay(person)
        events.append(c.okta(at, person, net, "user.session.start", session))
        if person.start and at.date() == person.start.date():  # Okta Verify enrolled on the first day
            events.append(c.okta(at + timedelta(minutes=3), person, net, "user.mfa.factor.activate", session))
        for n in range(r.randint(2, 5)):
            events.append(
                c.okta(at + timedelta(minutes=5 + 40 * n), person, net, "user.authentication.sso", session)
            )
        if r.random() < 0.35:  # phone: Okta Verify / mobile browser session moving between Wi-Fi and cellular
            phone_session = "102" + c._hex(23)
            t = at + timedelta(hours=r.uniform(1, 8))
            events.append(
                c.okta(
                    t,
                    person,
                    c.home(person),
                    "user.session.start",
                    phone_session,
                    device="Mobile",
                    dt_hash=hashlib.sha256(person.upn.encode() + b"phone").hexdigest(),
                )
            )
            for _ in range(r.randint(1, 3)):
                t += timedelta(minutes=r.randint(5, 25))
                events.append(
                    c.okta(
                        t,
                        person,
                        c.mobile(person),
                        "user.authentication.sso",
                        phone_session,
                        device="Mobile",
                        dt_hash=hashlib.sha256(person.upn.encode() + b"phone").hexdigest(),
                    )
                )
        self.out.write("okta", events)

    def entra_day(self, person: Person, at: datetime, net: Network, first_day: bool) -> None:
        c, r = self.c, self.r
        session = c._guid()
        events = [c.entra(at + timedelta(minutes=2), person, net, session, interactive=True)]
        for n in range(r.randint(2, 6)):
            hop = (
                c.home(person, v6=True)
                if person.home_v6 and net.asn == person.isp[0] and r.random() < 0.5
                else net
            )
            events.append(
                c.entra(at + timedelta(minutes=10 + 50 * n), person, hop, session, interactive=False)
            )
        if r.random() < 0.45:  # Outlook / Teams on a personal phone: unmanaged, no device id
            phone_session = c._guid()
            t = at + timedelta(hours=r.uniform(0, 9))
            for n in range(r.randint(1, 3)):
                hop = c.mobile(person) if n else c.home(person)
                events.append(
                    c.entra(
                        t + timedelta(minutes=20 * n),
                        person,
                        hop,
                        phone_session,
                        interactive=n == 0,
                        managed=False,
                        os_name=r.choice(("iOS", "Android")),
                    )
                )
        if person.byod_pc and r.random() < 0.3:  # personal home PC in a browser (allowed by policy)
            events.append(
                c.entra(
                    at + timedelta(hours=10),
                    person,
                    c.home(person),
                    c._guid(),
                    interactive=True,
                    managed=False,
                    os_name="Windows10",
                )
            )
        if first_day:  # MFA set up on the first day, from where the new hire works
            events.append(
                c.entra(at + timedelta(minutes=20), person, net, c._guid(), interactive=True, app=MY_SIGNINS)
            )
        self.security_info_day(person, at, net, first_day)
        if first_day:  # Entra join during set-up: the technician's and the user's MFA on one device
            events.append(
                c.entra(
                    at - timedelta(minutes=30),
                    person,
                    c.office(person),
                    c._guid(),
                    interactive=True,
                    mfa_device=person.dt_hash[:8] + "-" + person.device_id[9:],
                )
            )
        self.out.write("entra_signin", events)

    def security_info_day(self, person: Person, at: datetime, net: Network, first_day: bool) -> None:
        """Entra audit: a new hire registers their methods on the first day, the phone number with them;
        now and then (0.4% of person-days, drawn from a hash so the company's random stream is unchanged) a
        phone is replaced: the helpdesk clears the methods from the office and the user registers again
        from where they are, one time in three with a new number."""
        c = self.c
        audit = []
        if first_day:
            for minutes, activity in (
                (22, "User registered security info"),
                (23, "User registered all required security info"),
            ):
                audit.append(c.entra_audit(at + timedelta(minutes=minutes), activity, person, person, net))
            audit.append(c.entra_phone_set(at + timedelta(minutes=22), person, c.mfa_phone(person), None))
        elif (
            draw := int(hashlib.sha256(f"{person.upn}|{at.date()}".encode()).hexdigest()[:8], 16)
        ) % 1000 < 4:
            admin = next(p for p in c.persons if p.role == "it_admin")
            office = ipaddress.ip_network(OFFICES.get(admin.country, OFFICES["US"]))
            helpdesk = Network(str(office.network_address + 2), OFFICE_ASN[0], OFFICE_ASN[1], admin.country)
            audit.append(
                c.entra_audit(at + timedelta(hours=2), "Admin deleted security info", admin, person, helpdesk)
            )
            audit.append(
                c.entra_audit(
                    at + timedelta(hours=2, minutes=25), "User registered security info", person, person, net
                )
            )
            phone = c.mfa_phone(person, replaced=1 if draw % 3 == 0 else 0)
            audit.append(c.entra_phone_set(at + timedelta(hours=2, minutes=25), person, phone, None))
        self.out.write("entra_audit", audit)

    def windows_day(self, person: Person, at: datetime, first_day: bool) -> None:
        c, r = self.c, self.r
        host = person.fqdn
        image, original, _service, domains = SANCTIONED_RMM[c.sanctioned]
        events = [
            c.process(at + timedelta(minutes=1), person, r.choice(BENIGN_PROCESSES))
            for _ in range(r.randint(1, 2))
        ]
        events.append(c.process(at, person, image, user="NT AUTHORITY\\SYSTEM", original=original))
        events.append(
            c.sysmon(
                at + timedelta(seconds=5),
                host,
                22,
                {
                    "Image": image,
                    "QueryName": r.choice(domains),
                    "QueryStatus": "0",
                    "QueryResults": "::ffff:1.2.3.4;",
                },
            )
        )
        events.append(
            c.sysmon(
                at + timedelta(seconds=9),
                host,
                22,
                {
                    "Image": r"C:\Program Files\Sophos\AutoUpdate\SophosUpdate.exe",
                    "QueryName": "d1.sophosupd.com",
                    "QueryStatus": "0",
                    "QueryResults": "::ffff:1.2.3.5;",
                },
            )
        )
        if person.index % 40 == 1:  # streamers and podcasters
            events.append(
                c.process(
                    at + timedelta(hours=3),
                    person,
                    r"C:\Program Files\obs-studio\bin\64bit\obs64.exe",
                    '"obs64.exe" --startvirtualcam',
                )
            )
        if person.index % 35 == 2:
            events.append(
                c.process(
                    at + timedelta(minutes=3),
                    person,
                    r"C:\Program Files (x86)\VB\Voicemeeter\voicemeeter8x64.exe",
                )
            )
        if r.random() < 0.5 and person.role not in (
            "support",
        ):  # dock: keyboard, mouse and card reader at once
            events.extend(self.dock(person, at - timedelta(minutes=2)))
        if first_day:
            events.extend(self.imaging(person, at - timedelta(hours=1)))
        if r.random() < 0.02:
            name, path = r.choice(GENERIC_SERVICES)
            events.append(
                c.windows(
                    at + timedelta(hours=2),
                    host,
                    "System",
                    "Service Control Manager",
                    7045,
                    {
                        "ServiceName": name,
                        "ImagePath": f'"{path}"',
                        "ServiceType": "user mode service",
                        "StartType": "auto start",
                        "AccountName": "LocalSystem",
                    },
                )
            )
        self.out.write("windows", events)

    def dock(self, person: Person, at: datetime) -> list[Event]:
        c = self.c
        host = person.fqdn
        return [
            c.usb(
                at,
                host,
                r"HID\VID_046D&PID_C31C&MI_00\7&2a1e6f&0&0000",
                "HID Keyboard Device",
                r"USB\Class_03&SubClass_01&Prot_01",
                r"USB\VID_046D&PID_C31C&REV_6400",
                "Port_#0001.Hub_#0003",
            ),
            c.usb(
                at + timedelta(seconds=1),
                host,
                r"HID\VID_046D&PID_C077\7&1b3c&0&0000",
                "HID-compliant mouse",
                r"USB\Class_03&SubClass_01&Prot_02",
                r"USB\VID_046D&PID_C077&REV_7200",
                "Port_#0002.Hub_#0003",
            ),
            c.usb(
                at + timedelta(seconds=2),
                host,
                r"USBSTOR\Disk&Ven_Generic&Prod_SD_Card_Reader\000000001536",
                "Generic SD Card Reader USB Device",
                r"USB\Class_08&SubClass_06&Prot_50",
                r"USB\VID_0BDA&PID_0316&REV_1536",
                "Port_#0004.Hub_#0003",
            ),
        ]

    def imaging(self, person: Person, at: datetime) -> list[Event]:
        """A new laptop's first day: Entra join adds the user to local Administrators, IT installs agents."""
        c = self.c
        host = person.fqdn
        image, _original, service, _domains = SANCTIONED_RMM[c.sanctioned]
        return [
            c.security(
                at,
                host,
                4732,
                {
                    "MemberName": "-",
                    "MemberSid": f"S-1-12-1-{c.random.randint(10**9, 4 * 10**9)}-{c.random.randint(10**9, 4 * 10**9)}",
                    "TargetUserName": "Administrators",
                    "TargetDomainName": "Builtin",
                    "TargetSid": "S-1-5-32-544",
                    "SubjectUserSid": "S-1-5-18",
                    "SubjectUserName": person.host + "$",
                    "SubjectDomainName": AD_DOMAIN,
                    "SubjectLogonId": "0x3e7",
                },
            ),
            c.windows(
                at + timedelta(minutes=10),
                host,
                "System",
                "Service Control Manager",
                7045,
                {
                    "ServiceName": service,
                    "ImagePath": f'"{image}"',
                    "ServiceType": "user mode service",
                    "StartType": "auto start",
                    "AccountName": "LocalSystem",
                },
            ),
        ]

    def web_day(self, person: Person, at: datetime) -> None:
        c, r = self.c, self.r
        client = person.client_ip
        _image, _o, _s, domains = SANCTIONED_RMM[c.sanctioned]
        queries = [r.choice(EVERYDAY_DOMAINS) for _ in range(r.randint(2, 4))] + [r.choice(domains)]
        self.out.write("dns", [c.dns(at + timedelta(minutes=n), client, q) for n, q in enumerate(queries)])
        requests = [c.proxy(at + timedelta(minutes=n), person, q) for n, q in enumerate(queries)]
        if person.index % 20 == 3 and r.random() < 0.3:  # the staff who send customers files every week
            host = r.choice(("wetransfer.com", "upload.box.com"))
            requests.append(
                c.proxy(
                    at + timedelta(hours=4),
                    person,
                    host,
                    method=r.choice(("POST", "CONNECT")),
                    sent=r.randint(6_000_000, 80_000_000),
                    path="/api/v4/transfers",
                )
            )
        self.out.write("proxy", requests)

    def m365_day(self, person: Person, at: datetime, first_day: bool) -> None:
        c, r = self.c, self.r
        site = f"https://acmecorp-my.sharepoint.com/personal/{person.first}_{person.last}_acme-corp_com/Documents"
        events = [
            c.m365(
                at + timedelta(minutes=30 * n), person, "FileAccessed", f"{site}/doc{r.randint(1, 400)}.docx"
            )
            for n in range(r.randint(1, 4))
        ]
        if r.random() < 0.06:
            events.append(
                c.m365(
                    at + timedelta(hours=2),
                    person,
                    "SharingInvitationCreated",
                    f"{site}/proposal.docx",
                    TargetUserOrGroupType="Guest",
                    TargetUserOrGroupName=f"contact@partner{r.randint(1, 60)}.com",
                )
            )
        if person.index % 25 == 4 and r.random() < 0.2:  # the staff who share anyone-links as a habit
            events.append(
                c.m365(at + timedelta(hours=3), person, "AnonymousLinkCreated", f"{site}/brochure.pdf")
            )
        if first_day:  # the new laptop's first OneDrive sync: every file downloaded in a few minutes
            for n in range(r.randint(60, 300)):
                events.append(
                    c.m365(
                        at + timedelta(seconds=2 * n),
                        person,
                        "FileSyncDownloadedFull",
                        f"{site}/synced/file{n:04d}.docx",
                    )
                )
        self.out.write("m365_audit", events)

    def gws_day(self, person: Person, at: datetime, net: Network) -> None:
        c, r = self.c, self.r
        events = [c.gws(at, person, "login", "login_success", net, login_type="google_password")]
        if r.random() < 0.3:
            events.append(
                c.gws(at + timedelta(minutes=20), person, "login", "login_success", c.mobile(person))
            )
            events.append(
                c.gws(at + timedelta(minutes=40), person, "login", "login_success", c.mobile(person))
            )
        for n in range(r.randint(0, 4)):
            events.append(
                c.gws(
                    at + timedelta(minutes=n * 7),
                    person,
                    "drive",
                    "download",
                    net,
                    doc_id=c._hex(28),
                    doc_type="document",
                    visibility="shared_internally",
                )
            )
        self.out.write("google_workspace", events)

    def github_day(self, person: Person, at: datetime, net: Network, first_day: bool) -> None:
        c, r = self.c, self.r
        events = []
        for n in range(r.randint(1, 6)):
            events.append(
                c.github(
                    at + timedelta(minutes=30 * n),
                    person.github,
                    r.choice(("git.fetch", "git.push")),
                    r.choice(c.repos),
                    net.ip,
                    country=net.country,
                )
            )
        if r.random() < 0.05:
            events.append(
                c.github(
                    at + timedelta(hours=2),
                    person.github,
                    "git.clone",
                    r.choice(c.repos),
                    net.ip,
                    country=net.country,
                )
            )
        if first_day or r.random() < 0.003:  # a new hire's first clones, or a cross-repository refactor
            for n, repo in enumerate(r.sample(c.repos, r.randint(10, 25))):
                events.append(
                    c.github(
                        at + timedelta(minutes=2 * n + 30),
                        person.github,
                        "git.clone",
                        repo,
                        net.ip,
                        country=net.country,
                    )
                )
        self.out.write("github_audit", events)

    # -- scenario-level hard negatives --------------------------------------------------------------

    def scenario(self) -> None:
        self.bots()
        self.it_admins()
        self.travellers()
        self.trade_show()
        self.shared_pcs()
        self.hr()

    def bots(self) -> None:
        c = self.c
        events = []
        for day in range(c.days):
            for bot in c.service_accounts:
                at = c.start + timedelta(days=day, hours=c.random.randint(0, 23))
                for n, repo in enumerate(c.repos):
                    events.append(
                        c.github(
                            at + timedelta(seconds=20 * n),
                            bot,
                            "git.clone",
                            repo,
                            c._ip_in(HOSTING[1]),
                            access="GitHub App server-to-server token",
                        )
                    )
        self.out.write("github_audit", events)

    def it_admins(self) -> None:
        """IT admins grant local admin for installs and image replacement laptops."""
        c, r = self.c, self.r
        admins = [p for p in c.persons if p.role == "it_admin"]
        events = []
        for day in range(c.days):
            if (c.start + timedelta(days=day)).weekday() >= 5:
                continue
            for admin in admins:
                for target in r.sample(c.persons, 2):
                    at = day_start(c, day, admin) + timedelta(hours=r.uniform(0, 7))
                    events.append(
                        c.security(
                            at,
                            target.fqdn,
                            4732,
                            {
                                "MemberName": f"CN={target.first} {target.last},OU=Users,DC=corp",
                                "MemberSid": f"S-1-5-21-3623811015-3361044348-30300820-{2000 + target.index}",
                                "TargetUserName": "Administrators",
                                "TargetDomainName": "Builtin",
                                "TargetSid": "S-1-5-32-544",
                                "SubjectUserSid": f"S-1-5-21-3623811015-3361044348-30300820-{2000 + admin.index}",
                                "SubjectUserName": admin.sam,
                                "SubjectDomainName": AD_DOMAIN,
                                "SubjectLogonId": "0x5d2a1",
                            },
                        )
                    )
                    events.append(
                        c.process(
                            at - timedelta(seconds=3),
                            target,
                            r"C:\Windows\System32\net.exe",
                            f"net localgroup administrators {AD_DOMAIN}\\{target.sam} /add",
                            user=f"{AD_DOMAIN}\\{admin.sam}",
                            host=target.fqdn,
                        )
                    )
        self.out.write("windows", events)

    def travellers(self) -> None:
        """About 2% of staff fly each week: one country change, a plausible flight, half on the corporate VPN."""
        c, r = self.c, self.r
        for index, day in c.trips.items():
            person = c.persons[index]
            if person.worker:
                continue
            depart = day_start(c, day, person) - timedelta(hours=2)
            # One trip in twenty goes to China (suppliers, sales): the watch-listed country's benign cost.
            china = r.random() < 0.05
            destination = "CN" if china else r.choice([k for k in COUNTRIES if k != person.country])
            c.destinations[person.index] = destination
            flight = timedelta(
                hours=r.uniform(7, 14) if {person.country, destination} != {"GB", "DE"} else r.uniform(3, 5)
            )
            arrive = depart + flight
            abroad = Network(c._ip_in(HOSTING[2]), HOSTING[2][0], HOSTING[2][1], destination)  # hotel Wi-Fi
            on_vpn = r.random() < 0.5
            okta, entra = [], []
            for n in range(TRIP_DAYS * 2):  # two sign-ins a day abroad until the flight home
                t = arrive + timedelta(days=n // 2, hours=3 * (n % 2))
                net = c.vpn(person) if on_vpn else abroad
                session = "102" + c._hex(23)
                okta.append(c.okta(t, person, net, "user.session.start", session))
                entra.append(c.entra(t, person, net, c._guid(), interactive=True))
                if n == 1 and person.index % 10 == 0:  # a phone lost abroad: MFA enrolled again there
                    okta.append(c.okta(t, person, net, "user.mfa.factor.activate", session))
                    entra.append(c.entra(t, person, net, c._guid(), interactive=True, app=MY_SIGNINS))
            okta.append(c.okta(depart, person, c.home(person), "user.session.start", "102" + c._hex(23)))
            self.out.write("okta", okta)
            self.out.write("entra_signin", entra)

    def trade_show(self) -> None:
        """Sales staff on one conference Wi-Fi for two days."""
        c = self.c
        sales = [p for p in c.persons if p.role == "sales" and p.country == "US"][:40]  # a US show
        for day in (2, c.days - 4):
            okta, entra = [], []
            on_staff = (p for p in sales if not p.gone((c.start + timedelta(days=day)).date()))
            for person in (p for p in on_staff if not c.travelling(p, day)):
                at = day_start(c, day, person) + timedelta(hours=1)
                okta.append(c.okta(at, person, c.trade_show, "user.session.start", "102" + c._hex(23)))
                entra.append(c.entra(at, person, c.trade_show, c._guid(), interactive=True))
            self.out.write("okta", okta)
            self.out.write("entra_signin", entra)

    def shared_pcs(self) -> None:
        """Support shifts share PCs; a lobby kiosk signs in several visitors' hosts a day."""
        c = self.c
        support = [p for p in c.persons if p.role == "support"]
        pcs = [(f"SUP-PC-{n:02d}", c._guid(), c._hex(64)) for n in range(max(2, len(support) // 4))]
        c.shared_devices = [(host, device) for host, device, _hash in pcs] + [
            (host, dt_hash) for host, _device, dt_hash in pcs
        ]
        okta, entra = [], []
        for day in range(c.days):
            for n, person in enumerate(support):
                _host, device, dt_hash = pcs[n % len(pcs)]
                shift = c.start + timedelta(days=day, hours=6 + 8 * (n // len(pcs) % 3))
                net = c.office(person)
                entra.append(c.entra(shift, person, net, c._guid(), interactive=True, device_id=device))
                okta.append(
                    c.okta(shift, person, net, "user.session.start", "102" + c._hex(23), dt_hash=dt_hash)
                )
        self.out.write("okta", okta)
        self.out.write("entra_signin", entra)

    def hr(self) -> None:
        """Applicants (re-applications, duplicate profiles, VoIP numbers), new hires and their changes."""
        c, r = self.c, self.r
        rows: list[Event] = []
        for n in range(len(c.persons) // 12 * c.days // 7):
            applied = c.start + timedelta(days=r.uniform(0, c.days), hours=r.uniform(0, 23))
            first, last = r.choice(FIRST), r.choice(LAST)
            voip = r.random() < 0.08
            row = self.applicant(
                f"GH-{700000 + n}",
                f"{first} {last}",
                f"{first}.{last}{n}@gmail.com",
                f"+1{r.randint(2000000000, 9899999999)}",
                applied,
                voip,
                c._hex(64),
            )
            rows.append(row)
            if r.random() < 0.05:  # re-applies to another requisition, or a second ATS profile by mistake
                again = dict(
                    row,
                    applicant_id=f"GH-{800000 + n}" if r.random() < 0.5 else row["applicant_id"],
                    application_id=f"APP-{c._hex(6)}",
                    applied_at=iso(applied + timedelta(days=r.randint(1, 20))),
                )
                rows.append(again)
        for person in c.persons:
            if person.start is None:
                continue
            applied = person.start - timedelta(days=r.randint(25, 60))
            rows.append(
                self.applicant(
                    person.applicant_ids[0],
                    f"{person.first.title()} {person.last.title()}",
                    person.personal_email,
                    person.phone,
                    applied,
                    r.random() < 0.08,
                    c._hex(64),
                )
            )
            rows.append(
                {
                    "record_type": "employee",
                    "employee_id": person.employee_id,
                    "applicant_id": person.applicant_ids[0],
                    "full_name": f"{person.first.title()} {person.last.title()}",
                    "email": person.upn,
                    "start_date": person.start.date().isoformat(),
                    "work_country": person.country,
                    "source_system": "workday",
                }
            )
            if r.random() < 0.3:  # direct deposit set up or corrected in the first weeks
                rows.append(
                    self.change(person, "bank_account", person.start + timedelta(days=r.randint(1, 12)))
                )
        self.workers_hr(rows)
        c.applicants = rows

    def applicant(
        self, applicant_id: str, name: str, email: str, phone: str, applied: datetime, voip: bool, resume: str
    ) -> Event:
        return {
            "record_type": "applicant",
            "applicant_id": applicant_id,
            "application_id": f"APP-{self.c._hex(6)}",
            "job_requisition_id": f"REQ-{self.r.randint(1, 90):04d}",
            "full_name": name,
            "email": email,
            "phone": phone,
            "phone_line_type": "non_fixed_voip" if voip else "mobile",
            "phone_carrier": "Google (Grand Central) - SVR" if voip else "Verizon",
            "resume_sha256": resume,
            "portfolio_url": f"https://github.com/{name.lower().replace(' ', '-')}-{resume[:4]}",
            "applied_at": iso(applied),
            "source_system": "greenhouse",
        }

    def change(self, person: Person, kind: str, at: datetime) -> Event:
        return {
            "record_type": "employee_change",
            "employee_id": person.employee_id,
            "change_type": kind,
            "changed_at": iso(at),
            "changed_by": "self",
            "start_date": person.start.date().isoformat() if person.start else "",
            "new_country": "US",
            "new_value_summary": "Chase" if kind == "bank_account" else "Las Vegas, NV",
            "source_system": "workday",
        }

    # -- planted workers ---------------------------------------------------------------------------

    def workers_hr(self, rows: list[Event]) -> None:
        c, r = self.c, self.r
        blatant, subtle, partner = (c.worker(n) for n in ("blatant", "subtle", "infrastructure-sharing"))
        facilitator_phone = f"+1702555{r.randint(1000, 9999)}"
        shared_resume = c._hex(64)
        for person in (blatant, subtle, partner):
            row = next(
                x
                for x in rows
                if x.get("applicant_id") == person.applicant_ids[0] and x["record_type"] == "applicant"
            )
            row["phone_line_type"], row["phone_carrier"] = "non_fixed_voip", "Google (Grand Central) - SVR"
        # The blatant worker applied earlier under another name with the same Google Voice number.
        earlier = self.applicant(
            f"GH-{900000 + blatant.index}",
            f"{r.choice(FIRST).title()} {r.choice(LAST).title()}",
            f"dev.{c._word(6)}@outlook.com",
            facilitator_phone,
            blatant.start - timedelta(days=70),
            True,
            c._hex(64),
        )
        blatant.applicant_ids.append(earlier["applicant_id"])
        next(x for x in rows if x.get("applicant_id") == blatant.applicant_ids[0])["phone"] = (
            facilitator_phone
        )
        rows.append(earlier)
        rows.append(self.change(blatant, "shipping_address", blatant.start + timedelta(days=2)))
        # The pair at one laptop farm applied with one resume under two names.
        for person in (subtle, partner):
            next(x for x in rows if x.get("applicant_id") == person.applicant_ids[0])["resume_sha256"] = (
                shared_resume
            )

    def workers(self) -> None:
        c = self.c
        self.blatant(c.worker("blatant"))
        farm_session_days = range(c.days - MEASURED_DAYS, c.days)
        subtle, partner = c.worker("subtle"), c.worker("infrastructure-sharing")
        # The facilitator's handset takes over both accounts' MFA phone (the methods re-registered).
        for offset, person in enumerate((subtle, partner)):
            at = day_start(c, c.days - MEASURED_DAYS + 1 + offset, person) + timedelta(hours=2)
            self.out.write("entra_audit", [c.entra_phone_set(at, person, c.mfa_phone(person), None)])
        for day in farm_session_days:
            for person in (subtle, partner):
                at = day_start(c, day, person) + timedelta(hours=1)
                farm = c.home(person)
                self.out.write("entra_signin", [c.entra(at, person, farm, c._guid(), interactive=True)])
        # The subtle worker's Okta session cookie is replayed from a VPS an hour after sign-in at the farm.
        at = day_start(c, c.days - 3, subtle)
        session = "102" + c._hex(23)
        vps = Network(c._ip_in(HOSTING[0]), HOSTING[0][0], HOSTING[0][1], "US")
        self.out.write(
            "okta",
            [
                c.okta(at, subtle, c.home(subtle), "user.session.start", session),
                c.okta(
                    at + timedelta(minutes=25),
                    subtle,
                    vps,
                    "user.authentication.sso",
                    session,
                    dt_hash=c._hex(64),
                ),
            ],
        )
        # The partner: an IP-KVM with spoofed ids on the farm laptop, a proxied session, an upload.
        at = day_start(c, c.days - 5, partner)
        self.out.write(
            "windows",
            [
                c.usb(
                    at,
                    partner.fqdn,
                    r"USB\VID_413C&PID_2011&MI_00\7&3f1&0&0000",
                    "USB Input Device",
                    r"USB\Class_03&SubClass_01&Prot_01",
                    r"USB\VID_413C&PID_2011&REV_0510&MI_00",
                    "0000.0014.0000.001.000.000.000.000.000",
                ),
                c.usb(
                    at + timedelta(seconds=1),
                    partner.fqdn,
                    r"USB\VID_413C&PID_2011&MI_01\7&3f1&0&0001",
                    "USB Input Device",
                    r"USB\Class_03&SubClass_00&Prot_00",
                    r"USB\VID_413C&PID_2011&REV_0510&MI_01",
                    "0000.0014.0000.001.000.000.000.000.000",
                ),
                c.usb(
                    at + timedelta(seconds=2),
                    partner.fqdn,
                    r"USB\VID_413C&PID_2011&MI_02\7&3f1&0&0002",
                    "USB Mass Storage Device",
                    r"USB\Class_08&SubClass_06&Prot_50",
                    r"USB\VID_413C&PID_2011&REV_0510&MI_02",
                    "0000.0014.0000.001.000.000.000.000.000",
                ),
            ],
        )
        proxy_net = Network(c._ip_in(HOSTING[2]), HOSTING[2][0], HOSTING[2][1], "US", proxy=True)
        self.out.write(
            "okta",
            [c.okta(at + timedelta(hours=2), partner, proxy_net, "user.session.start", "102" + c._hex(23))],
        )
        self.out.write(
            "proxy", [c.proxy(at + timedelta(hours=5), partner, "drive.google.com", sent=64_000_000)]
        )

    # -- working hours and the corporate VPN (drawn after everything else, so earlier draws stay) ------

    def hours_and_vpn(self) -> None:
        self.korean_working_days()
        self.shifts_on_one_identity()
        self.on_call()
        self.vpn()

    def _launches(self, person: Person, at: datetime, count: int, every: int, jitter: int) -> list[dict]:
        """`count` Okta app launches in one session from `at`, one every `every` minutes plus up to `jitter`."""
        c, r = self.c, self.r
        session = "102" + c._hex(23)
        return [
            c.okta(
                at + timedelta(minutes=every * n + r.randint(0, jitter)),
                person,
                c.home(person),
                "user.authentication.sso",
                session,
            )
            for n in range(count)
        ]

    def korean_working_days(self) -> None:
        """The subtle worker's operator keeps the Korean working day: app launches through 10:00-17:00 KST."""
        c = self.c
        subtle = c.worker("subtle")
        events = []
        for day in range(c.days - MEASURED_DAYS, c.days):
            if (c.start + timedelta(days=day)).weekday() >= 5:
                continue
            events += self._launches(subtle, day_start(c, day, subtle) + timedelta(hours=1), 7, 60, 20)
        self.out.write("okta", events)

    def shifts_on_one_identity(self) -> None:
        """Operators share the partner's identity in shifts on two days: launches round the clock."""
        c = self.c
        partner = c.worker("infrastructure-sharing")
        events = []
        for day in (c.days - 6, c.days - 3):
            events += self._launches(partner, day_start(c, day, partner), 18, 75, 10)
        self.out.write("okta", events)

    def on_call(self) -> None:
        """One developer in 50 is on call in the measured week: one incident worked through the night."""
        c = self.c
        events = []
        for person in (p for p in c.persons if p.role == "developer" and p.index % 50 == 7 and not p.worker):
            day = c.days - MEASURED_DAYS + person.index % 5
            if person.gone((c.start + timedelta(days=day)).date()):
                continue
            events += self._launches(person, day_start(c, day, person), 22, 60, 15)
        self.out.write("okta", events)

    def vpn(self) -> None:
        """GlobalProtect: two in five staff start the corporate VPN from home on a working day, travellers
        from their hotel abroad; the planted workers from the laptop farm, the blatant one once from China."""
        c, r = self.c, self.r
        events = []
        for day in range(c.days):
            date = c.start + timedelta(days=day)
            if date.weekday() >= 5:
                continue
            for person in c.persons:
                if (person.start and date < person.start) or (r.random() >= 0.4 and not person.worker):
                    continue
                if person.gone(date.date()):
                    continue
                trip = c.trips.get(person.index)
                abroad = person.index in c.destinations and trip is not None and 1 <= day - trip < TRIP_DAYS
                ip, country = (
                    (c._ip_in(HOSTING[2]), c.destinations[person.index])
                    if abroad
                    else (person.home_ip, person.country)
                )
                at = day_start(c, day, person) + timedelta(minutes=r.randint(0, 30))
                events.append(c.globalprotect(at, person, ip, country))
        blatant = c.worker("blatant")
        at = day_start(c, c.days - 5, blatant) + timedelta(hours=4, minutes=2)
        events.append(c.globalprotect(at, blatant, c._ip_in((4837, "china unicom")), "CN"))
        self.out.write("globalprotect", events)

    # -- leavers (drawn last, from the leavers' own stream) -------------------------------------------

    def leavers(self) -> None:
        """What departures leave in the logs: the last evening, devices syncing until the account is
        disabled, failed sign-ins after; contractors' old accounts; the fired developer's return."""
        c = self.c
        for person in c.persons:
            if person.worker == "extortion-leaver":
                self.last_day(person)
                self.extortion(person)
            elif person.contractor_account and person.start:
                old = replace(
                    person,
                    upn=person.contractor_upn,
                    sam=person.contractor_account,
                    okta_id="00u" + c._hex(17),
                    entra_id=c._guid(),
                    contractor_account=None,
                )
                old.end = person.start.date() - timedelta(days=1)
                self.last_day(old, work=False)
            elif person.end and not person.start and person.end >= c.start.date():
                self.last_day(person)
            elif person.end and not person.start and c.leaving.random() < 0.3:
                self.failed_retries(person, c.start, days=c.days)

    def last_day(self, person: Person, work: bool = True) -> None:
        """A last evening's sign-ins before the day ends where the person works (`work`), then a phone or
        a laptop still syncing until the account is disabled: at midnight by the HR feed for most, the next
        business morning by hand for the others."""
        c, r = self.c, self.c.leaving
        assert person.end is not None
        zone = ZoneInfo(TIME_ZONES[person.country])
        evening = datetime.combine(person.end, clock(0), zone) + timedelta(hours=r.uniform(17, 21))
        evening = evening.astimezone(UTC)
        midnight = datetime.combine(person.end + timedelta(days=1), clock(0), zone).astimezone(UTC)
        morning = datetime.combine(person.end + timedelta(days=1), clock(9), zone)
        while morning.weekday() >= 5:
            morning += timedelta(days=1)
        automated = r.random() < 0.55
        disabled = midnight + timedelta(minutes=r.randint(5, 60)) if automated else morning.astimezone(UTC)
        disabled += timedelta(hours=0 if automated else r.uniform(0, 2))
        home = c.home(person)
        okta, entra, github, m365 = [], [], [], []
        if work:
            session = "102" + c._hex(23)
            okta += [
                c.okta(evening, person, home, "user.session.start", session),
                c.okta(evening + timedelta(minutes=4), person, home, "user.authentication.sso", session),
            ]
            entra.append(c.entra(evening + timedelta(minutes=2), person, home, c._guid(), interactive=True))
            if r.random() < 0.4:
                self.out.write("globalprotect", [c.globalprotect(evening, person, home.ip, person.country)])
            if person.github:  # the hand-over push, then the IDE fetching while the laptop stays open
                github.append(
                    c.github(evening + timedelta(minutes=30), person.github, "git.push", c.repos[0], home.ip)
                )
                for n in range(r.randint(1, 5)):
                    at = evening + timedelta(minutes=30 + 45 * n)
                    github.append(c.github(at, person.github, "git.fetch", r.choice(c.repos), home.ip))
            if r.random() < 0.3:  # OneDrive on the laptop pulls colleagues' edits for a few hours
                site = (
                    f"https://acmecorp-my.sharepoint.com/personal/{person.first}_{person.last}_acme-corp_com"
                )
                for n in range(r.randint(1, 6)):
                    at = evening + timedelta(minutes=40 * n + 20)
                    if at < disabled:
                        m365.append(
                            c.m365(at, person, "FileSyncDownloadedFull", f"{site}/Shared/notes{n}.docx")
                        )
        if (
            r.random() < 0.65
        ):  # mail and Teams on the phone refresh their tokens until the account is disabled
            session, at = c._guid(), evening + timedelta(minutes=r.randint(30, 90))
            while at < disabled:
                net = c.mobile(person) if r.random() < 0.5 else home
                entra.append(
                    c.entra(at, person, net, session, interactive=False, managed=False, os_name="iOS")
                )
                at += timedelta(minutes=r.randint(50, 120))
            self.failed_retries(person, disabled, days=r.randint(1, 4), entra=entra)
        self.out.write("okta", okta)
        self.out.write("entra_signin", entra)
        self.out.write("github_audit", github)
        self.out.write("m365_audit", m365)

    def failed_retries(
        self, person: Person, since: datetime, days: int, entra: list[Event] | None = None
    ) -> None:
        """A disabled account's phone still trying: failed non-interactive sign-ins (Entra 50057) and,
        where the person used Workspace, failed logins, a few a day."""
        c, r = self.c, self.c.leaving
        failures: list[Event] = [] if entra is None else entra
        workspace = []
        for day in range(days):
            for _ in range(r.randint(1, 3)):
                at = since + timedelta(days=day, minutes=r.randint(10, 1400))
                if at >= c.start + timedelta(days=c.days):
                    continue
                record = c.entra(
                    at, person, c.mobile(person), c._guid(), interactive=False, managed=False, os_name="iOS"
                )
                record["status"] = {
                    "errorCode": 50057,
                    "failureReason": "The user account is disabled.",
                    "additionalDetails": None,
                }
                failures.append(record)
                if person.index % 3 == 0:
                    workspace.append(
                        c.gws(
                            at,
                            person,
                            "login",
                            "login_failure",
                            c.mobile(person),
                            login_type="google_password",
                            login_failure_type="login_failure_account_disabled",
                        )
                    )
        if entra is None:
            self.out.write("entra_signin", failures)
        self.out.write("google_workspace", workspace)

    def extortion(self, person: Person) -> None:
        """Fired on the Friday before the week, back on the Wednesday through accounts nobody closed: a
        sign-in from a VPS, the code cloned with a personal access token, files downloaded."""
        c = self.c
        at = MEASURED_START + timedelta(days=2, hours=3)
        vps = Network(c._ip_in(HOSTING[0]), HOSTING[0][0], HOSTING[0][1], "US")
        session = "102" + c._hex(23)
        self.out.write("okta", [c.okta(at, person, vps, "user.session.start", session)])
        self.out.write(
            "entra_signin",
            [c.entra(at + timedelta(minutes=3), person, vps, c._guid(), interactive=True, managed=False)],
        )
        clones = [
            c.github(
                at + timedelta(minutes=10 + n),
                person.github or "",
                "git.clone",
                repo,
                vps.ip,
                access="Personal access token (classic)",
            )
            for n, repo in enumerate(c.repos[:20])
        ]
        self.out.write("github_audit", clones)
        site = "https://acmecorp.sharepoint.com/sites/engineering/Shared Documents"
        downloads = [
            c.m365(
                at + timedelta(minutes=40, seconds=20 * n),
                person,
                "FileDownloaded",
                f"{site}/design{n:03d}.docx",
                workload="SharePoint",
                ClientIP=vps.ip,
            )
            for n in range(30)
        ]
        self.out.write("m365_audit", downloads)

    def blatant(self, person: Person) -> None:
        c, r = self.c, self.r
        day = c.days - 5
        at = day_start(c, day, person)
        astrill = Network(c._ip_in(ASTRILL), ASTRILL[0], ASTRILL[1], "US", proxy=True)
        self.out.write(
            "okta",
            [
                c.okta(at, person, c.home(person), "user.session.start", "102" + c._hex(23)),
                c.okta(at + timedelta(hours=2), person, astrill, "user.session.start", "102" + c._hex(23)),
                c.okta(
                    at + timedelta(hours=4),
                    person,
                    Network(c._ip_in((4837, "china unicom")), 4837, "china unicom", "CN"),
                    "user.session.start",
                    "102" + c._hex(23),
                ),
            ],
        )
        self.out.write(
            "entra_signin",
            [
                c.entra(
                    at + timedelta(hours=4, minutes=5),
                    person,
                    c.home(person),
                    c._guid(),
                    interactive=True,
                    managed=False,
                    os_name="Windows10",
                )
            ],
        )
        host = person.fqdn
        self.out.write(
            "windows",
            [
                c.process(
                    at + timedelta(hours=1),
                    person,
                    r"C:\Program Files (x86)\AnyDesk\AnyDesk.exe",
                    original="AnyDesk.exe",
                ),
                c.process(
                    at + timedelta(hours=1, minutes=5),
                    person,
                    r"C:\Program Files\TeamViewer\TeamViewer.exe",
                    original="TeamViewer.exe",
                ),
                c.process(
                    at + timedelta(hours=1, minutes=9),
                    person,
                    r"C:\Program Files (x86)\Google\Chrome Remote Desktop\CurrentVersion\remoting_start_host.exe",
                    "remoting_start_host.exe --code=4/0Ab --redirect-url=https://remotedesktop.google.com/_/oauthredirect "
                    "--name=LT --pin=123456",
                    original="remoting_start_host.exe",
                ),
                c.process(at + timedelta(hours=2), person, r"C:\Users\Public\MouseJiggler.exe"),
                c.usb(
                    at + timedelta(minutes=30),
                    host,
                    r"USB\VID_1D6B&PID_0104\CAFEBABE",
                    "USB Composite Device",
                    r"USB\DevClass_00&SubClass_00&Prot_00",
                    r"USB\VID_1D6B&PID_0104&REV_0510",
                    "Port_#0002.Hub_#0001",
                ),
            ],
        )
        for n, repo in enumerate(r.sample(c.repos, 15)):
            self.out.write(
                "github_audit",
                [
                    c.github(
                        at + timedelta(hours=3, minutes=2 * n),
                        person.github,
                        "git.clone",
                        repo,
                        astrill.ip,
                        country=astrill.country,
                    )
                ],
            )


# -- lookups --------------------------------------------------------------------------------------


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in writer.fieldnames})


def write_lookups(company: Company, folder: Path) -> None:
    """The company's lookups folder, as its admin would fill it (file names of splunk_app/lookups/)."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = ROOT / "splunk_app" / "lookups"
    for path in shipped.glob("*.csv"):  # catalogues are the vendor's: taken as shipped
        shutil.copy(path, folder / path.name)
    persons = company.persons
    write_csv(
        folder / "ghosthire_identities.csv",
        IDENTITY_COLUMNS,
        [
            {
                "identity": "|".join(
                    i
                    for i in (p.sam, p.upn, p.github, p.employee_id, *p.applicant_ids, p.okta_id, p.entra_id)
                    if i
                ),
                "first": p.first.title(),
                "last": p.last.title(),
                "email": p.upn,
                "phone": p.phone,
                "bunit": p.role,
                "category": p.categories,
                "startDate": p.start.date().isoformat() if p.start else "2020-01-06",
                "endDate": p.end.isoformat() if p.end else "",
                "work_country": p.country,
                "time_zone": TIME_ZONES[p.country],
            }
            for p in persons
        ]
        + [
            {
                "identity": f"{p.contractor_account}|{p.contractor_upn}",
                "first": p.first.title(),
                "last": p.last.title(),
                "email": p.contractor_upn,
                "bunit": p.role,
                "category": "contractor",
                "startDate": (p.start - timedelta(days=400)).date().isoformat(),
                "endDate": (p.start - timedelta(days=1)).date().isoformat(),
                "work_country": p.country,
                "time_zone": TIME_ZONES[p.country],
            }
            for p in persons
            if p.contractor_account and p.start
        ]
        + [
            {"identity": account, "category": "service_account", "bunit": "engineering"}
            for account in company.service_accounts
        ],
    )
    write_csv(
        folder / "ghosthire_assets.csv",
        ASSET_COLUMNS,
        [
            {
                "ip": p.client_ip,
                "nt_host": p.host,
                "dns": p.fqdn,
                "owner": p.upn,
                "category": "laptop",
                "country": p.country,
                "device_id": f"{p.device_id}|{p.dt_hash}",
            }
            for p in persons
        ]
        + [
            {"nt_host": host, "dns": f"{host}.{HOST_SUFFIX}", "category": "shared", "device_id": device}
            for host, device in company.shared_devices
        ],
    )
    write_csv(
        folder / "ghosthire_corporate_egress.csv",
        ("name", "ip_pattern", "note"),
        [
            *(
                {"name": f"{country} office", "ip_pattern": cidr, "note": "office egress"}
                for country, cidr in OFFICES.items()
            ),
            {"name": "offices (IPv6)", "ip_pattern": OFFICE_V6, "note": "office egress"},
            {"name": "corporate VPN", "ip_pattern": VPN_EGRESS, "note": "GlobalProtect gateways"},
        ],
    )
    image, _original, service, domains = SANCTIONED_RMM[company.sanctioned]
    write_csv(
        folder / "ghosthire_sanctioned_rmm.csv",
        ("tool", "process", "service", "domain", "note"),
        [
            {
                "tool": company.sanctioned,
                "process": "\\" + image.rsplit("\\", 1)[-1] if n == 0 else "",
                "service": service if n == 0 else "",
                "domain": domain,
                "note": "helpdesk tool on every laptop",
            }
            for n, domain in enumerate(sorted({"*." + ".".join(d.split(".")[-2:]) for d in domains}))
        ],
    )
    write_csv(
        folder / "ghosthire_approved_vpn.csv",
        ("operator", "process", "as_org", "note"),
        [
            {
                "operator": "GlobalProtect",
                "process": "\\PanGPA.exe",
                "as_org": "acme corp",
                "note": "corporate VPN",
            },
        ],
    )
    write_csv(
        folder / "ghosthire_code_hosting_orgs.csv",
        ("name", "url_pattern", "note"),
        [
            {"name": "acme on GitHub", "url_pattern": f"*github.com/{GITHUB_ORG}/*"},
            {"name": "acme on GitHub (SSH)", "url_pattern": f"*github.com:{GITHUB_ORG}/*"},
        ],
    )
    write_csv(
        folder / "ghosthire_github_orgs.csv",
        ("name", "repo_pattern", "note"),
        [{"name": "acme on GitHub", "repo_pattern": f"{GITHUB_ORG}/*"}],
    )
    write_csv(
        folder / "ghosthire_new_hires.csv",
        ("user", "start_date", "expected_country"),
        [
            {"user": p.upn, "start_date": p.start.date().isoformat(), "expected_country": p.country}
            for p in persons
            if p.start
        ],
    )
    admin_file = shipped / "ghosthire_it_accounts.csv"
    if admin_file.exists():
        write_csv(
            folder / admin_file.name,
            ("name", "it_admin", "service_account", "note"),
            [
                *(
                    {"name": f"{p.first} {p.last}", "it_admin": p.sam}
                    for p in persons
                    if p.role == "it_admin"
                ),
                *(
                    {"name": f"{p.first} {p.last}", "it_admin": p.upn}
                    for p in persons
                    if p.role == "it_admin"
                ),
                *({"name": account, "service_account": account} for account in company.service_accounts),
            ],
        )
    shared_file = shipped / "ghosthire_shared_devices.csv"
    if shared_file.exists():
        write_csv(
            folder / shared_file.name,
            ("name", "host", "device_id", "note"),
            [
                {"name": host, "host": host, "device_id": device, "note": "support shift PC"}
                for host, device in company.shared_devices
            ],
        )


# -- measurement ----------------------------------------------------------------------------------


def identifier_index(company: Company) -> dict[str, Person]:
    index: dict[str, Person] = {}
    for person in company.persons:
        for identifier in person.identifiers:
            index.setdefault(identifier.lower(), person)
    return index


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def benign_entities(
    alert: Event, who: set[int], index: dict[str, Person], workers: set[int]
) -> set[int | str]:
    """What a benign alert puts in front of an analyst: the person its entity resolves to; an address
    no one person owns stays itself (as the person roll-up keeps it); an entity of no employee (a service
    account, an applicant never hired) counts as one person of its own. Empty when a worker is involved."""
    if who & workers:
        return set()
    entity = str(alert.get("entity") or "")
    if entity.lower() in index:
        return {index[entity.lower()].index}
    if alert.get("entity_type") == "ip" or not who:
        return {f"{alert.get('entity_type')}:{entity}"}
    return set(who)


def persons_of(alert: Event, index: dict[str, Person]) -> set[int]:
    """The persons an alert is about: its entity when that is one person's identifier, else every
    person whose identifier appears in the events it cites."""
    entity = (alert.get("entity") or "").lower()
    if entity in index:
        return {index[entity].index}
    cited = [alert.get("event"), *list(alert.get("events") or [])]
    found = {index[s.lower()].index for event in cited for s in strings(event) if s.lower() in index}
    return found


def hunt(company_dir: Path, lookups: Path) -> tuple[list[Event], float, list[Event] | None]:
    ghosthire = [str(Path(sys.executable).parent / "ghosthire")]
    help_text = subprocess.run(
        [*ghosthire, "hunt", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--lookups" in help_text:
        base = [*ghosthire, "hunt", str(company_dir / "logs"), "--no-progress", "--lookups", str(lookups)]
    else:  # a ghosthire without --lookups: hunt from a copy of the content with the company's lookups in it
        checkout = company_dir / "checkout"
        for folder in ("ghosthire", "sigma_rules", "backends", "splunk_app", "detection_tests"):
            shutil.copytree(ROOT / folder, checkout / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.rmtree(checkout / "splunk_app" / "lookups")
        shutil.copytree(lookups, checkout / "splunk_app" / "lookups")
        launcher = (
            f"import sys; sys.path.insert(0, {str(checkout)!r}); from ghosthire.cli import main; main()"
        )
        base = [
            sys.executable,
            "-c",
            launcher,
            "hunt",
            str(company_dir / "logs"),
            "--no-progress",
            "--new-hires",
            str(lookups / "ghosthire_new_hires.csv"),
        ]
    started = time.perf_counter()
    alerts_file = company_dir / "alerts.jsonl"
    subprocess.run([*base, "--format", "jsonl", "-o", str(alerts_file)], check=True)
    elapsed = time.perf_counter() - started
    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines() if line.strip()]
    persons = None
    if "persons" in help_text:
        persons_file = company_dir / "persons.jsonl"
        subprocess.run(
            [*base, "--format", "persons", "-o", str(persons_file)], check=True, stderr=subprocess.DEVNULL
        )
        persons = [json.loads(line) for line in persons_file.read_text().splitlines() if line.strip()]
    return alerts, elapsed, persons


def measure(
    company: Company, planted: dict[str, list[str]], alerts: list[Event], persons: list[Event] | None
) -> Event:
    index = identifier_index(company)
    building_blocks = building_block_rules()
    first_seen = first_seen_rules()
    week = {(MEASURED_START + timedelta(days=n)).date().isoformat() for n in range(MEASURED_DAYS)}
    benign_days: set[tuple[int | str, str]] = set()
    per_rule: dict[str, set[int | str]] = defaultdict(set)
    unattributed: dict[str, set[str]] = defaultdict(set)
    behind_shared_ip: dict[str, set[int]] = defaultdict(set)
    found: dict[str, set[str]] = defaultdict(set)
    workers = {p.index: p.worker for p in company.persons if p.worker}
    in_week = 0
    for alert in alerts:
        rule = alert["rule_name"]
        who = persons_of(alert, index)
        for index_ in who & set(workers):
            found[workers[index_]].add(rule)  # recall: anywhere in the hunted data
        day = alert_day(alert, week, merged=rule not in first_seen)
        if day is None:
            continue
        in_week += 1
        if rule in building_blocks:
            continue
        benign = benign_entities(alert, who, index, set(workers))
        if who and not benign & {p.index for p in company.persons}:
            behind_shared_ip[rule] |= who - set(workers)
        if not who:
            unattributed[rule].add(str(alert.get("entity")))
        for person in benign:
            benign_days.add((person, day))
            per_rule[rule].add(person)
    employees = staff(company)
    figures: Event = {
        "employees": employees,
        "measured_days": MEASURED_DAYS,
        "alerts_in_week": in_week,
        "benign_person_days": len(benign_days),
        "benign_persons_per_1000_per_day": round(len(benign_days) / MEASURED_DAYS / employees * 1000, 2),
        "benign_persons_per_rule": dict(
            sorted(((r, len(p)) for r, p in per_rule.items()), key=lambda x: -x[1])
        ),
        "entities_without_person_per_rule": {rule: len(entities) for rule, entities in unattributed.items()},
        "persons_behind_shared_ip_alerts_per_rule": {
            rule: len(p) for rule, p in behind_shared_ip.items() if p
        },
        "recall": {
            name: {"found": sorted(set(rules) & found[name]), "missed": sorted(set(rules) - found[name])}
            for name, rules in planted.items()
        },
    }
    if persons is not None:
        figures["triage"] = triage(company, persons, index)
    return figures


TIME_PATHS = (
    ("published",),
    ("createdDateTime",),
    ("properties", "createdDateTime"),
    ("CreationTime",),
    ("id", "time"),
    ("datetime",),
    ("Event", "System", "TimeCreated", "#attributes", "SystemTime"),
    ("applied_at",),
    ("changed_at",),
    ("start_date",),
    ("high_res_timestamp",),
)


def event_day(event: Event) -> str | None:
    for path in TIME_PATHS:
        value: Any = event
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value[:10]
    for key in ("@timestamp", "ts"):
        if isinstance(event.get(key), int | float):
            stamp = event[key] / 1000 if key == "@timestamp" else event[key]
            return datetime.fromtimestamp(stamp, UTC).date().isoformat()
    return None


def alert_day(alert: Event, week: set[str], merged: bool = True) -> str | None:
    """The measured day an alert counts on: its own, or for a burst that began before the week (a
    correlation window merged across the boundary) the first day in the week of the events it cites.
    A first-seen rule's burst counts on its own day only (`merged` false): a SIEM that raised it before
    the week has the entity in its baseline and stays quiet while the burst goes on."""
    day = (alert.get("time") or "")[:10]
    if day in week:
        return day
    if not merged:
        return None
    days = sorted({d for event in alert.get("events") or [] if (d := event_day(event)) in week})
    return days[0] if days else None


def triage(company: Company, persons: list[Event], index: dict[str, Person]) -> Event:
    workers = {p.index: p.worker for p in company.persons if p.worker}
    ranks: dict[str, int | None] = dict.fromkeys(workers.values())
    queued: dict[str, bool] = dict.fromkeys(workers.values(), False)
    benign_in_queue = set()
    week_start = MEASURED_START.isoformat().replace("+00:00", "Z")
    queue = [row for row in persons if row.get("triage") and (row.get("window_end") or "") >= week_start]
    for row in persons:
        ids = [row.get("person") or "", *(row.get("identifiers") or [])]
        who = {index[i.lower()].index for i in ids if isinstance(i, str) and i.lower() in index}
        for person in who:
            if person in workers:
                name = workers[person]
                ranks[name] = ranks[name] or row.get("rank")
                queued[name] = queued[name] or bool(row.get("triage"))
            elif row.get("triage") and (row.get("window_end") or "") >= week_start:
                benign_in_queue.add(person)  # queued in the measured week (the baseline is history)
    return {
        "workers": {name: {"rank": ranks[name], "in_queue": queued[name]} for name in ranks},
        "benign_in_queue": len(benign_in_queue),
        "queue_length": len(queue),
        "benign_in_queue_per_1000_per_week": round(len(benign_in_queue) / staff(company) * 1000, 2),
    }


def staff(company: Company) -> int:
    """Employees in the measured week: the leavers who left before it are in the HR export, not on staff."""
    return sum(not p.gone(MEASURED_START.date()) for p in company.persons)


def building_block_rules() -> set[str]:
    return rules_where(lambda rule: bool(rule.get("building_block")) or "filter" in rule)


def first_seen_rules() -> set[str]:
    return rules_where(lambda rule: "first_seen" in rule)


def rules_where(test: Callable[[Event], bool]) -> set[str]:
    import yaml

    paths = [*(ROOT / "ghosthire").glob("**/sigma_rules/**/*.yml"), *(ROOT / "sigma_rules").glob("**/*.yml")]
    rules = ((path, yaml.safe_load(path.read_text()) or {}) for path in paths)
    return {rule.get("name", path.stem) for path, rule in rules if test(rule)}


def generate(
    employees: int, seed: int, baseline_days: int, folder: Path
) -> tuple[Company, dict[str, list[str]]]:
    company = Company(employees, seed, baseline_days)
    planted = company.plant_workers()
    planted |= company.plant_leavers()
    writer = Writer(folder / "logs")
    week = Week(company, writer)
    for day in range(company.days):
        for person in company.persons:
            week.person_day(person, day)
    week.scenario()
    week.workers()
    week.hours_and_vpn()
    week.leavers()
    writer.close()
    write_csv(
        folder / "logs" / "hr.csv", sorted({k for row in company.applicants for k in row}), company.applicants
    )
    write_lookups(company, folder / "lookups")
    return company, planted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-days",
        type=int,
        default=14,
        help="history before the measured week (first-seen rules look back up to 14 days)",
    )
    parser.add_argument("--output", type=Path, default=Path("/tmp/ghosthire-company"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    arguments = parser.parse_args()
    if arguments.employees < 50:
        parser.error("--employees must be at least 50")
    shutil.rmtree(arguments.output, ignore_errors=True)
    started = time.perf_counter()
    company, planted = generate(
        arguments.employees, arguments.seed, arguments.baseline_days, arguments.output
    )
    generated = time.perf_counter() - started
    alerts, hunted, persons = hunt(arguments.output, arguments.output / "lookups")
    figures = measure(company, planted, alerts, persons)
    figures["seconds"] = {"generate": round(generated, 1), "hunt": round(hunted, 1)}
    (arguments.output / "figures.json").write_text(json.dumps(figures, indent=2))
    if arguments.json:
        print(json.dumps(figures, indent=2))
        return
    report(figures)


def report(figures: Event) -> None:
    goal = "ok" if figures["benign_persons_per_1000_per_day"] <= 3 else "over goal 3"
    print(
        f"{figures['employees']} employees, {figures['measured_days']} days measured, "
        f"{figures['alerts_in_week']} alerts in the week "
        f"(generate {figures['seconds']['generate']} s, hunt {figures['seconds']['hunt']} s)"
    )
    print(
        f"benign persons with a non-building-block alert per 1,000 employees per day: "
        f"{figures['benign_persons_per_1000_per_day']} ({goal})"
    )
    print("benign persons per rule:")
    for rule, count in figures["benign_persons_per_rule"].items():
        print(f"  {count:5d}  {rule}")
    for rule, count in figures["persons_behind_shared_ip_alerts_per_rule"].items():
        print(f"  persons behind shared-address alerts (counted once as the address): {count:5d}  {rule}")
    for rule, count in figures["entities_without_person_per_rule"].items():
        print(f"  of which entities that are no employee (service accounts, applicants): {count:5d}  {rule}")
    print("recall of planted signals:")
    for name, result in figures["recall"].items():
        total = len(result["found"]) + len(result["missed"])
        print(
            f"  {name}: {len(result['found'])}/{total}"
            + (f"  missed {result['missed']}" if result["missed"] else "")
        )
    triage_figures = figures.get("triage")
    if triage_figures:
        for name, where in triage_figures["workers"].items():
            print(f"  {name}: rank {where['rank']}, in triage queue {where['in_queue']}")
        print(
            f"benign persons in the triage queue per 1,000 employees per week: "
            f"{triage_figures['benign_in_queue_per_1000_per_week']} (goal <= 1); "
            f"queue length {triage_figures['queue_length']} (persons and entities queued in the week)"
        )
    else:
        print("triage queue: `ghosthire hunt --format persons` is not available")


if __name__ == "__main__":
    main()
