"""Fixtures for the installer tests: a small but realistic app package and rule file, the fakes, a fast
retry policy and a console whose output the tests read."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.deploy.kibana import KibanaClient, KibanaTarget
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.deploy.splunk import SplunkCredentials, SplunkTarget, connect_splunk
from tests.fakes.kibana import FakeKibana
from tests.fakes.server import TlsFiles, make_self_signed_certificate
from tests.fakes.splunkd import FakeSplunkd

SPLUNK_PASSWORD = "fake-password-Zq8"
SPLUNK_TOKEN = "fake-token-Hk3s9"
KIBANA_API_KEY = "ZmFrZS1rZXktaWQ6ZmFrZS1rZXk="

APP_CONF = """\
[install]
is_configured = 0

[ui]
is_visible = true
label = Ghosthire

[launcher]
author = ghosthire
description = Detections for fraudulent remote IT workers
version = 0.1.0

[package]
id = ghosthire
"""

MACROS_CONF = """\
# Site-specific: where Windows process events live. Edit after install.
[ghosthire_src_windows]
definition = (index=wineventlog OR index=sysmon) sourcetype=XmlWinEventLog
iseval = 0

[ghosthire_rmm_filter]
definition = search NOT host IN ("jump-*")
iseval = 0

[ghosthire_rmm_tools]
definition = lookup ghosthire_rmm_tools process_name AS process_name OUTPUT vendor
iseval = 0
"""

SAVEDSEARCHES_CONF = """\
[default]
dispatch.earliest_time = -24h@h
dispatch.latest_time = now

[Ghosthire - RMM tool not company standard]
description = A remote monitoring and management tool ran that is not on the allowlist.
search = `ghosthire_src_windows` EventCode=1 \\
| eval process_name=lower(mvindex(split(Image, "\\\\"), -1)) \\
| `ghosthire_rmm_tools` \\
| where isnotnull(vendor) \\
| `ghosthire_rmm_filter`
cron_schedule = */15 * * * *
is_scheduled = true
disabled = 1
alert.track = 1
alert.suppress = 1
alert.suppress.period = 1h
alert.suppress.fields = host
action.correlationsearch.annotations = {"ghosthire_guidance":["remote-access"],"ghosthire_level":"high","ghosthire_recommended":false,"ghosthire_role":"detection"}

[Ghosthire - Chrome Remote Desktop headless enrolment]
description = remoting_start_host.exe run with --code and --pin (the headless enrolment flow).
search = `ghosthire_src_windows` EventCode=1 Image="*\\\\remoting_start_host.exe" \\
  CommandLine="*--code=*" CommandLine="*--pin=*"
cron_schedule = 5 * * * *
is_scheduled = 1
disabled = 1
action.correlationsearch.annotations = {"ghosthire_guidance":["remote-access","least-privilege"],"ghosthire_level":"medium","ghosthire_recommended":true,"ghosthire_role":"detection"}
"""

TRANSFORMS_CONF = """\
[ghosthire_rmm_tools]
filename = ghosthire_rmm_tools.csv
case_sensitive_match = false
"""

RMM_TOOLS_CSV = """\
process_name,vendor
anydesk.exe,AnyDesk
rustdesk.exe,RustDesk
remoting_host.exe,Chrome Remote Desktop
jumpconnect.exe,Jump Desktop
"""

OVERVIEW_XML = """\
<dashboard version="1.1" theme="dark">
  <label>Ghosthire overview</label>
  <row>
    <panel>
      <title>RMM tools by host</title>
      <table>
        <search><query>`ghosthire_src_windows` EventCode=1 | `ghosthire_rmm_tools` | stats count by host vendor</query></search>
      </table>
    </panel>
  </row>
</dashboard>
"""

NAV_XML = """\
<nav search_view="search">
  <view name="ghosthire_overview" default="true" />
  <view name="search" />
</nav>
"""

DEFAULT_META = """\
[]
access = read : [ * ], write : [ admin, sc_admin ]
export = none

[macros]
export = system
"""

RULES = [
    {
        "rule_id": "0f3a8c3e-1b7d-4c8e-9a51-2d6c1f0e7a11",
        "name": "Ghosthire - RMM tool not company standard",
        "description": "A remote monitoring and management tool ran that is not on the allowlist.",
        "type": "eql",
        "language": "eql",
        "query": 'process where event.type == "start" and process.name : ("anydesk.exe", "rustdesk.exe")',
        "index": ["logs-endpoint.events.process-*"],
        "risk_score": 47,
        "severity": "medium",
        "enabled": False,
        "interval": "15m",
        "from": "now-20m",
        "version": 1,
        "tags": ["ghosthire", "T1219"],
        "threat": [
            {
                "framework": "MITRE ATT&CK",
                "tactic": {"id": "TA0011", "name": "Command and Control", "reference": "https://attack.mitre.org/tactics/TA0011/"},
                "technique": [{"id": "T1219", "name": "Remote Access Tools", "reference": "https://attack.mitre.org/techniques/T1219/"}],
            }
        ],
    },
    {
        "rule_id": "5b2e9d41-7c3a-4f0b-8e62-9a1d3c4b5e22",
        "name": "Ghosthire - Chrome Remote Desktop headless enrolment",
        "description": "remoting_start_host.exe run with --code and --pin.",
        "type": "esql",
        "language": "esql",
        "query": 'FROM logs-endpoint.events.process-* | WHERE process.name == "remoting_start_host.exe" '
        'AND process.command_line LIKE "*--code=*"',
        "risk_score": 73,
        "severity": "high",
        "enabled": False,
        "version": 1,
        "tags": ["ghosthire"],
    },
    {
        "rule_id": "9c4d2a17-3e5f-4b6a-8d70-1f2e3a4b5c33",
        "name": "Ghosthire - One MFA device for several accounts",
        "description": "A single device completed MFA for several users in a day.",
        "type": "threshold",
        "language": "kuery",
        "query": "event.dataset : okta.system and event.outcome : success",
        "index": ["logs-okta.system-*"],
        "threshold": {"field": "okta.debug_context.debug_data.dt_hash", "value": 1, "cardinality": [{"field": "user.name", "value": 2}]},
        "risk_score": 47,
        "severity": "medium",
        "enabled": False,
        "version": 2,
        "tags": ["ghosthire"],
    },
]  # fmt: skip


def write_package(directory: Path, replacements: dict[str, str] | None = None) -> Path:
    """A built app package, `ghosthire/...` inside a .tgz; `replacements` swap file contents by path."""
    files = {
        "default/app.conf": APP_CONF,
        "default/macros.conf": MACROS_CONF,
        "default/savedsearches.conf": SAVEDSEARCHES_CONF,
        "default/transforms.conf": TRANSFORMS_CONF,
        "lookups/ghosthire_rmm_tools.csv": RMM_TOOLS_CSV,
        "default/data/ui/views/ghosthire_overview.xml": OVERVIEW_XML,
        "default/data/ui/nav/default.xml": NAV_XML,
        "metadata/default.meta": DEFAULT_META,
    }
    files |= replacements or {}
    directory.mkdir(parents=True, exist_ok=True)
    package = directory / "ghosthire-0.1.0.tgz"
    with tarfile.open(package, "w:gz") as tar:
        for relative, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"ghosthire/{relative}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return package


def write_rules(path: Path, rules: list[dict[str, object]] | None = None) -> Path:
    path.write_text("".join(json.dumps(rule) + "\n" for rule in (RULES if rules is None else rules)))
    return path


def reset(output: io.StringIO) -> None:
    """Forget what a console printed so far."""
    output.seek(0)
    output.truncate()


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.02, timeout=0.5)


@pytest.fixture
def output() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def console(output: io.StringIO) -> Console:
    return Console(file=output, width=200, highlight=False, color_system=None)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "build")


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "ghosthire-rules.ndjson")


@pytest.fixture
def splunkd() -> Iterator[FakeSplunkd]:
    with FakeSplunkd(password=SPLUNK_PASSWORD, token=SPLUNK_TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def splunk_target(splunkd: FakeSplunkd) -> SplunkTarget:
    return SplunkTarget("127.0.0.1", splunkd.port, "http")


@pytest.fixture
def password_login() -> SplunkCredentials:
    return SplunkCredentials(username="admin", password=SPLUNK_PASSWORD)


@pytest.fixture
def service(splunk_target: SplunkTarget, password_login: SplunkCredentials, policy: RetryPolicy):
    return connect_splunk(splunk_target, password_login, policy)


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with FakeKibana(api_key=KIBANA_API_KEY, spaces=("default", "soc")) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def kibana_client(kibana: FakeKibana, policy: RetryPolicy) -> KibanaClient:
    return KibanaClient(KibanaTarget(kibana.url), KIBANA_API_KEY, policy.timeout)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    return make_self_signed_certificate(tmp_path_factory.mktemp("tls"))
