"""The two recognisers of a record's log source, Python's `detect_source` and the hunt engine's SQL, agree
on every raw event of the detection tests, nested or with dotted keys flattened, in any case."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ghosthire.hunt import HuntPlan, hunt_events
from ghosthire.model.sources import detect_source
from ghosthire.rules.cases import RuleCases


def _flattened(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict) and value:
            flat.update(_flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shouted(value: Any) -> Any:
    """Every text upper-cased: recognition compares values case-insensitively."""
    if isinstance(value, dict):
        return {key: _shouted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shouted(item) for item in value]
    return value.upper() if isinstance(value, str) else value


def test_sql_and_python_recognise_the_same_sources(
    hunt_plan: HuntPlan, rule_cases: dict[str, RuleCases]
) -> None:
    events = [
        event
        for cases in rule_cases.values()
        for case in [*cases.must_fire, *cases.must_not_fire]
        for event in case.events
    ]
    events += [_flattened(event) for event in events] + [_shouted(event) for event in events]
    recognised = Counter(source.id if (source := detect_source(event)) else None for event in events)
    assert len(recognised) >= 9, "the events span the sources"

    stats = hunt_events(hunt_plan, events).result.stats
    assert stats.records == len(events)
    assert {**stats.by_source, None: stats.unrecognised} == {None: 0, **recognised}
