"""The pack's own rule policy, on top of what pySigma validates: what a rule must carry to ship."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

from ghosthire.errors import ContentError
from ghosthire.model.attack import load_attack
from ghosthire.rules import PackRule, RulePack
from ghosthire.rules.cases import RuleCases, load_cases


@dataclass(frozen=True)
class Violation:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


Check = Callable[[PackRule], Iterator[str]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


@check
def has_documentation(rule: PackRule) -> Iterator[str]:
    sigma = rule.rule
    for attribute in ("title", "description", "author", "date", "status", "level"):
        if not getattr(sigma, attribute, None):
            yield f"missing `{attribute}`"
    if not sigma.references:
        yield "missing `references`"
    if not sigma.falsepositives:
        yield "missing `falsepositives`"
    for key in ("falsepositives", "references"):
        for entry in getattr(sigma, key) or []:
            if not isinstance(entry, str):
                yield f"`{key}` entry is not text (quote it if it contains ': '): {entry!r}"


@check
def has_identity(rule: PackRule) -> Iterator[str]:
    if not rule.rule.id:
        yield "missing `id` (a UUID)"
    if rule.rule.name != rule.path.stem:
        yield f"`name` must equal the file name ({rule.path.stem!r}), got {rule.rule.name!r}"


@check
def has_attack_technique(rule: PackRule) -> Iterator[str]:
    if not rule.attack_ids:
        yield "no ATT&CK technique tag (attack.tNNNN)"


_TACTIC_TAG = re.compile(r"[a-z]+(-[a-z]+)*")


@check
def tactics_match_techniques(rule: PackRule) -> Iterator[str]:
    """The `attack.<tactic>` tags are exactly the tactics of the tagged techniques (ghosthire.model.attack)."""
    table = load_attack()
    tagged = {
        tag.name for tag in rule.rule.tags if tag.namespace == "attack" and _TACTIC_TAG.fullmatch(tag.name)
    }
    for unknown in sorted(tagged - set(table.tactics)):
        yield f"`attack.{unknown}` is not an ATT&CK tactic"
    for technique_id in rule.attack_ids:
        if technique_id not in table.techniques:
            yield f"{technique_id} is not a technique of {table.source}"
    expected = set(table.tactics_of(rule.attack_ids))
    order = list(table.tactics)
    missing = sorted(expected - tagged, key=order.index)
    extra = sorted((tagged & set(table.tactics)) - expected, key=order.index)
    if missing:
        yield "missing tactic tag(s) of the tagged techniques: " + ", ".join(f"attack.{t}" for t in missing)
    if extra:
        yield "tactic tag(s) with no tagged technique under them: " + ", ".join(f"attack.{t}" for t in extra)


@check
def has_metadata(rule: PackRule) -> Iterator[str]:
    if rule.meta is None:
        yield "missing pack metadata (`guidance`, `risk`, `implementation`)"


@check
def names_its_reporting(rule: PackRule) -> Iterator[str]:
    """A rule that alerts answers public reporting (who, when): docs/coverage.md lists it per rule.
    Building blocks only feed correlations and answer through them."""
    if rule.meta and not rule.meta.reporting and not rule.rule.custom_attributes.get("building_block"):
        yield "no `reporting` (the public reports it answers: source and date, url where there is one)"


@check
def risk_entity_is_grouped(rule: PackRule) -> Iterator[str]:
    sigma = rule.rule
    if (
        isinstance(sigma, SigmaCorrelationRule)
        and rule.meta
        and rule.meta.risk.field not in (sigma.group_by or [])
    ):
        yield f"risk field {rule.meta.risk.field!r} must be one of the correlation's group-by fields"


@check
def risk_persons_are_counted(rule: PackRule) -> Iterator[str]:
    """The persons behind a shared entity are the values a value_count correlation counts: every
    target's results carry those (Splunk's distinct_values, ES|QL's VALUES, the cited events locally)."""
    persons = rule.meta.risk.persons if rule.meta else None
    sigma = rule.rule
    if persons is None:
        return
    if not isinstance(sigma, SigmaCorrelationRule) or sigma.type != SigmaCorrelationType.VALUE_COUNT:
        yield "risk persons need a value_count correlation (the persons are the values it counts)"
    elif persons != sigma.condition.fieldref:
        yield f"risk persons {persons!r} must be the field the correlation counts ({sigma.condition.fieldref!r})"


def check_pack(pack: RulePack, tests_dir: Path) -> list[Violation]:
    """Every policy violation of every rule, plus rules without must-fire and must-not-fire events."""
    violations = [
        Violation(rule.path, message) for rule in pack.rules for policy in CHECKS for message in policy(rule)
    ]
    try:
        cases = load_cases(tests_dir) if tests_dir.is_dir() else {}
    except ContentError as error:
        return [*violations, Violation(error.path, error.message)]
    violations.extend(_case_violations(pack, cases, tests_dir))
    return violations


def _case_violations(pack: RulePack, cases: dict[str, RuleCases], tests_dir: Path) -> Iterator[Violation]:
    names = {rule.name for rule in pack.rules}
    for rule in pack.rules:
        if rule.name not in cases:
            yield Violation(rule.path, f"no test events: add {tests_dir / (rule.name + '.yml')}")
    for name in sorted(set(cases) - names):
        yield Violation(tests_dir / f"{name}.yml", f"test events for a rule that does not exist: {name}")
