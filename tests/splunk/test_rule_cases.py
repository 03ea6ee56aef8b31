"""Every single-event rule's Splunk search on its own test events: the Splunk twin of the local verdicts
for rules without a correlation (correlations: test_correlation_cases.py).

The raw records become the events the Splunk add-ons index (tests/splunk/splunk_events.py) and the
rule's search runs over them in the SPL interpreter (tests/splunk/spl_window.py) with the built app's
macros and lookups: every must-fire event the rule's source macro reads returns a row, a must-not-fire event none.
A record the source macro does not read is one the Splunk app does not search by design (process
creation is read from Sysmon event 1, not Security 4688: macros.conf says why), but every rule needs
at least one must-fire event its macro reads, so no rule passes on nothing. Building blocks
have no saved search of their own but their SPL is what the correlations read, so they are judged too.
"""

from __future__ import annotations

import re

import pytest

from ghosthire.compile import CompiledRule, TargetOutput
from ghosthire.splunk.conf import parse_conf
from tests.conftest import shipped_cases, shipped_pack
from tests.splunk.spl_window import app_lookups, run
from tests.splunk.splunk_events import NULL_MODELS, Event, splunk_events

CASES = shipped_cases()
SINGLE_EVENT_RULES = sorted(rule.name for rule in shipped_pack().rules if not rule.is_correlation)


# Known wrong Splunk verdicts, (rule, case) -> why; each is a defect to fix, not a design decision.
KNOWN_WRONG: dict[tuple[str, str], str] = {
    (
        "okta_event_in_session",
        "event with no session (authenticationContext.externalSessionId null)",
    ): "Splunk shows a JSON null as the string null, which `?*` matches (null-string model only)",
}
SOURCE_MACRO = re.compile(r"^`(ghosthire_src_[a-z0-9_]+)`")


@pytest.fixture(scope="module")
def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    conf = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    return {name: keys["definition"] for name, keys in conf.items()}


@pytest.mark.parametrize("nulls", NULL_MODELS)
def test_every_single_event_rule_on_its_test_events(
    splunk_output: TargetOutput, macros: dict[str, str], app_files: dict[str, bytes], nulls: str
) -> None:
    """One test over every rule, so that a failure lists every wrong verdict."""
    lookups = app_lookups(app_files)
    compiled = {item.rule.name: item for item in splunk_output.compiled}
    wrong = []
    for name in SINGLE_EVENT_RULES:
        item = compiled[name]
        if not item.ok:
            wrong.append(f"{name}: not compiled for Splunk ({item.skipped})")
            continue
        fired_somewhere = False
        for verdict, listed in (("fire", CASES[name].must_fire), ("quiet", CASES[name].must_not_fire)):
            for case in listed:
                if (name, case.name) in KNOWN_WRONG and nulls == NULL_MODELS[0]:
                    continue
                query = str(item.queries[0])
                events = splunk_events(case.events, CASES[name].source_of(case), nulls)
                rows = run(query, events, macros=macros, lookups=lookups)
                expected = _expected_rows(item, query, events, macros) if verdict == "fire" else 0
                if len(rows) != expected:
                    wrong.append(f"{name} / {case.name}: {len(rows)} rows, {expected} expected")
                fired_somewhere |= bool(expected)
        if not fired_somewhere:
            wrong.append(f"{name}: no must-fire event is read by its source macro")
    assert not wrong, "\n".join(wrong)


def _expected_rows(item: CompiledRule, query: str, events: list[Event], macros: dict[str, str]) -> int:
    """A must-fire case: a row per event the source macro reads; a work pattern, one per person (the
    cases are about one person each)."""
    if item.rule.meta and item.rule.meta.work_pattern:
        return 1
    return _read_by_source_macro(query, events, macros)


def _read_by_source_macro(query: str, events: list[Event], macros: dict[str, str]) -> int:
    match = SOURCE_MACRO.match(query)
    assert match, f"the search does not start with its source macro: {query[:80]}"
    return len(run(f"`{match.group(1)}`", events, macros=macros))
