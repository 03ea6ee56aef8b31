"""Hunt plans cached by content: the same rules hunted again give the same plan, a changed rule a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghosthire.hunt import hunt_events
from ghosthire.hunt.plan_cache import CACHE_ENV, cached_plan
from ghosthire.rules.selection import RuleSelection

RULE = """\
title: Cache test
id: 9a1d2c3e-0000-4000-8000-000000000001
name: cache_test
status: test
description: plan cache test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: EVENT
  condition: sel
level: low
"""
EVENTS = [
    {
        "eventType": "user.session.start",
        "actor": {"alternateId": "a@x.example"},
        "published": "2025-06-01T10:00:00Z",
    },
    {
        "eventType": "user.session.end",
        "actor": {"alternateId": "a@x.example"},
        "published": "2025-06-01T11:00:00Z",
    },
]


def _plan(rules: Path):  # type: ignore[no-untyped-def]
    return cached_plan(rules, require_metadata=False, strict=True, selection=RuleSelection())


def test_a_cached_plan_hunts_as_a_fresh_one_and_a_changed_rule_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = rules / "cache_test.yml"
    rule.write_text(RULE.replace("EVENT", "user.session.start"), encoding="utf-8")
    fresh = _plan(rules)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 1
    cached = _plan(rules)
    assert cached is not fresh
    assert [hit.line for hit in hunt_events(cached, EVENTS, source="okta").result.hits] == [1]
    rule.write_text(RULE.replace("EVENT", "user.session.end"), encoding="utf-8")
    changed = _plan(rules)
    assert [hit.line for hit in hunt_events(changed, EVENTS, source="okta").result.hits] == [2]
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 2


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cache_test.yml").write_text(RULE.replace("EVENT", "x"), encoding="utf-8")
    _plan(rules)
    assert not (tmp_path / ".cache").exists()
