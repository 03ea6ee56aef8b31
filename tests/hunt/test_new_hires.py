"""New-hire escalation in the local hunt: a user's alert in their first 90 days (the new-hire lookup)
is raised one level with its score x1.5 (at most 100), keeps its base level and score, is marked in every
output and counts with the raised score in the risk roll-up; any other alert is left as it is."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.hunt import HuntOutcome, hunt_events
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import assess
from ghosthire.rules import RulePack
from ghosthire.tuning import NewHire, load_new_hires
from tests.hunt.packs import PROXY_SESSION, RuleSpec, write_pack

RULES = {
    "proxy_session": PROXY_SESSION,
    "mfa_reset": RuleSpec(
        title="MFA factor reset",
        logsource="{product: okta, service: okta}",
        selection="eventType: user.mfa.factor.reset_all",
        level="high",
        guidance="session-theft",
        entity="user",
        field="actor.alternateId",
        score=80,
    ),
    "remote_tool": RuleSpec(
        title="Remote tool",
        logsource="{product: windows, category: process_creation}",
        selection="Image|endswith: '\\\\AnyDesk.exe'",
        level="medium",
        guidance="remote-access",
        entity="host",
        field="Computer",
        score=35,
    ),
}
# Alerts are on 2025-06-01; dana started 10 days before, erin 120 days before.
NEW_HIRES = (
    "user,start_date,expected_country\nDana@Example.com,2025-05-22,US\nerin@example.com,2025-02-01,GB\n"
)
NEW_HIRES += "LT-DANA,2025-05-22,US\n"


def _okta(user: str, **fields: object) -> dict[str, object]:
    return {
        "eventType": "user.session.start",
        "published": "2025-06-01T11:00:00Z",
        "actor": {"alternateId": user},
        **fields,
    }


def _anydesk_on(computer: str) -> dict[str, object]:
    system = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": computer,
        "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00Z"}},
    }
    return {"Event": {"System": system, "EventData": {"Image": "C:\\Tools\\AnyDesk.exe"}}}


EVENTS = [
    _okta("dana@example.com", securityContext={"isProxy": True}),
    _okta("dana@example.com", eventType="user.mfa.factor.reset_all"),
    _okta("erin@example.com", securityContext={"isProxy": True}),
    _okta("frank@example.com", securityContext={"isProxy": True}),
    _anydesk_on("LT-DANA"),
]


@pytest.fixture
def pack(tmp_path: Path) -> RulePack:
    return write_pack(tmp_path / "rules", RULES, "9a1d2c3e-0000-4000-8000-000000000")


@pytest.fixture
def lookup(tmp_path: Path) -> Path:
    path = tmp_path / "new_hires.csv"
    path.write_text(NEW_HIRES, encoding="utf-8")
    return path


@pytest.fixture
def outcome(pack: RulePack, lookup: Path) -> HuntOutcome:
    return hunt_events(pack, EVENTS, new_hires=load_new_hires(lookup))


def _alert(outcome: HuntOutcome, rule: str, entity: str) -> dict[str, object]:
    (found,) = [
        alert.to_json() for alert in outcome.alerts if alert.rule.name == rule and alert.entity == entity
    ]
    return found


def test_a_recent_hires_signal_is_raised_one_level_and_its_score_by_half(outcome: HuntOutcome) -> None:
    alert = _alert(outcome, "proxy_session", "dana@example.com")
    assert (alert["level"], alert["base_level"]) == ("high", "medium")
    assert (alert["risk_score"], alert["base_risk_score"]) == (60, 40)
    assert alert["new_hire"] == {
        "user": "Dana@Example.com",
        "start_date": "2025-05-22",
        "days_since_start": 10,
        "expected_country": "US",
    }


def test_the_raised_score_is_capped_at_100(outcome: HuntOutcome) -> None:
    alert = _alert(outcome, "mfa_reset", "dana@example.com")
    assert (alert["level"], alert["risk_score"], alert["base_risk_score"]) == ("critical", 100, 80)


@pytest.mark.parametrize("entity", ["erin@example.com", "frank@example.com"])
def test_a_hire_past_90_days_or_not_in_the_lookup_is_not_raised(outcome: HuntOutcome, entity: str) -> None:
    alert = _alert(outcome, "proxy_session", entity)
    assert (alert["level"], alert["risk_score"], alert["new_hire"]) == ("medium", 40, None)


def test_a_non_user_entity_is_not_raised_even_when_its_name_is_in_the_lookup(outcome: HuntOutcome) -> None:
    alert = _alert(outcome, "remote_tool", "LT-DANA")
    assert (alert["level"], alert["risk_score"], alert["new_hire"]) == ("medium", 35, None)


def test_a_start_after_the_signal_is_not_raised(pack: RulePack) -> None:
    hires = {"dana@example.com": NewHire("dana@example.com", date(2025, 6, 2), None)}
    alert = _alert(hunt_events(pack, EVENTS, new_hires=hires), "proxy_session", "dana@example.com")
    assert (alert["level"], alert["risk_score"], alert["new_hire"]) == ("medium", 40, None)


def test_the_roll_up_counts_the_raised_score(outcome: HuntOutcome) -> None:
    scores = {risk.key.lower(): (risk.score, risk.new_hire) for risk in assess(outcome).persons}
    assert scores["dana@example.com"] == (60 + 100, True)
    assert scores["erin@example.com"] == (40, False)
    assert scores["lt-dana"] == (35, False)


def _written(outcome: HuntOutcome, output_format: str) -> str:
    stream = io.StringIO()
    WRITERS[output_format](assess(outcome), stream)
    return stream.getvalue()


def test_csv_marks_the_new_hire_and_keeps_the_base(outcome: HuntOutcome) -> None:
    rows = list(csv.DictReader(io.StringIO(_written(outcome, "csv"))))
    (dana,) = [
        row for row in rows if row["rule_name"] == "proxy_session" and row["entity"] == "dana@example.com"
    ]
    assert (dana["level"], dana["base_level"], dana["risk_score"], dana["base_risk_score"]) == (
        "high",
        "medium",
        "60",
        "40",
    )
    assert dana["new_hire"].startswith("new hire (started 2025-05-22, day 10)")
    assert all(row["new_hire"] == "" for row in rows if row["entity"] != "dana@example.com")


def test_html_and_table_mark_the_new_hire(outcome: HuntOutcome) -> None:
    html = _written(outcome, "html")
    assert 'class="chip new-hire">new hire<' in html
    assert "medium -&gt; high, score 40 -&gt; 60" in html
    table = _written(outcome, "table")
    assert "(new hire)" in table


def test_cli_reads_the_lookup_named_by_new_hires(tmp_path: Path, pack: RulePack, lookup: Path) -> None:
    events = tmp_path / "okta.ndjson"
    events.write_text("".join(json.dumps(event) + "\n" for event in EVENTS), encoding="utf-8")
    rules = str(tmp_path / "rules")
    _register()
    raised = CliRunner().invoke(
        cli, ["hunt", "--rules", rules, "--format", "jsonl", "--new-hires", str(lookup), str(events)]
    )
    shipped = CliRunner().invoke(cli, ["hunt", "--rules", rules, "--format", "jsonl", str(events)])
    assert raised.exit_code == 0 and shipped.exit_code == 0, raised.output + shipped.output

    def dana_levels(output: str) -> list[str]:
        records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        return sorted(record["level"] for record in records if record["entity"] == "dana@example.com")

    assert dana_levels(raised.output) == ["critical", "high"]
    # The shipped lookup is empty: nothing is raised.
    assert dana_levels(shipped.output) == ["high", "medium"]
