"""First-seen on Splunk: a rule with `first_seen.history_days` drops a result whose entity matched the same
search within its history, read from the `ghosthire_first_seen` lookup that the rule's baseline search
keeps. Checked by running the built app's saved searches (detection, then baseline, then detection again
days later) in the SPL interpreter over one must-fire case, the lookup carried from run to run."""

from __future__ import annotations

import copy
import json

import pytest

from ghosthire.rules import RulePack
from ghosthire.splunk.conf import Stanzas
from ghosthire.splunk.searches import BASELINE_SUFFIX
from tests.conftest import shipped_cases
from tests.splunk.spl_window import Lookups, run
from tests.splunk.splunk_events import Event, splunk_events

CASES = shipped_cases()
DAY = 86400
SEARCH_ID = "action.summary_index.ghosthire_search_id"


def test_every_first_seen_search_has_a_baseline_on_the_interval_before_its_own(
    pack: RulePack, saved: Stanzas
) -> None:
    days_of = {
        rule.name: rule.meta.first_seen.history_days
        for rule in pack.rules
        if rule.meta and rule.meta.first_seen
    }
    # With first-seen fields the history is kept by the entity and their values (gh_fs_term).
    with_fields = {
        rule.name for rule in pack.rules if rule.meta and rule.meta.first_seen and rule.meta.first_seen.fields
    }
    checked = set()
    for name, keys in saved.items():
        if SEARCH_ID not in keys:
            continue
        search_id, baseline = keys[SEARCH_ID], saved.get(name + BASELINE_SUFFIX)
        days = days_of.get(search_id.removesuffix("_tstats"))
        if days is None:
            assert "ghosthire_first_seen" not in keys["search"] and baseline is None, name
            continue
        term = "gh_fs_term" if search_id in with_fields else keys["alert.suppress.fields"]
        assert f"| `ghosthire_first_seen({search_id}, {term}, {days})`" in keys["search"]
        assert baseline is not None, f"{name}: no baseline search"
        notes = json.loads(baseline["action.correlationsearch.annotations"])
        assert notes == {"ghosthire_role": "baseline", "ghosthire_baseline_of": name}
        update = f"| `ghosthire_first_seen_update({search_id}, {term})`"
        assert baseline["search"].endswith(update), name
        assert baseline["search"].removesuffix("\n" + update) == keys["search"].replace(
            f"\n| `ghosthire_first_seen({search_id}, {term}, {days})`", ""
        ), f"{name}: the baseline runs the detection without its first-seen filter"
        assert (baseline["cron_schedule"], baseline["disabled"]) == (keys["cron_schedule"], "1")
        # the previous run's range: ends where the detection's range starts
        lag = keys["dispatch.latest_time"].removeprefix("-").removesuffix("@m")
        assert baseline["dispatch.latest_time"].endswith(f"@m-{lag}"), name
        checked.add(search_id.removesuffix("_tstats"))
    assert checked == set(days_of)


def _events(rule: str, case_name: str | None) -> list[Event]:
    cases = CASES[rule]
    case = next(c for c in cases.must_fire if case_name in (None, c.name))
    return splunk_events(case.events, cases.source_of(case))


def _later(events: list[Event], seconds: float) -> list[Event]:
    return [{**event, "_time": event["_time"] + seconds} for event in events]


@pytest.mark.parametrize(
    ("rule", "case_name"),
    [
        ("okta_session_start_via_anonymising_proxy", None),
        ("okta_source_ip_used_by_many_users", "three users from one residential address in an evening"),
    ],
)
def test_an_entity_seen_within_its_history_is_dropped_and_new_again_after_it(
    pack: RulePack, saved: Stanzas, macros: dict[str, str], lookups: Lookups, rule: str, case_name: str | None
) -> None:
    [(name, keys)] = [(n, k) for n, k in saved.items() if k.get(SEARCH_ID) == rule]
    detection, baseline = keys["search"], saved[name + BASELINE_SUFFIX]["search"]
    days = pack.get(rule).meta.first_seen.history_days  # type: ignore[union-attr]
    pack_rule = pack.get(rule)
    timespan = pack_rule.rule.timespan.seconds if pack_rule.is_correlation else 0  # type: ignore[union-attr]
    events = _events(rule, case_name)
    state = copy.deepcopy(dict(lookups))

    def fired(batch: list[Event]) -> list[Event]:
        return run(detection, batch, min(e["_time"] for e in batch) - timespan, macros, state)

    assert state["ghosthire_first_seen"] == [], "the baseline ships empty"
    assert fired(events), "new: no baseline yet"
    run(baseline, events, min(e["_time"] for e in events) - timespan, macros, state)
    [row] = state["ghosthire_first_seen"]
    assert row["search_id"] == rule and float(row["last_seen"]) <= max(e["_time"] for e in events)
    assert not fired(_later(events, 3 * DAY)), "seen 3 days before"
    assert fired(_later(events, (days + 1) * DAY)), f"last seen {days + 1} days before"
    # another search's history does not count, and the baseline keeps the other searches' rows
    state["ghosthire_first_seen"] = [{**row, "search_id": "other_rule"}]
    assert fired(_later(events, 3 * DAY))
    run(
        baseline, _later(events, 3 * DAY), min(e["_time"] for e in events) + 3 * DAY - timespan, macros, state
    )
    assert sorted(r["search_id"] for r in state["ghosthire_first_seen"]) == sorted(["other_rule", rule])
