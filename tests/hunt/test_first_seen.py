"""First-seen rules in the local hunt: an entity's alert is kept only when the entity has not raised the
same rule within the rule's history before it; other rules and other entities are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ghosthire.hunt import hunt_event_sets, hunt_events
from ghosthire.rules import RulePack
from tests.conftest import shipped_pack
from tests.hunt.packs import PROXY_SESSION, RuleSpec, write_pack

START = datetime(2025, 6, 1, 9, tzinfo=UTC)


def _pack(tmp_path: Path) -> RulePack:
    rules = {
        "proxied_first_seen": RuleSpec(**{**vars(PROXY_SESSION), "first_seen_days": 14}),
        "proxied_every_time": PROXY_SESSION,
    }
    return write_pack(tmp_path / "rules", rules, "5e1f0c3a-0000-4000-8000-000000000")


def _session(user: str, days: float, country: str = "United States") -> dict:
    at = START + timedelta(days=days)
    return {
        "client": {"geographicalContext": {"country": country}},
        "uuid": f"{user}-{days}",
        "published": at.isoformat().replace("+00:00", "Z"),
        "eventType": "user.session.start",
        "actor": {"alternateId": user, "type": "User"},
        "outcome": {"result": "SUCCESS"},
        "securityContext": {"isProxy": True},
    }


def _alerted(outcome, rule: str) -> list[tuple[str, str]]:
    return [(a.entity, a.time.date().isoformat()) for a in outcome.alerts if a.rule.name == rule]


def test_alerts_only_when_the_entity_was_not_seen_within_the_history(tmp_path: Path) -> None:
    events = [_session("dana@example.com", day) for day in (0, 1, 3, 20)] + [_session("erin@example.com", 2)]
    outcome = hunt_events(_pack(tmp_path), events)
    # Day 1 and 3 repeat day 0; day 20 is 17 days after the last one (day 3); erin is new.
    assert _alerted(outcome, "proxied_first_seen") == [
        ("dana@example.com", "2025-06-01"),
        ("erin@example.com", "2025-06-03"),
        ("dana@example.com", "2025-06-21"),
    ]
    assert len(_alerted(outcome, "proxied_every_time")) == 5


def test_entities_compare_case_insensitively(tmp_path: Path) -> None:
    events = [_session("Dana@Example.com", 0), _session("dana@example.com", 1)]
    assert len(_alerted(hunt_events(_pack(tmp_path), events), "proxied_first_seen")) == 1


def test_independent_event_sets_keep_their_own_baseline(tmp_path: Path) -> None:
    """hunt_event_sets runs independent cases in one engine: one case's alert is no history for another."""
    sets = {"case-a": [_session("dana@example.com", 0)], "case-b": [_session("dana@example.com", 1)]}
    outcome = hunt_event_sets(_pack(tmp_path), sets)
    assert len(_alerted(outcome, "proxied_first_seen")) == 2


def test_identity_checked_rules_baseline_only_what_they_raised() -> None:
    """A sign-in at home is no country alert, so it is no history: the first sign-in abroad still alerts
    (the example company's jordan.smith works in the US), the next one abroad is known."""
    rule = "okta_signin_country_differs_from_work_country"
    pack = shipped_pack().subset([rule])
    events = [
        {
            **_session("jordan.smith@acme-corp.com", day),
            "client": {"geographicalContext": {"country": country}},
        }
        for day, country in ((0, "United States"), (1, "China"), (2, "China"))
    ]
    assert _alerted(hunt_events(pack, events), rule) == [("jordan.smith@acme-corp.com", "2025-06-02")]


def test_first_seen_fields_make_each_value_new_for_the_entity(tmp_path: Path) -> None:
    """`first_seen.fields`: the entity's first time with each value (a user's new country) alerts."""
    spec = RuleSpec(
        **{
            **vars(PROXY_SESSION),
            "first_seen_days": 14,
            "first_seen_fields": ("client.geographicalContext.country",),
        }
    )
    pack = write_pack(tmp_path / "rules", {"proxied_new_country": spec}, "5e1f0c3a-0000-4000-8000-000000001")
    events = [
        _session("dana@example.com", 0),
        _session("dana@example.com", 1, "China"),
        _session("dana@example.com", 2),
        _session("dana@example.com", 3, "China"),
        _session("erin@example.com", 4, "China"),
    ]
    assert _alerted(hunt_events(pack, events), "proxied_new_country") == [
        ("dana@example.com", "2025-06-01"),
        ("dana@example.com", "2025-06-02"),
        ("erin@example.com", "2025-06-05"),
    ]
