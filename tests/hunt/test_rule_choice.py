"""Which rules a hunt runs: unreadable rules skipped (or stopped at with --strict), and rules chosen by
level, tag and name, as `ghosthire hunt` users ask for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.errors import ContentError, GhosthireError
from ghosthire.rules import load_pack
from ghosthire.rules.selection import RuleSelection, select

RULE = """\
title: {title}
id: 9a1d2c3e-0000-4000-8000-{number:012d}
name: {name}
status: test
description: rule choice test
tags: [{tags}]
logsource: {{product: okta, service: okta}}
detection:
  sel:
    eventType: {event_type}
  condition: sel
level: {level}
"""
CORRELATION = """\
title: Burst
id: 9a1d2c3e-0000-4000-8000-000000000099
name: burst
status: test
correlation:
  type: event_count
  rules: [okta_login]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 2}
level: critical
"""
RULES = {
    "okta_login": ("Okta login", "low", "attack.t1078.004, attack.initial_access", "user.session.start"),
    "okta_mfa_reset": ("Okta MFA reset", "high", "attack.t1556", "user.mfa.factor.deactivate"),
    "okta_admin_grant": ("Okta admin grant", "critical", "attack.t1098", "user.account.privilege.grant"),
}


def _write_rules(directory: Path) -> None:
    for number, (name, (title, level, tags, event_type)) in enumerate(RULES.items(), start=1):
        text = RULE.format(
            title=title, number=number, name=name, tags=tags, event_type=event_type, level=level
        )
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")
    (directory / "burst.yml").write_text(CORRELATION, encoding="utf-8")


def _chosen(tmp_path: Path, selection: RuleSelection) -> list[str]:
    _write_rules(tmp_path)
    return sorted(rule.name for rule in select(load_pack(tmp_path, require_metadata=False), selection).rules)


def test_level_is_a_minimum(tmp_path: Path) -> None:
    assert _chosen(tmp_path, RuleSelection(min_level="high")) == [
        "burst",
        "okta_admin_grant",
        "okta_login",  # what the chosen correlation counts
        "okta_mfa_reset",
    ]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("attack.t1078", ["okta_login"]),  # a technique takes its sub-techniques
        ("T1078.004", ["okta_login"]),
        ("attack.initial_access", ["okta_login"]),
        ("t1556", ["okta_mfa_reset"]),
    ],
)
def test_tags(tmp_path: Path, tag: str, expected: list[str]) -> None:
    assert _chosen(tmp_path, RuleSelection(tags=(tag,))) == expected


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    chosen = _chosen(tmp_path, RuleSelection(include=("okta_*",), exclude=("*mfa*",)))
    assert chosen == ["okta_admin_grant", "okta_login"]


def test_a_selection_that_chooses_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GhosthireError, match="matches the rule selection"):
        _chosen(tmp_path, RuleSelection(include=("nothing*",)))


def _break_one(directory: Path) -> Path:
    broken = directory / "okta_mfa_reset.yml"
    broken.write_text(broken.read_text().replace("level: high", "level: [high"), encoding="utf-8")
    return broken


def test_an_unreadable_rule_is_skipped_with_its_file_and_line(tmp_path: Path) -> None:
    _write_rules(tmp_path)
    broken = _break_one(tmp_path)
    with pytest.raises(ContentError):
        load_pack(tmp_path, require_metadata=False)
    pack = load_pack(tmp_path, require_metadata=False, strict=False)
    assert sorted(rule.name for rule in pack.rules) == ["burst", "okta_admin_grant", "okta_login"]
    assert [(error.path, error.line is not None) for error in pack.skipped] == [(broken, True)]


def test_a_correlation_whose_rule_is_unreadable_is_skipped_too(tmp_path: Path) -> None:
    _write_rules(tmp_path)
    login = tmp_path / "okta_login.yml"
    login.write_text(login.read_text().replace("condition: sel", "condition: sel and"), encoding="utf-8")
    pack = load_pack(tmp_path, require_metadata=False, strict=False)
    assert sorted(rule.name for rule in pack.rules) == ["okta_admin_grant", "okta_mfa_reset"]
    assert sorted(error.path.name for error in pack.skipped) == ["burst.yml", "okta_login.yml"]


def _hunt(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, ["hunt", *args, "--no-progress", "--format", "jsonl"])
    return result.exit_code, result.output


def test_hunt_finishes_past_an_unreadable_rule_and_says_so(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    _write_rules(rules)
    broken = _break_one(rules)
    events = tmp_path / "okta.ndjson"
    event = {"eventType": "user.account.privilege.grant", "actor": {"alternateId": "a@x.example"}}
    events.write_text(json.dumps({**event, "published": "2025-06-01T10:00:00Z"}) + "\n", encoding="utf-8")
    code, output = _hunt(str(events), "--rules", str(rules))
    assert code == 3
    assert "okta_admin_grant" in output
    assert "1 rules skipped, not readable" in output and f"{broken}:" in output
    code, output = _hunt(str(events), "--rules", str(rules), "--strict")
    assert code == 2
    assert f"{broken}:" in output
    code, output = _hunt(str(events), "--rules", str(rules), "--exclude-rule", "*admin*")
    assert code == 3
    assert "okta_admin_grant" not in output.split("rules skipped")[0]


def test_a_technique_newer_than_the_shipped_attack_table_does_not_stop_the_hunt(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    text = RULE.format(
        title="New technique",
        number=7,
        name="new_technique",
        tags="attack.t9999.001",
        event_type="user.session.start",
        level="low",
    )
    (rules / "new_technique.yml").write_text(text, encoding="utf-8")
    events = tmp_path / "okta.ndjson"
    event = {"eventType": "user.session.start", "actor": {"alternateId": "a@x.example"}}
    events.write_text(json.dumps({**event, "published": "2025-06-01T10:00:00Z"}) + "\n", encoding="utf-8")
    code, output = _hunt(str(events), "--rules", str(rules))
    assert code == 0, output
    alert = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    assert (alert["attack_techniques"], alert["attack_tactics"]) == (["T9999.001"], [])
