"""The two recognisers of a record's log source, Python's `detect_source` and the hunt engine's SQL, agree
on every raw event of the detection tests, nested or with dotted keys flattened, in any case; so do the two
readers of a value inside JSON text."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import duckdb

from ghosthire.hunt import HuntPlan, hunt_events
from ghosthire.hunt.extract import text_field_sql
from ghosthire.model.sources import detect_source, source_by_id
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


def _details(phone: Any) -> str:
    return json.dumps([{"PhoneNumber": phone, "AlternativePhoneNumber": None, "Email": None}])


TEXT_FIELD_ITEMS = [
    [
        {
            "displayName": "StrongAuthenticationUserDetails",
            "oldValue": "[]",
            "newValue": _details("+1 (425) 555-0100"),
        }
    ],
    [
        {"displayName": "Included Updated Properties", "newValue": '"StrongAuthenticationUserDetails"'},
        {
            "displayName": "StrongAuthenticationUserDetails",
            "oldValue": _details("+1 4255550199"),
            "newValue": _details("+44 7700 900123"),
        },
    ],
    [{"displayName": "StrongAuthenticationUserDetails", "newValue": _details(None)}],
    [{"displayName": "StrongAuthenticationUserDetails", "newValue": _details("no digits")}],
    [{"displayName": "StrongAuthenticationUserDetails", "newValue": "[{not json"}],
    [{"displayName": "StrongAuthenticationUserDetails", "newValue": 42}],
    [{"displayName": "StrongAuthenticationPhoneAppDetail", "newValue": _details("+1 4255550100")}],
    [{"displayName": "STRONGAUTHENTICATIONUSERDETAILS", "newValue": _details("+1 4255550100")}],
    ["StrongAuthenticationUserDetails", None, {"displayName": None}],
    [],
]


def test_sql_and_python_read_the_same_text_field() -> None:
    """The engine's SQL for a value inside JSON text (extract.text_field_sql) gives what TextField.read
    gives, on the real shape and on text that is missing, null, not JSON or not the property."""
    text_field = source_by_id("entra_audit").text_fields["mfaPhoneNumber"]
    expected = [text_field.read(items) for items in TEXT_FIELD_ITEMS]
    assert expected[:2] == ["14255550100", "447700900123"] and set(expected[2:]) == {None}
    sql = text_field_sql(text_field, "items")
    rows = duckdb.sql(
        f"SELECT {sql} FROM (SELECT unnest(?::VARCHAR[]) AS items, generate_subscripts(?::VARCHAR[], 1) AS n) ORDER BY n",
        params=[[json.dumps(items) for items in TEXT_FIELD_ITEMS]] * 2,
    ).fetchall()
    assert [row[0] for row in rows] == expected
