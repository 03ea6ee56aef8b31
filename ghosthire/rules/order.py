"""Rules in an order pySigma can convert: every rule a correlation references before the correlation."""

from __future__ import annotations

from collections.abc import Iterable

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

AnyRule = SigmaRule | SigmaCorrelationRule


def dependencies_first(rules: Iterable[AnyRule]) -> list[AnyRule]:
    """The rules, each after every rule it references (transitively), otherwise in their given order.
    References must be resolved (SigmaCollection.resolve_rule_references)."""
    ordered: dict[int, AnyRule] = {}

    def visit(rule: AnyRule) -> None:
        if isinstance(rule, SigmaCorrelationRule):
            for reference in rule.rules:
                visit(reference.rule)
        ordered.setdefault(id(rule), rule)

    for rule in rules:
        visit(rule)
    return list(ordered.values())
