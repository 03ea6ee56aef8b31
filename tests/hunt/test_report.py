"""The HTML report, opened in a real headless browser (Debian's chromium): entities in roll-up order, and
an attacker's script in an event value shown as text, never run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ghosthire.hunt import hunt_events
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import assess
from tests.hunt.packs import RuleSpec, write_pack

CHROMIUM = shutil.which("chromium")
PAYLOAD = '"><img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned";document.body.insertAdjacentHTML("beforeend","<b id=pwned></b>")</script>'
RULES = {
    "rmm": RuleSpec(
        title="Remote tool",
        logsource="{product: windows, category: process_creation}",
        selection="Image|endswith: '\\\\AnyDesk.exe'",
        level="medium",
        guidance="remote-access",
        entity="host",
        field="Computer",
        score=35,
    ),
    "admin": RuleSpec(
        title="Admin added",
        logsource="{product: windows, service: security}",
        selection="EventID: 4732",
        level="high",
        guidance="least-privilege",
        entity="host",
        field="Computer",
        score=60,
    ),
    "proxy": RuleSpec(
        title="Proxy session",
        logsource="{product: okta, service: okta}",
        selection="securityContext.isProxy: true",
        level="medium",
        guidance="session-theft",
        entity="user",
        field="actor.alternateId",
        score=40,
    ),
}


def _windows(event_id: int, computer: str, data: dict[str, str]) -> dict[str, object]:
    channel = "Microsoft-Windows-Sysmon/Operational" if event_id == 1 else "Security"
    system = {
        "EventID": event_id,
        "Channel": channel,
        "Computer": computer,
        "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00Z"}},
    }
    return {"Event": {"System": system, "EventData": data}}


EVENTS = [
    _windows(1, PAYLOAD, {"Image": "C:\\Tools\\AnyDesk.exe", "CommandLine": PAYLOAD}),
    _windows(4732, PAYLOAD, {"TargetSid": "S-1-5-32-544"}),
    _windows(4732, "LT-BRAVO", {"TargetSid": "S-1-5-32-544"}),
    {
        "eventType": "user.session.start",
        "published": "2025-06-01T11:00:00Z",
        "actor": {"alternateId": "carol@example.com"},
        "securityContext": {"isProxy": True},
    },
]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    outcome = hunt_events(write_pack(tmp_path / "rules", RULES, "9a1d2c3e-0000-4000-8000-000000000"), EVENTS)
    findings = assess(outcome)
    assert [risk.key for risk in findings.persons] == [PAYLOAD, "LT-BRAVO", "carol@example.com"]
    path = tmp_path / "report.html"
    with path.open("w", encoding="utf-8") as stream:
        WRITERS["html"](findings, stream)
    return path


def _chromium(tmp_path: Path, *arguments: str) -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *arguments,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_report_is_self_contained_and_escapes_everything(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html), "the report must not load anything"
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_browser_shows_entities_in_roll_up_order_and_never_runs_the_payload(
    report: Path, tmp_path: Path
) -> None:
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert "<title>ghosthire hunt report</title>" in dom
    assert "pwned</title>" not in dom
    assert 'id="pwned"' not in dom
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title" in dom
    entities = re.findall(r'<tr class="rollup-row" data-entity="([^"]*)"', dom)
    assert [
        entity.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for entity in entities
    ] == [PAYLOAD, "LT-BRAVO", "carol@example.com"]
    for section in ("summary", "guidance", "rollup", "timelines", "alerts"):
        assert f'id="{section}"' in dom


def test_browser_renders_a_page(report: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={screenshot}", report.as_uri())
    assert screenshot.stat().st_size > 10_000
