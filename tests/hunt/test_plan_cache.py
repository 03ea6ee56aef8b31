"""Hunt plans cached by content: the same rules hunted again give the same plan, a changed rule a new one,
in which only the changed rule is compiled again; a cached plan holds no detections."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghosthire.hunt import hunt_events, plan
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


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty rule directory, the plan cache kept in this test's own folder."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    directory = tmp_path / "rules"
    directory.mkdir()
    return directory


def test_a_cached_plan_hunts_as_a_fresh_one_and_a_changed_rule_is_compiled_again(
    tmp_path: Path, rules: Path
) -> None:
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


def test_a_rule_added_to_a_directory_is_the_only_one_compiled(
    rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (rules / "start.yml").write_text(RULE.replace("EVENT", "user.session.start"), encoding="utf-8")
    _plan(rules)
    compiled: list[str] = []

    def compile_target(pack, target, **options):  # type: ignore[no-untyped-def]
        compiled.extend(rule.name for rule in pack.rules)
        return original_compile(pack, target, **options)

    original_compile = plan.compile_target
    monkeypatch.setattr(plan, "compile_target", compile_target)
    added = RULE.replace("EVENT", "user.session.end").replace("cache_test", "cache_test_end")
    (rules / "end.yml").write_text(added.replace("000000000001", "000000000002"), encoding="utf-8")
    both = _plan(rules)
    assert compiled == ["cache_test_end"]
    hits = hunt_events(both, EVENTS, source="okta").result.hits
    assert sorted((hit.detection.rule.name, hit.line) for hit in hits) == [
        ("cache_test", 1),
        ("cache_test_end", 2),
    ]


def test_a_cached_plan_keeps_what_alerts_read_and_not_the_detections(rules: Path) -> None:
    (rules / "cache_test.yml").write_text(RULE.replace("EVENT", "x"), encoding="utf-8")
    fresh = _plan(rules).detections[0]
    cached = _plan(rules).detections[0]
    assert fresh.rule.rule.detection is not None and cached.rule.rule.detection is None
    assert (cached.rule.title, cached.rule.level, cached.rule.name, cached.query) == (
        fresh.rule.title,
        fresh.rule.level,
        fresh.rule.name,
        fresh.query,
    )


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cache_test.yml").write_text(RULE.replace("EVENT", "x"), encoding="utf-8")
    _plan(rules)
    assert not (tmp_path / ".cache").exists()
