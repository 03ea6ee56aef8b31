"""The HTML report, opened in a real headless browser (Debian's chromium): the triage queue on the first
screen, persons in rank order with their identifiers joined, repeats folded, every timeline row linked to
its evidence, and an attacker's script in an event value shown as text, never run."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ghosthire.hunt import hunt_events
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import assess
from ghosthire.identities import Directory
from ghosthire.triage import TriagePolicy
from tests.hunt.packs import PROXY_SESSION, RuleSpec, write_pack
from tests.hunt.png import pixel_rows_with, read_png
from tests.identities.test_directory import write_lookups

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
    "proxy": PROXY_SESSION,
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
    *[_windows(4732, "LT-BRAVO", {"TargetSid": "S-1-5-32-544"}) for _ in range(3)],
    {
        "eventType": "user.session.start",
        "published": "2025-06-01T11:00:00Z",
        "actor": {"alternateId": "carol@example.com"},
        "securityContext": {"isProxy": True},
    },
]


# Two guidance areas queue a person here, so both persons are in the queue.
POLICY = TriagePolicy(window="7d", queue_when=[{"min_guidance_areas": 2}])  # type: ignore[list-item]
QUEUE_TINT = (0xFF, 0xF5, 0xF4)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    outcome = hunt_events(write_pack(tmp_path / "rules", RULES, "9a1d2c3e-0000-4000-8000-000000000"), EVENTS)
    lookups = write_lookups(
        tmp_path / "lookups",
        [
            {
                "identity": "carol|carol@example.com",
                "first": "Carol",
                "last": "Example",
                "email": "carol@example.com",
            }
        ],
        [{"nt_host": "LT-BRAVO", "owner": "carol", "category": "laptop"}],
    )
    findings = assess(outcome, Directory.load(lookups), POLICY)
    assert [(risk.key, risk.triage) for risk in findings.persons] == [("carol", True), (PAYLOAD, True)]
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


def test_browser_shows_persons_in_rank_order_and_never_runs_the_payload(report: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert "<title>ghosthire hunt report</title>" in dom
    assert "pwned</title>" not in dom
    assert 'id="pwned"' not in dom
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title" in dom
    persons = re.findall(r'<tr class="person-row" data-person="([^"]*)"', dom)
    assert [
        person.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for person in persons
    ] == ["carol", PAYLOAD]
    sections = re.findall(r'<section id="([a-z]+)"', dom)
    assert sections == ["queue", "persons", "timelines", "guidance", "evidence", "summary"]


def test_repeats_fold_into_one_row_linked_to_each_cited_event(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    carol = html[
        html.index('<div class="entity" id="person-1"') : html.index('<div class="entity" id="person-2"')
    ]
    assert "LT-BRAVO, carol@example.com" in carol
    assert carol.count("Admin added") == 1 and "&times;3" in carol
    anchors = re.findall(r'<a href="#(event-\d+)">', carol)
    assert len(anchors) == 3 + 1  # the folded row cites its three events, the proxy sign-in its one
    for anchor in anchors:
        assert f'<div id="{anchor}">' in html
    # each cited event is printed once, without empty fields, quotes left as they are
    assert html.count("<pre>") == len(set(re.findall(r'<div id="(event-\d+)">', html)))
    assert "TargetSid: S-1-5-32-544" in html


def test_the_first_screen_leads_with_the_triage_queue(report: Path, tmp_path: Path) -> None:
    """A 1280x800 first screen (taken at half scale to keep decoding fast): the queue's tinted section
    starts near the top and its rows take a good part of the screen."""
    screenshot = tmp_path / "first-screen.png"
    _chromium(
        tmp_path,
        "--window-size=1280,800",
        "--force-device-scale-factor=0.5",
        "--hide-scrollbars",
        f"--screenshot={screenshot}",
        report.as_uri(),
    )
    width, height, rows = read_png(screenshot)
    assert (width, height) == (640, 400)
    tinted = pixel_rows_with(rows, QUEUE_TINT, tolerance=2)
    assert tinted and tinted[0] < height // 4, "the queue is not at the top of the first screen"
    assert len(tinted) > height // 5, "the queue takes too little of the first screen"


def test_lookup_problems_and_conflicts_are_in_the_report(tmp_path: Path) -> None:
    outcome = hunt_events(write_pack(tmp_path / "rules", RULES, "9a1d2c3e-0000-4000-8000-000000000"), EVENTS)
    lookups = write_lookups(
        tmp_path / "lookups",
        [
            {"identity": "carol|shared-id"},
            {"identity": "dave|shared-id"},
            {"identity": "eve", "startDate": "soon"},
        ],
        [],
    )
    stream = io.StringIO()
    WRITERS["html"](assess(outcome, Directory.load(lookups)), stream)
    html = stream.getvalue()
    assert "ghosthire_identities.csv:4: row skipped: startDate &#39;soon&#39;" in html
    assert "identifier &#39;shared-id&#39; is claimed by carol, dave" in html
