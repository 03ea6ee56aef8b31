"""Every correlation rule's Splunk search on its own test events: the Splunk twin of the local verdicts.

For each correlation of the pack and each case of detection_tests/<rule>.yml, the raw records become the
events Splunk would index (tests/splunk/splunk_events.py: field names as the add-ons extract them, not
as the pipelines map them) and the built app's search runs over them in the SPL interpreter
(tests/splunk/spl_window.py) with the app's own macros and lookups: source macros, filter macros, the
Google Workspace parameter macro, the building blocks' searches, the lists they read at search time
(corporate egress, RMM catalogue), the sliding window. The searched range starts
one timespan before the first event, so every window is complete. A must-fire case must return a row,
a must-not-fire case none: the same verdicts the local engine gives (tests/test_detections.py). Each
case runs twice, with JSON null as the string "null" and as no field, so no verdict rests on how Splunk
shows a null.
"""

from __future__ import annotations

import pytest
from sigma.correlations import SigmaCorrelationRule

from ghosthire.compile import TargetOutput
from ghosthire.rules import RulePack
from ghosthire.splunk.conf import parse_conf
from tests.conftest import shipped_cases, shipped_pack
from tests.splunk.spl_window import app_lookups, run
from tests.splunk.splunk_events import NULL_MODELS, splunk_events

CASES = shipped_cases()
CORRELATIONS = sorted(
    rule.name for rule in shipped_pack().rules if isinstance(rule.rule, SigmaCorrelationRule)
)
PARAMS = [
    pytest.param(name, verdict, index, nulls, id=f"{name}-{verdict}-{index}-{nulls}")
    for name in CORRELATIONS
    for verdict, listed in (("fire", CASES[name].must_fire), ("quiet", CASES[name].must_not_fire))
    for index in range(len(listed))
    for nulls in NULL_MODELS
]


@pytest.fixture(scope="module")
def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    conf = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    return {name: keys["definition"] for name, keys in conf.items()}


@pytest.fixture(scope="module")
def lookups(app_files: dict[str, bytes]) -> dict[str, list[dict[str, str]]]:
    return app_lookups(app_files)


@pytest.fixture(scope="module")
def searches(splunk_output: TargetOutput) -> dict[str, str]:
    return {item.rule.name: str(item.queries[0]) for item in splunk_output.ok()}


def test_every_correlation_of_the_pack_compiles_for_splunk(pack: RulePack, searches: dict[str, str]) -> None:
    assert CORRELATIONS, "the pack has no correlation rules"
    assert [name for name in CORRELATIONS if name not in searches] == []


@pytest.mark.parametrize(("rule_name", "verdict", "index", "nulls"), PARAMS)
def test_correlation_verdict_on_its_test_events(
    rule_name: str,
    verdict: str,
    index: int,
    nulls: str,
    searches: dict[str, str],
    macros: dict[str, str],
    lookups: dict[str, list[dict[str, str]]],
    pack: RulePack,
) -> None:
    rule_cases = CASES[rule_name]
    case = (rule_cases.must_fire if verdict == "fire" else rule_cases.must_not_fire)[index]
    events = splunk_events(case.events, rule_cases.source_of(case), nulls)
    timespan = pack.get(rule_name).rule.timespan.seconds
    rows = run(searches[rule_name], events, min(e["_time"] for e in events) - timespan, macros, lookups)
    if verdict == "fire":
        assert rows, f"{case.name}: the Splunk search must return a row"
    else:
        assert rows == [], f"{case.name}: the Splunk search must return nothing, got {rows}"
