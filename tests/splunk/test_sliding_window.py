"""Sliding windows: the emitted streamstats SPL against the stock `bin _time` SPL, and against Sigma's definition.

Both SPL texts come from the backend for the same fixture rule (`streamstats` is the default method, `stats`
the stock one) and run in tests/splunk/spl_window.py, which interprets the commands the backend emits and
nothing else. What is tested is the correlation stages; the base search is stood in for by the events.
The reference is Sigma's definition written directly in Python: a correlation fires for a group when some
event's window (t - timespan, t] holds enough events, distinct values, or a complete ordered sequence.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import pytest

from ghosthire.compile import Target
from ghosthire.rules import RulePack
from tests.splunk.spl_window import Event, run

DAY = 86400
MIDNIGHT = 20 * DAY  # a bucket edge for both 24h and 10m buckets
SEEDS = range(25)


def query(pack: RulePack, target: Target, rule_name: str, method: str) -> str:
    """The rule's SPL with the given correlation method, compiled on a private copy of the rules."""
    rules = copy.deepcopy(pack.collection)
    rules.resolve_rule_references()
    backend = target.create_backend()
    for dependency in pack.dependencies(pack.get(rule_name))[:-1]:
        backend.convert_rule(next(r for r in rules.rules if str(r.id) == dependency.id))
    correlation = next(r for r in rules.rules if r.name == rule_name)
    [spl] = backend.convert_correlation_rule(correlation, method=method)
    return spl


@pytest.fixture(scope="module")
def okta_countries(fixture_pack: RulePack, splunk_target: Target) -> dict[str, str]:
    return {
        method: query(fixture_pack, splunk_target, "okta_multi_country", method)
        for method in ("stats", "streamstats")
    }


@pytest.fixture(scope="module")
def group_burst(fixture_pack: RulePack, splunk_target: Target) -> dict[str, str]:
    return {
        method: query(fixture_pack, splunk_target, "local_group_change_burst", method)
        for method in ("stats", "streamstats")
    }


@pytest.fixture(scope="module")
def ordered(fixture_pack: RulePack, splunk_target: Target) -> str:
    return query(fixture_pack, splunk_target, "rmm_then_local_admin", "streamstats")


def sign_in(time: float, user: str, country: str) -> Event:
    return {"_time": time, "actor.alternateId": user, "client.geographicalContext.country": country}


def group_change(time: float, host: str) -> Event:
    return {"_time": time, "Computer": host}


def fired(spl: str, events: list[Event], group_field: str) -> set[str]:
    return {row[group_field] for row in run(spl, events, info_min_time=min(e["_time"] for e in events) - DAY)}


def test_the_stock_query_buckets_and_ours_slides(okta_countries: dict[str, str]) -> None:
    assert "| bin _time span=86400s" in okta_countries["stats"]
    assert "| streamstats time_window=86400s" in okta_countries["streamstats"]
    assert "bin _time" not in okta_countries["streamstats"]


def test_two_countries_twenty_minutes_apart_across_midnight(okta_countries: dict[str, str]) -> None:
    events = [
        sign_in(MIDNIGHT - 600, "jo@example.com", "United States"),
        sign_in(MIDNIGHT + 600, "jo@example.com", "South Korea"),
    ]
    assert fired(okta_countries["stats"], events, "actor.alternateId") == set()
    assert fired(okta_countries["streamstats"], events, "actor.alternateId") == {"jo@example.com"}


def test_a_burst_straddling_a_ten_minute_bucket_edge(group_burst: dict[str, str]) -> None:
    edge = MIDNIGHT + 1200
    events = [
        group_change(edge - 120, "LAPTOP-7"),
        group_change(edge - 60, "LAPTOP-7"),
        group_change(edge + 60, "LAPTOP-7"),
    ]
    assert fired(group_burst["stats"], events, "Computer") == set()
    # The sliding search reports group-by values lower-cased (it groups case-insensitively).
    assert fired(group_burst["streamstats"], events, "Computer") == {"laptop-7"}


def test_events_further_apart_than_the_window_do_not_correlate(okta_countries: dict[str, str]) -> None:
    events = [
        sign_in(MIDNIGHT, "jo@example.com", "United States"),
        sign_in(MIDNIGHT + DAY + 60, "jo@example.com", "Canada"),
    ]
    assert fired(okta_countries["streamstats"], events, "actor.alternateId") == set()


def sliding_reference(
    events: list[Event], group: str, span: int, measure: Callable[[list[Event]], int], at_least: int
) -> set[str]:
    """Sigma's definition: some event's window (t - span, t] in the group measures at least `at_least`."""
    return {
        event[group]
        for event in events
        if measure(
            [
                e
                for e in events
                if e[group] == event[group] and event["_time"] - span < e["_time"] <= event["_time"]
            ]
        )
        >= at_least
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_value_count_matches_sigma_and_buckets_only_miss(okta_countries: dict[str, str], seed: int) -> None:
    rng = random.Random(seed)
    events = [
        sign_in(
            MIDNIGHT + rng.uniform(-3 * DAY, 3 * DAY),
            f"user{rng.randrange(6)}",
            rng.choice(["US", "US", "US", "KR", "CN"]),
        )
        for _ in range(40)
    ]

    def countries(window: list[Event]) -> int:
        return len({e["client.geographicalContext.country"] for e in window})

    expected = sliding_reference(events, "actor.alternateId", DAY, countries, 2)
    assert fired(okta_countries["streamstats"], events, "actor.alternateId") == expected
    assert fired(okta_countries["stats"], events, "actor.alternateId") <= expected


@pytest.mark.parametrize("seed", SEEDS)
def test_event_count_matches_sigma_and_buckets_only_miss(group_burst: dict[str, str], seed: int) -> None:
    rng = random.Random(seed)
    events = [group_change(MIDNIGHT + rng.uniform(0, 3600), f"host{rng.randrange(5)}") for _ in range(30)]
    expected = sliding_reference(events, "Computer", 600, len, 3)
    assert fired(group_burst["streamstats"], events, "Computer") == expected
    assert fired(group_burst["stats"], events, "Computer") <= expected


def ordered_reference(events: list[Event], first: str, second: str, span: int) -> set[str]:
    """Some `first` event, then a later `second` event of the same host, less than `span` apart."""
    return {
        b["Computer"]
        for b in events
        for a in events
        if a["event_type"] == first
        and b["event_type"] == second
        and a["Computer"] == b["Computer"]
        and a["_time"] < b["_time"] < a["_time"] + span
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_ordered_sequence_matches_sigma(ordered: str, seed: int) -> None:
    rng = random.Random(seed)
    events = [
        {
            "_time": MIDNIGHT + rng.uniform(0, 6 * 3600),
            "Computer": f"host{rng.randrange(4)}",
            "event_type": rng.choice(["rmm_tool_execution", "local_group_member_added"]),
        }
        for _ in range(12)
    ]
    expected = ordered_reference(events, "rmm_tool_execution", "local_group_member_added", 7200)
    assert fired(ordered, events, "Computer") == expected


def test_the_reverse_order_does_not_fire(ordered: str) -> None:
    events = [
        {"_time": MIDNIGHT, "Computer": "LAPTOP-7", "event_type": "local_group_member_added"},
        {"_time": MIDNIGHT + 60, "Computer": "LAPTOP-7", "event_type": "rmm_tool_execution"},
    ]
    assert fired(ordered, events, "Computer") == set()


def test_consecutive_runs_report_a_burst_once(group_burst: dict[str, str]) -> None:
    """Each run searches interval + timespan and keeps only complete windows, so runs tile time."""
    interval, span = 3600, 600
    burst = [group_change(MIDNIGHT + 3000 + second, "LAPTOP-7") for second in (0, 30, 60)]
    run_starts = [MIDNIGHT - span + interval * k for k in range(3)]
    reports = [
        run(
            group_burst["streamstats"],
            [e for e in burst if start <= e["_time"] < start + span + interval],
            start,
        )
        for start in run_starts
    ]
    assert [len(rows) for rows in reports] == [1, 0, 0]
