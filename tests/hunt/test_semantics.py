"""Sigma semantics on the local engine, one small inline rule at a time.

Every case also runs through SigmaHQ's SQLite backend (tests/hunt/reference.py) on the same rows,
except where that backend has no such feature (keywords) or reads values differently by design.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ghosthire.hunt import build_plan
from ghosthire.rules import load_pack
from tests.hunt.reference import Outcome, engine_outcome, sqlite_outcome

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
BASE_RULE = """\
title: {name}
id: {id}
name: {name}
status: test
description: semantics test
logsource: {{product: okta, service: okta}}
detection:
{detection}
level: low
"""
CORRELATION_RULE = """\
title: {name}
id: {id}
name: {name}
status: test
correlation:
{correlation}
level: high
"""


def _uuid(index: int) -> str:
    return f"9a1d2c3e-0000-4000-8000-{index:012d}"


def _at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _run(tmp_path: Path, rules: dict[str, str], events: list[dict[str, Any]], reference: bool) -> Outcome:
    for name, text in rules.items():
        (tmp_path / f"{name}.yml").write_text(text, encoding="utf-8")
    pack = load_pack(tmp_path, require_metadata=False)
    timed = [{"published": _at(index), **event} for index, event in enumerate(events)]
    engine, rows = engine_outcome(build_plan(pack), [json.dumps(event) for event in timed], "okta")
    if reference:
        expected = sqlite_outcome(pack.rules, rows)
        assert engine.singles == expected.singles, "engine and SQLite backend disagree"
        assert engine.correlations == expected.correlations, "engine and SQLite backend disagree"
    return engine


def fired(
    tmp_path: Path, detection: str, events: list[dict[str, Any]], *, reference: bool = True
) -> list[int]:
    """Lines (1-based) of the events a one-rule detection matches."""
    rule = BASE_RULE.format(name="rule", id=_uuid(1), detection=detection)
    return sorted(line for _, line in _run(tmp_path, {"rule": rule}, events, reference).singles)


def windows(
    tmp_path: Path, correlation: str, events: list[dict[str, Any]]
) -> list[tuple[tuple[str, ...], str]]:
    """(group, window end) of every occurrence of a correlation over two base rules `a` and `b`."""
    rules = {
        "a": BASE_RULE.format(name="a", id=_uuid(1), detection="  sel:\n    eventType: a\n  condition: sel"),
        "b": BASE_RULE.format(name="b", id=_uuid(2), detection="  sel:\n    eventType: b\n  condition: sel"),
        "corr": CORRELATION_RULE.format(name="corr", id=_uuid(3), correlation=correlation),
    }
    occurrences = _run(tmp_path, rules, events, reference=True).correlations
    return sorted(
        (group, datetime.fromtimestamp(end, UTC).strftime("%H:%M"))
        for name, group, end in occurrences
        if name == "corr"
    )


def selection(field_spec: str, value: str) -> str:
    return f"  sel:\n    {field_spec}: {value}\n  condition: sel"


# -- strings ----------------------------------------------------------------------------------


def test_string_equality_is_case_insensitive(tmp_path: Path) -> None:
    events = [
        {"eventType": "user.session.start"},
        {"eventType": "USER.SESSION.START"},
        {"eventType": "user.session"},
    ]
    assert fired(tmp_path, selection("eventType", "User.Session.Start"), events) == [1, 2]


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("contains", "SESSION", [1, 2]),
        ("startswith", "USER.", [1, 2]),
        ("endswith", ".START", [1]),
    ],
)
def test_contains_startswith_endswith_ignore_case(
    tmp_path: Path, modifier: str, value: str, expected: list[int]
) -> None:
    events = [
        {"eventType": "user.session.start"},
        {"eventType": "User.Session.End"},
        {"eventType": "app.login"},
    ]
    assert fired(tmp_path, selection(f"eventType|{modifier}", value), events) == expected


def test_wildcards_star_and_question_mark(tmp_path: Path) -> None:
    events = [
        {"eventType": "user.session.start"},
        {"eventType": "user.x.start"},
        {"eventType": "user..start"},
    ]
    assert fired(tmp_path, selection("eventType", "'user.*.start'"), events) == [1, 2, 3]
    assert fired(tmp_path, selection("eventType", "'user.?.start'"), events) == [2]


def test_escaped_wildcard_is_literal(tmp_path: Path) -> None:
    events = [{"name": "report*.pdf"}, {"name": "report1.pdf"}]
    assert fired(tmp_path, selection("name", r"'report\*.pdf'"), events) == [1]


@pytest.mark.parametrize(
    ("value", "matching", "other"),
    [
        ("'100%'", "100%", "1000"),
        ("a_b", "a_b", "axb"),
        (r"'C:\Temp\x'", "C:\\Temp\\x", "C:Tempx"),
        ('"O\'Brien"', "O'Brien", "OBrien"),
        ('"x\' OR 1=1 --"', "x' OR 1=1 --", "anything"),
    ],
)
def test_sql_special_characters_are_literal(tmp_path: Path, value: str, matching: str, other: str) -> None:
    events = [{"name": matching}, {"name": other}, {"name": matching.upper()}]
    assert fired(tmp_path, selection("name", value), events) == [1, 3]


def test_value_lists_fold_into_one_pattern_with_the_same_meaning(tmp_path: Path) -> None:
    detection = selection("image|endswith", r"['\a.exe', '\b?.exe', '\c*.exe', 'X%_']")
    events = [
        {"image": r"C:\A.EXE"},
        {"image": r"C:\b1.exe"},
        {"image": r"C:\b.exe"},
        {"image": r"C:\cool.tool.exe"},
        {"image": r"C:\xa.exe"},
        {"image": "strange x%_"},
        {"image": "strange xy_"},
    ]
    assert fired(tmp_path, detection, events) == [1, 2, 4, 6]


def test_cased_modifier_is_case_sensitive(tmp_path: Path) -> None:
    events = [{"eventType": "User.Login"}, {"eventType": "user.login"}]
    assert fired(tmp_path, selection("eventType|cased", "User.Login"), events) == [1]


def test_contains_all(tmp_path: Path) -> None:
    events = [{"cmd": "net user x /add"}, {"cmd": "net user x"}, {"cmd": "NET LOCALGROUP /ADD USER"}]
    assert fired(tmp_path, selection("cmd|contains|all", "['user', '/add']"), events) == [1, 3]


def test_cidr_v4(tmp_path: Path) -> None:
    events = [{"ip": "10.1.2.3"}, {"ip": "100.1.2.3"}, {"ip": "192.168.1.5"}, {"ip": "192.168.1.200"}]
    assert fired(tmp_path, selection("ip|cidr", "['10.0.0.0/8', '192.168.1.0/25']"), events) == [1, 3]


def test_regular_expressions_are_case_sensitive_unless_i(tmp_path: Path) -> None:
    events = [{"user": "Admin7"}, {"user": "admin7"}, {"user": "xAdmin7"}]
    assert fired(tmp_path, selection("user|re", "'^Adm[a-z]+[0-9]$'"), events) == [1]
    assert fired(tmp_path, selection("user|re|i", "'^Adm[a-z]+[0-9]$'"), events) == [1, 2]
    assert fired(tmp_path, selection("user|re", "'Adm'"), events) == [1, 3]


# -- presence, null, numbers, booleans ----------------------------------------------------------


def test_exists(tmp_path: Path) -> None:
    events = [{"token": "abc"}, {"token": ""}, {"token": None}, {}]
    assert fired(tmp_path, selection("token|exists", "true"), events) == [1, 2]
    assert fired(tmp_path, selection("token|exists", "false"), events) == [3, 4]


def test_null_means_missing_or_null_and_empty_means_empty(tmp_path: Path) -> None:
    events = [{"token": "abc"}, {"token": ""}, {"token": None}, {}]
    assert fired(tmp_path, selection("token", "null"), events) == [3, 4]
    assert fired(tmp_path, selection("token", "''"), events) == [2]


def test_numbers_match_numbers_and_their_text(tmp_path: Path) -> None:
    events = [{"count": 5}, {"count": "5"}, {"count": 50}, {"count": "05x"}]
    assert fired(tmp_path, selection("count", "5"), events) == [1, 2]


@pytest.mark.parametrize(
    ("modifier", "expected"), [("gt", [3, 4]), ("gte", [2, 3, 4]), ("lt", [1]), ("lte", [1, 2])]
)
def test_numeric_comparisons_are_numeric(tmp_path: Path, modifier: str, expected: list[int]) -> None:
    events = [{"size": 3}, {"size": "9"}, {"size": 10}, {"size": "100"}]
    assert fired(tmp_path, selection(f"size|{modifier}", "9"), events) == expected


def test_numeric_comparison_skips_text(tmp_path: Path) -> None:
    # SQLite compares a text column as text, so only the engine is asked here.
    assert fired(tmp_path, selection("size|gt", "9"), [{"size": "abc"}, {"size": 12}], reference=False) == [2]


def test_booleans_match_json_booleans_and_text(tmp_path: Path) -> None:
    events = [{"flag": True}, {"flag": "true"}, {"flag": "True"}, {"flag": False}, {}]
    assert fired(tmp_path, selection("flag", "true"), events) == [1, 2, 3]
    assert fired(tmp_path, selection("flag", "false"), events) == [4]


def test_not_over_a_missing_field_is_true(tmp_path: Path) -> None:
    detection = "  sel:\n    eventType: login\n  filter:\n    via: vpn\n  condition: sel and not filter"
    events = [
        {"eventType": "login"},
        {"eventType": "login", "via": "vpn"},
        {"eventType": "login", "via": "office"},
    ]
    assert fired(tmp_path, detection, events) == [1, 3]


def test_keywords_match_anywhere_in_the_record(tmp_path: Path) -> None:
    # The SQLite backend has no keyword search.
    detection = "  keywords:\n    - 'EVIL.exe'\n  condition: keywords"
    events = [{"cmd": "run evil.exe now"}, {"nested": {"deep": ["evil.exe"]}}, {"cmd": "good.exe"}]
    assert fired(tmp_path, detection, events, reference=False) == [1, 2]


def test_dotted_fields_read_nested_objects_and_flattened_keys(tmp_path: Path) -> None:
    events = [
        {"actor": {"alternateId": "a@example.com"}},
        {"actor.alternateId": "A@example.com"},
        {"actor": {"alternateId": "b@example.com"}},
        {"actor": "a@example.com"},
    ]
    assert fired(tmp_path, selection("actor.alternateId", "a@example.com"), events) == [1, 2]


def test_array_elements_by_index(tmp_path: Path) -> None:
    events = [{"events": [{"name": "download"}]}, {"events": [{"name": "view"}, {"name": "download"}]}]
    assert fired(tmp_path, selection("events.0.name", "download"), events, reference=False) == [1]


# -- correlations on true sliding windows ------------------------------------------------------


def _events(*items: tuple[str, float, str]) -> list[dict[str, Any]]:
    """(eventType, minute, user) in the order given: the file order need not be the time order."""
    return [{"eventType": kind, "published": _at(minute), "user": user} for kind, minute, user in items]


EVENT_COUNT = """\
  type: event_count
  rules: [a]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3}"""


def test_event_count_sliding_window_catches_a_burst_across_a_bucket_edge(tmp_path: Path) -> None:
    # 09:58, 09:59, 10:01: fixed 10-minute buckets split them 2 + 1; a sliding window holds all three.
    burst = _events(("a", 58, "Alice"), ("a", 59, "alice"), ("a", 61, "ALICE"))
    assert windows(tmp_path, EVENT_COUNT, burst) == [(("alice",), "10:01")]


def test_event_count_below_threshold_or_spread_out_does_not_fire(tmp_path: Path) -> None:
    assert windows(tmp_path, EVENT_COUNT, _events(("a", 58, "u"), ("a", 61, "u"), ("b", 62, "u"))) == []
    assert windows(tmp_path, EVENT_COUNT, _events(("a", 0, "u"), ("a", 6, "u"), ("a", 11, "u"))) == []
    assert windows(tmp_path, EVENT_COUNT, _events(("a", 58, "u"), ("a", 59, "v"), ("a", 61, "w"))) == []


def test_event_count_every_qualifying_window_is_an_occurrence(tmp_path: Path) -> None:
    burst = _events(("a", 0, "u"), ("a", 2, "u"), ("a", 4, "u"), ("a", 9, "u"), ("a", 30, "u"))
    assert windows(tmp_path, EVENT_COUNT, burst) == [(("u",), "09:04"), (("u",), "09:09")]


VALUE_COUNT = """\
  type: value_count
  rules: [a]
  group-by: [user]
  timespan: 1h
  condition: {gte: 2, field: country}"""


def test_value_count_counts_distinct_values_case_insensitively(tmp_path: Path) -> None:
    def signins(*items: tuple[float, str]) -> list[dict[str, Any]]:
        return [{"eventType": "a", "published": _at(m), "user": "u", "country": c} for m, c in items]

    assert windows(tmp_path, VALUE_COUNT, signins((50, "US"), (70, "KP"))) == [(("u",), "10:10")]
    assert windows(tmp_path, VALUE_COUNT, signins((50, "US"), (70, "us"), (80, "Us"))) == []
    assert windows(tmp_path, VALUE_COUNT, signins((0, "US"), (61, "KP"))) == []


TEMPORAL = """\
  type: temporal
  rules: [a, b]
  group-by: [user]
  timespan: 5m
  condition: {gte: 2}"""


def test_temporal_needs_every_rule_in_the_window_in_any_order(tmp_path: Path) -> None:
    assert windows(tmp_path, TEMPORAL, _events(("b", 58, "u"), ("a", 61, "u"))) == [(("u",), "10:01")]
    assert windows(tmp_path, TEMPORAL, _events(("a", 58, "u"), ("a", 61, "u"))) == []
    assert windows(tmp_path, TEMPORAL, _events(("a", 50, "u"), ("b", 58, "u"))) == []


ORDERED = """\
  type: temporal_ordered
  rules: [a, b]
  group-by: [user]
  timespan: 5m
  condition: {gte: 2}"""


def test_temporal_ordered_needs_the_rules_in_order_by_time_not_by_file_order(tmp_path: Path) -> None:
    # b is first in the file but a happened first.
    assert windows(tmp_path, ORDERED, _events(("b", 62, "u"), ("a", 59, "u"))) == [(("u",), "10:02")]
    assert windows(tmp_path, ORDERED, _events(("b", 59, "u"), ("a", 62, "u"))) == []
    assert windows(tmp_path, ORDERED, _events(("a", 50, "u"), ("b", 59, "u"))) == []
