"""Write a deterministic, realistic mixed NDJSON log export for benchmarking the local hunt.

Windows (EVTX-to-JSON Sysmon and Security events), Okta System Log, Entra ID sign-ins (Graph layout),
GitHub audit-log stream and web-proxy records (W3C field names), about 550 bytes a line on average, spread over 30 days.
About one event in two thousand is a planted signal that fires a pack rule: remote-desktop tools,
virtual cameras, remote-desktop domains, local administrator changes, proxy and unmanaged-device
sign-ins, and correlation
bursts (one user signing in from two countries, one developer cloning a dozen private repositories).

    .venv/bin/python scripts/generate_events.py --events 1000000 --output /tmp/events.ndjson
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Event = dict[str, Any]
START = datetime(2025, 6, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
SIGNAL_RATE = 1 / 2000
COUNTRIES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany", "IN": "India", "CA": "Canada"}
FOREIGN = {"KP": "North Korea", "CN": "China", "RU": "Russia", "KR": "South Korea"}
BENIGN_IMAGES = (
    r"C:\Windows\System32\svchost.exe",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"C:\Program Files\Microsoft VS Code\Code.exe",
    r"C:\Windows\explorer.exe",
    r"C:\Windows\System32\conhost.exe",
    r"C:\Program Files\Slack\slack.exe",
)
SIGNAL_IMAGES = (
    (r"C:\Program Files (x86)\AnyDesk\AnyDesk.exe", "AnyDesk.exe", '"AnyDesk.exe" --control'),
    (r"C:\Program Files\ManyCam\ManyCam.exe", "ManyCam.exe", '"ManyCam.exe"'),
    (
        r"C:\Program Files (x86)\Google\Chrome Remote Desktop\CurrentVersion\remoting_start_host.exe",
        "remoting_start_host.exe",
        "remoting_start_host.exe --code=4/0Ab --redirect-url=https://remotedesktop.google.com/_/oauthredirect "
        "--name=LT --pin=123456",
    ),
    (
        r"C:\Users\dev\Deep-Live-Cam\venv\python.exe",
        "python.exe",
        r"python.exe C:\Users\dev\Deep-Live-Cam\run.py --execution-provider cuda",
    ),
)


class Generator:
    """One deterministic stream of events; the same seed and count give the same file."""

    def __init__(self, count: int, seed: int) -> None:
        self.random = random.Random(seed)
        self.count = count
        self.step = SPAN / max(count, 1)
        self.hosts = [f"LT-{self._word(5).upper()}-{n:04d}" for n in range(800)]
        self.users = [f"{self._word(6)}.{self._word(7)}@acme-corp.com" for _ in range(2000)]
        self.home = {user: self.random.choice(list(COUNTRIES)) for user in self.users}
        self.actors = [f"{self._word(7)}-acme" for _ in range(300)]
        self.repos = [f"acme-corp/{self._word(4)}-{n:03d}" for n in range(600)]
        self.record = 1_000_000

    def events(self) -> Iterator[Event]:
        kinds: list[tuple[Callable[[datetime], Event], int]] = [
            (self.sysmon_process, 14),
            (self.sysmon_network, 10),
            (self.sysmon_file, 6),
            (self.security_logon, 10),
            (self.security_process, 5),
            (self.okta_session, 15),
            (self.entra_signin, 10),
            (self.github_event, 12),
            (self.proxy_request, 18),
        ]
        makers, weights = zip(*kinds, strict=True)
        signals = self._signal_makers()
        index = 0
        while index < self.count:
            at = START + self.step * index
            if self.random.random() < SIGNAL_RATE:
                burst = self.random.choice(signals)(at)
            else:
                burst = [self.random.choices(makers, weights)[0](at)]
            yield from burst[: self.count - index]
            index += len(burst)

    # -- helpers ------------------------------------------------------------------------------

    def _word(self, length: int) -> str:
        return "".join(self.random.choices("abcdefghijklmnopqrstuvwxyz", k=length))

    def _hex(self, length: int) -> str:
        return "".join(self.random.choices("0123456789abcdef", k=length))

    def _guid(self) -> str:
        h = self._hex(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _ip(self) -> str:
        return ".".join(str(self.random.randint(1, 254)) for _ in range(4))

    @staticmethod
    def _iso(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"

    # -- Windows ------------------------------------------------------------------------------

    def _windows(self, at: datetime, event_id: int, channel: str, provider: str, data: Event) -> Event:
        self.record += 1
        return {
            "Event": {
                "System": {
                    "Provider": {"#attributes": {"Name": provider}},
                    "EventID": event_id,
                    "TimeCreated": {"#attributes": {"SystemTime": self._iso(at)}},
                    "EventRecordID": self.record,
                    "Channel": channel,
                    "Computer": self.random.choice(self.hosts),
                },
                "EventData": data,
            }
        }

    def _sysmon(self, at: datetime, event_id: int, data: Event) -> Event:
        data = {
            "UtcTime": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "ProcessGuid": "{" + self._guid() + "}",
            **data,
        }
        return self._windows(
            at, event_id, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", data
        )

    def sysmon_process(
        self, at: datetime, image: str | None = None, original: str = "", command: str = ""
    ) -> Event:
        image = image or self.random.choice(BENIGN_IMAGES)
        name = image.rsplit("\\", 1)[-1]
        return self._sysmon(
            at,
            1,
            {
                "ProcessId": self.random.randint(100, 60000),
                "Image": image,
                "OriginalFileName": original or name,
                "CommandLine": command or f'"{name}" --type=renderer',
                "CurrentDirectory": "C:\\Windows\\system32\\",
                "User": "CORP\\" + self._word(6),
                "IntegrityLevel": "Medium",
                "Hashes": "SHA256=" + self._hex(64).upper(),
                "ParentImage": r"C:\Windows\explorer.exe",
            },
        )

    def sysmon_network(self, at: datetime) -> Event:
        return self._sysmon(
            at,
            3,
            {
                "Image": self.random.choice(BENIGN_IMAGES),
                "User": "CORP\\" + self._word(6),
                "Protocol": "tcp",
                "SourceIp": "10.1."
                + str(self.random.randint(0, 255))
                + "."
                + str(self.random.randint(1, 254)),
                "SourcePort": self.random.randint(49152, 65535),
                "DestinationIp": self._ip(),
                "DestinationPort": self.random.choice((443, 80, 8443)),
            },
        )

    def sysmon_file(self, at: datetime) -> Event:
        return self._sysmon(
            at,
            11,
            {
                "Image": self.random.choice(BENIGN_IMAGES),
                "TargetFilename": f"C:\\Users\\{self._word(6)}\\AppData\\Local\\Temp\\{self._hex(12)}.tmp",
            },
        )

    def _security(self, at: datetime, event_id: int, data: Event) -> Event:
        return self._windows(at, event_id, "Security", "Microsoft-Windows-Security-Auditing", data)

    def security_logon(
        self, at: datetime, sid_suffix: str | None = None, logon_type: int | None = None
    ) -> Event:
        return self._security(
            at,
            4624,
            {
                "TargetUserSid": f"S-1-5-21-3623811015-3361044348-30300820-{sid_suffix or self.random.randint(1100, 9000)}",
                "TargetUserName": self._word(6),
                "TargetDomainName": "CORP",
                "LogonType": logon_type or self.random.choice((3, 3, 3, 5, 2)),
                "IpAddress": self._ip(),
                "AuthenticationPackageName": "Kerberos",
            },
        )

    def security_process(self, at: datetime) -> Event:
        return self._security(
            at,
            4688,
            {
                "NewProcessName": self.random.choice(BENIGN_IMAGES),
                "CommandLine": "",
                "SubjectUserName": self._word(6),
                "TokenElevationType": "%%1938",
                "ParentProcessName": r"C:\Windows\explorer.exe",
            },
        )

    # -- identity providers -------------------------------------------------------------------

    def okta_session(
        self, at: datetime, user: str | None = None, country: str | None = None, proxy: bool = False
    ) -> Event:
        user = user or self.random.choice(self.users)
        code = country or self.home[user]
        return {
            "uuid": self._guid(),
            "published": self._iso(at),
            "eventType": "user.session.start",
            "severity": "INFO",
            "displayMessage": "User login to Okta",
            "actor": {"id": "00u" + self._hex(17), "type": "User", "alternateId": user},
            "client": {
                "ipAddress": self._ip(),
                "geographicalContext": {"city": "", "country": {**COUNTRIES, **FOREIGN}[code]},
            },
            "outcome": {"result": "SUCCESS" if self.random.random() < 0.95 else "FAILURE"},
            "securityContext": {"asOrg": "comcast", "isProxy": proxy},
            "transaction": {"type": "WEB", "id": self._hex(20)},
        }

    def entra_signin(
        self, at: datetime, user: str | None = None, country: str | None = None, managed: bool = True
    ) -> Event:
        user = user or self.random.choice(self.users)
        return {
            "id": self._guid(),
            "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "userPrincipalName": user,
            "userId": self._guid(),
            "appId": "00000002-0000-0ff1-ce00-000000000000",
            "appDisplayName": "Office 365 Exchange Online",
            "correlationId": self._guid(),
            "clientAppUsed": "Browser",
            "ipAddress": self._ip(),
            "isInteractive": self.random.random() < 0.4 or not managed,
            "status": {"errorCode": 0 if self.random.random() < 0.93 or not managed else 50126},
            "deviceDetail": {"operatingSystem": "Windows10", "isManaged": managed},
            "location": {"city": "", "countryOrRegion": country or self.home[user]},
        }

    # -- GitHub and proxy ---------------------------------------------------------------------

    def github_event(self, at: datetime, actor: str | None = None, repo: str | None = None) -> Event:
        actor = actor or self.random.choice(self.actors)
        action = (
            "git.clone"
            if repo
            else self.random.choice(
                ("git.clone", "git.push", "git.fetch", "pull_request.create", "issue_comment.update")
            )
        )
        repo = repo or self.random.choice(self.repos)
        return {
            "@timestamp": int(at.timestamp() * 1000),
            "_document_id": self._hex(22) + "==",
            "action": action,
            "actor": actor,
            "actor_id": self.random.randint(10**7, 10**8),
            "actor_ip": self._ip(),
            "actor_location": {"country_code": "US"},
            "org": "acme-corp",
            "repo": repo,
            "repository_public": self.random.random() < 0.2,
            "repository_id": self.random.randint(10**8, 10**9),
            "operation_type": "access",
            "user_agent": "git/2.45.2",
            "transport_protocol_name": "ssh",
            "programmatic_access_type": "SSH key",
        }

    def proxy_request(self, at: datetime, host: str | None = None) -> Event:
        host = host or self.random.choice(
            ("teams.microsoft.com", "github.com", "slack.com", "news.example.org")
        )
        return {
            "datetime": self._iso(at),
            "c-ip": "10.2." + str(self.random.randint(0, 255)) + "." + str(self.random.randint(1, 254)),
            "cs-username": self._word(6),
            "cs-method": self.random.choice(("GET", "GET", "POST", "CONNECT")),
            "cs-host": host,
            "c-uri": f"https://{host}/{self._word(8)}/{self._hex(16)}",
            "sc-status": self.random.choice((200, 200, 204, 302, 404)),
            "cs-bytes": self.random.randint(200, 4000),
            "sc-bytes": self.random.randint(500, 900000),
            "c-useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/125.0",
            "cs-referrer": f"https://{host}/",
            "rs-content-type": "application/json",
            "cs-categories": "Business",
            "s-action": "allowed",
        }

    # -- planted signals ----------------------------------------------------------------------

    def _signal_makers(self) -> list[Callable[[datetime], list[Event]]]:
        return [
            lambda at: [self.sysmon_process(at, *self.random.choice(SIGNAL_IMAGES))],
            lambda at: [
                self._security(
                    at, 4732, {"TargetSid": "S-1-5-32-544", "MemberSid": "S-1-5-21-1-" + self._hex(4)}
                )
            ],
            lambda at: [
                self._security(at, 4722, {"TargetSid": "S-1-5-21-1004336348-1177238915-682003330-500"})
            ],
            lambda at: [self.security_logon(at, sid_suffix="500", logon_type=10)],
            lambda at: [self.okta_session(at, proxy=True)],
            lambda at: [self.entra_signin(at, managed=False)],
            lambda at: [self.proxy_request(at, "boot.net.anydesk.com")],
            self._okta_countries,
            self._entra_countries,
            self._mass_clone,
        ]

    def _okta_countries(self, at: datetime) -> list[Event]:
        user = self.random.choice(self.users)
        foreign = self.random.choice(list(FOREIGN))
        return [self.okta_session(at, user), self.okta_session(at + timedelta(hours=3), user, foreign)]

    def _entra_countries(self, at: datetime) -> list[Event]:
        user = self.random.choice(self.users)
        foreign = self.random.choice(list(FOREIGN))
        return [self.entra_signin(at, user), self.entra_signin(at + timedelta(hours=5), user, foreign)]

    def _mass_clone(self, at: datetime) -> list[Event]:
        actor = self.random.choice(self.actors)
        repos = self.random.sample(self.repos, 12)
        clones = [
            self.github_event(at + timedelta(minutes=3 * n), actor, repo) for n, repo in enumerate(repos)
        ]
        for clone in clones:
            clone["repository_public"] = False
        return clones


def write_events(path: Path, count: int, seed: int = 7) -> int:
    """Write `count` events as NDJSON; returns the number of bytes written."""
    size = 0
    with path.open("w", encoding="utf-8", buffering=8 * 1024 * 1024) as stream:
        for event in Generator(count, seed).events():
            line = json.dumps(event, separators=(", ", ": ")) + "\n"
            size += len(line)
            stream.write(line)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, required=True)
    arguments = parser.parse_args()
    size = write_events(arguments.output, arguments.events, arguments.seed)
    print(f"{arguments.events} events, {size / arguments.events:.0f} bytes a line -> {arguments.output}")


if __name__ == "__main__":
    main()
