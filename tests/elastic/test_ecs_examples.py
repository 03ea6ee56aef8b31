"""ghosthire's Elastic mapping sends each raw field where the Elastic integration puts it, with the value
it stores there (facts from elastic/integrations in fixtures/ecs_examples/, see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sigma.rule import SigmaLogSource

from ghosthire.elastic.ecs import get_path, set_path, to_ecs
from ghosthire.model.sources import source_by_id

EXAMPLES = Path(__file__).parent / "fixtures" / "ecs_examples"
KEYS = {"raw_path", "raw_value", "ecs_field", "ecs_value", "source_file", "logsource", "source"}
FACTS = [
    pytest.param(fact, id=f"{path.stem}:{fact['raw_path']}={fact['raw_value']!r}->{fact['ecs_field']}")
    for path in sorted(EXAMPLES.glob("*.json"))
    for fact in json.loads(path.read_text(encoding="utf-8"))
]
PACKAGES = {
    "okta_system",
    "azure_signinlogs",
    "github_audit",
    "google_workspace_login",
    "google_workspace_drive",
    "o365_audit",
    "windows_sysmon_operational",
    "system_security",
    "zeek_dns",
}


def test_every_source_has_facts() -> None:
    assert {path.stem for path in EXAMPLES.glob("*.json")} == PACKAGES


@pytest.mark.parametrize("fact", FACTS)
def test_raw_field_lands_where_the_integration_puts_it(fact: dict[str, Any]) -> None:
    assert fact.keys() >= KEYS, f"incomplete fact: {fact}"
    assert fact["source_file"].startswith("elastic/integrations:packages/")
    record: dict[str, Any] = {}
    set_path(record, fact["raw_path"], fact["raw_value"])
    document = to_ecs(record, SigmaLogSource.from_dict(fact["logsource"]), source_by_id(fact["source"]))
    assert get_path(document, fact["ecs_field"]) == fact["ecs_value"], json.dumps(document, indent=1)
