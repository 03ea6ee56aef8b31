"""Person-level risk on a small company: the fake worker's identifiers across Okta, Windows and GitHub
join into one person at rank 1 in the triage queue; benign persons who each trip fewer areas, and a person
with building blocks only, stay out of it; the policy's window decides what counts together."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.hunt import HuntOutcome, hunt_events
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import assess, rank_persons
from ghosthire.identities import Directory
from ghosthire.triage import TriagePolicy, load_triage_policy
from tests.hunt.packs import RuleSpec, write_pack
from tests.identities.test_directory import write_lookups

OKTA = "{product: okta, service: okta}"
WINDOWS = "{product: windows, category: process_creation}"
GITHUB = "{product: github, service: audit}"
RULES = {
    "proxy_session": RuleSpec(
        "Proxy session",
        OKTA,
        "securityContext.isProxy: true",
        "medium",
        "session-theft",
        "user",
        "actor.alternateId",
        60,
    ),
    "remote_tool": RuleSpec(
        "Remote tool",
        WINDOWS,
        "Image|endswith: '\\\\AnyDesk.exe'",
        "medium",
        "remote-access",
        "host",
        "Computer",
        50,
    ),
    "repo_clone": RuleSpec(
        "Private repo cloned", GITHUB, "action: git.clone", "low", "exfiltration", "user", "actor", 40
    ),
    "grant_seen": RuleSpec(
        "Privilege granted",
        OKTA,
        "eventType: user.account.privilege.grant",
        "low",
        "least-privilege",
        "user",
        "actor.alternateId",
        20,
        building_block=True,
    ),
    "zip_seen": RuleSpec(
        "Repo zip downloaded",
        GITHUB,
        "action: repo.download_zip",
        "low",
        "exfiltration",
        "user",
        "actor",
        20,
        building_block=True,
    ),
    "viewer_seen": RuleSpec(
        "TeamViewer ran",
        WINDOWS,
        "Image|endswith: '\\\\TeamViewer.exe'",
        "low",
        "remote-access",
        "host",
        "Computer",
        20,
        building_block=True,
    ),
}
START = datetime(2025, 6, 2, 9, tzinfo=UTC)
IDENTITIES = [
    {
        "identity": "jdoe|jane.doe@example.com|jdoe-gh|E1001",
        "first": "Jane",
        "last": "Doe",
        "email": "jane.doe@example.com",
        "startDate": "2024-01-08",
    },
    {
        "identity": "rroe|rick.roe@example.com|rroe-gh|E1002",
        "first": "Rick",
        "last": "Roe",
        "email": "rick.roe@example.com",
        "startDate": "2020-01-06",
    },
    {"identity": "bblock|bb@example.com|bb-gh", "first": "Bea", "last": "Block", "email": "bb@example.com"},
    {
        "identity": "late|late@example.com|late-gh",
        "first": "Lou",
        "last": "Late",
        "email": "late@example.com",
    },
]
ASSETS = [
    {"nt_host": "LT-JDOE-01", "dns": "LT-JDOE-01.corp.example.com", "owner": "jdoe", "category": "laptop"},
    {"nt_host": "LT-RROE-02", "owner": "rroe", "category": "laptop"},
    {"nt_host": "LT-BB-03", "owner": "bb@example.com", "category": "laptop"},
    {"nt_host": "LT-LATE-04", "owner": "late", "category": "laptop"},
]


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def okta(
    user: str,
    hours: float,
    *,
    proxy: bool = False,
    event: str = "user.session.start",
    address: str = "198.51.100.7",
) -> dict[str, Any]:
    return {
        "eventType": event,
        "published": _at(hours).isoformat().replace("+00:00", "Z"),
        "actor": {"alternateId": user},
        "securityContext": {"isProxy": proxy},
        "client": {"ipAddress": address},
    }


def windows(computer: str, hours: float, image: str) -> dict[str, Any]:
    system = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": computer,
        "TimeCreated": {"#attributes": {"SystemTime": _at(hours).isoformat().replace("+00:00", "Z")}},
    }
    return {"Event": {"System": system, "EventData": {"Image": image}}}


def github(actor: str, hours: float, action: str) -> dict[str, Any]:
    return {
        "@timestamp": int(_at(hours).timestamp() * 1000),
        "action": action,
        "actor": actor,
        "org": "example",
    }


EVENTS = [
    # the fake worker, under three identifiers in three sources and three guidance areas
    okta("Jane.Doe@Example.com", 1, proxy=True),
    windows("LT-JDOE-01.corp.example.com", 2, "C:\\Tools\\AnyDesk.exe"),
    windows("lt-jdoe-01", 3, "C:\\Tools\\AnyDesk.exe"),
    github("JDOE-GH", 4, "git.clone"),
    # a benign remote worker: a proxy sign-in and a remote tool, many times (two areas; a rule that fires
    # again adds nothing to the score)
    okta("rick.roe@example.com", 1, proxy=True),
    *(windows("LT-RROE-02", 1 + hour, "C:\\Tools\\AnyDesk.exe") for hour in range(5)),
    # building blocks only, in three areas
    okta("bb@example.com", 1, event="user.account.privilege.grant"),
    github("bb-gh", 2, "repo.download_zip"),
    windows("LT-BB-03", 3, "C:\\Tools\\TeamViewer.exe"),
    # three areas, but the third fifteen days after the first two (beyond the shipped window)
    okta("late@example.com", 1, proxy=True),
    github("late-gh", 2, "git.clone"),
    windows("LT-LATE-04", 24 * 15 + 2, "C:\\Tools\\AnyDesk.exe"),
    # nobody the lookups know
    okta("guest@partner.example.org", 1, proxy=True),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("company")
    write_pack(root / "rules", RULES, "5e3b1a70-0000-4000-8000-000000000")
    return write_lookups(root / "lookups", IDENTITIES, ASSETS).parent


@pytest.fixture(scope="module")
def outcome(folder: Path) -> HuntOutcome:
    from ghosthire.rules import load_pack

    return hunt_events(load_pack(folder / "rules", require_metadata=False), EVENTS)


def test_the_fake_worker_is_one_person_at_rank_1_of_the_queue(outcome: HuntOutcome, folder: Path) -> None:
    findings = assess(outcome, Directory.load(folder / "lookups"))
    top = findings.persons[0]
    assert (top.rank, top.key, top.triage) == (1, "jdoe", True)
    assert top.guidance == ["exfiltration", "remote-access", "session-theft"]
    assert set(top.identifiers) == {
        "Jane.Doe@Example.com",
        "LT-JDOE-01.corp.example.com",
        "lt-jdoe-01",
        "JDOE-GH",
    }
    assert [risk.key for risk in findings.queue] == ["jdoe"]


def test_benign_and_building_block_only_persons_stay_out_of_the_queue(
    outcome: HuntOutcome, folder: Path
) -> None:
    findings = assess(outcome, Directory.load(folder / "lookups"))
    by_key = {risk.key: risk for risk in findings.persons}
    assert (len(by_key["rroe"].guidance), by_key["rroe"].score, by_key["rroe"].triage) == (2, 60 + 50, False)
    assert (len(by_key["bblock"].guidance), by_key["bblock"].triage) == (3, False)
    assert by_key["guest@partner.example.org"].person is None


def test_without_identities_the_worker_splits_into_unqueued_entities(outcome: HuntOutcome) -> None:
    """Without lookups nothing joins a UPN to a laptop or a GitHub login, but the forms logs write one
    host in (FQDN, short name, any case) stay one entity, as on Splunk and Elastic."""
    findings = assess(outcome, Directory())
    assert findings.queue == []
    by_key = {risk.key.lower(): risk for risk in findings.persons}
    assert {"jane.doe@example.com", "lt-jdoe-01.corp.example.com", "jdoe-gh"} <= set(by_key)
    assert "lt-jdoe-01" not in by_key
    assert by_key["lt-jdoe-01.corp.example.com"].identifiers == ["LT-JDOE-01.corp.example.com", "lt-jdoe-01"]


def test_the_window_decides_what_counts_together(outcome: HuntOutcome, folder: Path) -> None:
    directory = Directory.load(folder / "lookups")
    week = TriagePolicy.model_validate({"window": "7d", "queue_when": [{"min_guidance_areas": 3}]})
    late = {risk.key: risk for risk in rank_persons(outcome.alerts, directory, week)}["late"]
    assert (len(late.guidance), late.triage) == (2, False)
    assert len(late.alerts) == 3 and len(late.window.alerts) == 2
    wider = TriagePolicy.model_validate({**week.model_dump(), "window": "16d"})
    late = {risk.key: risk for risk in rank_persons(outcome.alerts, directory, wider)}["late"]
    assert (late.guidance, late.triage) == (["exfiltration", "remote-access", "session-theft"], True)


@pytest.mark.parametrize(
    ("areas", "score", "alerting", "queued"),
    [
        (3, 120, True, True),
        (3, 119, True, False),
        (2, 299, True, False),
        (2, 300, True, True),
        (1, 5000, True, False),
        (3, 999, False, False),
    ],
)
def test_the_shipped_thresholds(areas: int, score: int, alerting: bool, queued: bool) -> None:
    assert load_triage_policy().queues(areas, score, alerting) is queued


def test_an_invalid_policy_names_its_file(tmp_path: Path) -> None:
    from ghosthire.errors import ContentError

    path = tmp_path / "triage.yml"
    path.write_text("window: a week\nqueue_when: [{min_guidance_areas: 3}]\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"triage\.yml: invalid triage policy"):
        load_triage_policy(path)


def test_cli_persons_format_with_a_company_lookups_folder(folder: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs.ndjson"
    logs.write_text("".join(json.dumps(event) + "\n" for event in EVENTS), encoding="utf-8")
    _register()
    arguments = ["hunt", "--rules", str(folder / "rules"), "--format", "persons", str(logs)]
    result = CliRunner().invoke(cli, [*arguments[:1], "--lookups", str(folder / "lookups"), *arguments[1:]])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [record["rank"] for record in records] == list(range(1, len(records) + 1))
    first = records[0]
    assert (first["person"], first["display_name"], first["triage"], first["score"]) == (
        "jdoe",
        "Jane Doe",
        True,
        150,
    )
    assert first["first_seen"] == "2025-06-02T10:00:00Z" and first["last_seen"] == "2025-06-02T13:00:00Z"
    assert {alert["rule_name"] for alert in first["alerts"]} == {"proxy_session", "remote_tool", "repo_clone"}
    assert [record["person"] for record in records if record["triage"]] == ["jdoe"]


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_the_table_fits_its_terminal_and_leads_with_the_queue(
    outcome: HuntOutcome, folder: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = io.StringIO()
    WRITERS["table"](assess(outcome, Directory.load(folder / "lookups")), stream)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("triage queue: 1 of")
    assert max(len(line) for line in lines) <= columns
    text = stream.getvalue()
    assert text.index("Jane Doe") < text.index("ranked persons") < text.index("#1 Jane Doe (jdoe): timeline")
    assert " x5 " in text  # the five AnyDesk runs on the benign laptop, folded into one row


def test_markup_in_log_values_is_printed_as_text(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ghosthire.rules import load_pack

    monkeypatch.setenv("COLUMNS", "300")
    hostile = "[/][bold red]LT-[link=x]"
    events = [windows(hostile, 1, "C:\\AnyDesk.exe")]
    outcome = hunt_events(load_pack(folder / "rules", require_metadata=False), events)
    stream = io.StringIO()
    WRITERS["table"](assess(outcome), stream)
    assert f"#1 {hostile}: timeline" in stream.getvalue()


def test_a_later_window_with_an_alerting_rule_queues_even_when_an_earlier_one_scores_higher(
    folder: Path, tmp_path: Path
) -> None:
    """Day 1: five building blocks in three areas (score 100, never queued alone). Day 10: a proxy
    sign-in and two building blocks, three areas again (score 100): that window queues the person."""
    from ghosthire.rules import load_pack

    user, login, host = "mixed@example.com", "mixed-gh", "LT-MIXED-9"
    day_ten = 24 * 9
    events = [
        okta(user, 1, event="user.account.privilege.grant"),
        okta(user, 2, event="user.account.privilege.grant"),
        github(login, 3, "repo.download_zip"),
        github(login, 4, "repo.download_zip"),
        windows(host, 5, "C:\\Tools\\TeamViewer.exe"),
        okta(user, day_ten + 1, proxy=True),
        okta(user, day_ten + 2, event="user.account.privilege.grant"),
        github(login, day_ten + 3, "repo.download_zip"),
    ]
    lookups = write_lookups(
        tmp_path / "lookups",
        [{"identity": f"mixed|{user}|{login}", "email": user}],
        [{"nt_host": host, "owner": "mixed", "category": "laptop"}],
    )
    outcome = hunt_events(load_pack(folder / "rules", require_metadata=False), events)
    week = TriagePolicy.model_validate({"window": "7d", "queue_when": [{"min_guidance_areas": 3}]})
    (mixed,) = rank_persons(outcome.alerts, Directory.load(lookups), week)
    assert mixed.triage
    assert (mixed.guidance, mixed.score) == (["exfiltration", "least-privilege", "session-theft"], 100)
    assert len(mixed.alerts) == 8 and len(mixed.window.alerts) == 3


def test_an_alert_about_a_shared_address_counts_for_the_few_persons_behind_it(folder: Path) -> None:
    """A laptop-farm style correlation (users counted per address, `risk.persons`): each known user
    behind the address gets its risk, the address keeps its own; a crowd (more than the policy's
    limit) leaves it with the address alone."""
    from ghosthire.rules import load_pack

    rules = folder / "shared-rules"
    write_pack(rules, {"proxy_session": RULES["proxy_session"]}, "5e3b1a70-0000-4000-8000-000000001")
    (rules / "shared_address.yml").write_text(SHARED_ADDRESS, encoding="utf-8")
    pack = load_pack(rules, require_metadata=False)
    policy = load_triage_policy()
    pair = ["jane.doe@example.com", "stranger@elsewhere.example"]
    crowd = [*pair, *(f"guest{n}@elsewhere.example" for n in range(policy.shared_alert_max_persons))]
    for users, expected in ((pair, {"jdoe", "203.0.113.9"}), (crowd, {"203.0.113.9"})):
        events = [okta(user, 1 + n / 10, proxy=True, address="203.0.113.9") for n, user in enumerate(users)]
        outcome = hunt_events(pack, events)
        ranked = rank_persons(outcome.alerts, Directory.load(folder / "lookups"), policy)
        behind = {risk.key for risk in ranked if "shared_address" in {a.rule.name for a in risk.alerts}}
        assert behind == expected


SHARED_ADDRESS = """title: One address, several users
id: 5e3b1a70-0000-4000-8000-000000009999
name: shared_address
status: experimental
correlation:
  type: value_count
  rules: [proxy_session]
  group-by: [client.ipAddress]
  timespan: 1d
  condition: {gte: 2, field: actor.alternateId}
level: medium
guidance: [multi-login]
risk: {entity: ip, field: client.ipAddress, score: 50, persons: actor.alternateId}
implementation: Okta System Log sign-ins, the client address of each.
"""


def test_a_correlation_burst_counts_in_every_window_its_evidence_overlaps(
    outcome: HuntOutcome, folder: Path
) -> None:
    """Bursts raised on day 0 whose events go on to day 15 meet a day-15 alert in one 7-day window; the
    same alerts as moments (day 0) do not."""
    directory = Directory.load(folder / "lookups")
    week = TriagePolicy.model_validate({"window": "7d", "queue_when": [{"min_guidance_areas": 3}]})
    late = [alert for alert in outcome.alerts if alert.entity and "late" in alert.entity.lower()]
    *early, tool = sorted(late, key=lambda alert: alert.time)  # a proxy sign-in and a clone, then a tool
    assert [len(risk.guidance) for risk in rank_persons(late, directory, week)] == [2]
    spanning = [replace(alert, last_time=tool.time) for alert in early]
    (risk,) = rank_persons([*spanning, tool], directory, week)
    assert (len(risk.guidance), risk.triage) == (3, True)


@pytest.mark.parametrize(("days_after_start", "queued"), [(0, False), (90, True)])
def test_a_hiring_alert_counts_through_the_new_hire_period(
    folder: Path, tmp_path: Path, days_after_start: int, queued: bool
) -> None:
    """A hiring-stage alert at application, a month before the start date, and two signals in
    the third week of work: one window when hiring alerts count through the new-hire period."""
    from ghosthire.rules import load_pack

    hiring = RuleSpec(
        "Applicant flagged",
        "{product: hr, service: applicants}",
        "record_type: applicant",
        "high",
        "hiring",
        "user",
        "email",
        60,
    )
    pack_dir = tmp_path / "rules"
    write_pack(pack_dir, {**RULES, "applicant_flagged": hiring}, "5e3b1a70-0000-4000-8000-000000002")
    user, login, start = "newbie@example.com", "newbie-gh", START + timedelta(days=30)
    lookups = write_lookups(
        tmp_path / "lookups",
        [{"identity": f"newbie|{user}|{login}", "email": user, "startDate": start.date().isoformat()}],
        [],
    )
    applied = {
        "record_type": "applicant",
        "applicant_id": "GH-1",
        "email": user,
        "applied_at": START.isoformat().replace("+00:00", "Z"),
    }
    days = 30 + 20
    events = [applied, okta(user, 24 * days, proxy=True), github(login, 24 * days + 1, "git.clone")]
    outcome = hunt_events(load_pack(pack_dir, require_metadata=False), events)
    policy = TriagePolicy.model_validate(
        {
            "window": "14d",
            "queue_when": [{"min_guidance_areas": 3}],
            "hiring_alerts_days_after_start": days_after_start,
        }
    )
    (newbie,) = rank_persons(outcome.alerts, Directory.load(lookups), policy)
    assert [a.rule.name for a in outcome.alerts] == ["applicant_flagged", "proxy_session", "repo_clone"]
    assert newbie.triage is queued
