"""The Kibana NDJSON: importable shape, consistent severity, known ATT&CK ids, required fields, valid EQL,
escaping."""

from __future__ import annotations

from pathlib import Path

from ghosthire.elastic.backends import GhosthireEqlBackend, GhosthireEsqlBackend, GhosthireLuceneBackend
from ghosthire.elastic.exceptions import run_time_filters, tuning_table
from ghosthire.elastic.fields import field_type, is_ecs_field
from ghosthire.elastic.indices import load_index_table
from ghosthire.elastic.kibana import load_settings
from ghosthire.elastic.persons import PERSON_RULE_ID
from ghosthire.model.attack import load_attack
from tests.elastic.engines import parse_eql
from tests.elastic.lucene_eval import parse_lucene

REQUIRED = {
    "rule_id",
    "name",
    "description",
    "type",
    "language",
    "query",
    "from",
    "interval",
    "severity",
    "risk_score",
    "threat",
    "version",
    "enabled",
    "max_signals",
    "note",
    "tags",
    "required_fields",
}


def test_rules_are_complete_and_unique(kibana_rules: list[dict]) -> None:
    assert kibana_rules
    assert len({rule["rule_id"] for rule in kibana_rules}) == len(kibana_rules)
    levels = load_settings().levels
    bundle = load_attack()
    tactic_ids = {tactic.id for tactic in bundle.tactics.values()}
    for rule in kibana_rules:
        assert rule.keys() >= REQUIRED, rule["name"]
        assert rule["enabled"] is False
        assert {"severity": rule["severity"], "risk_score": rule["risk_score"]} in [
            level.model_dump() for level in levels.values()
        ]
        assert (rule["type"] != "esql") == ("index" in rule), (
            "EQL and new terms rules name indices; ES|QL uses FROM"
        )
        if any(tag.startswith("Sigma: ") for tag in rule["tags"]):  # a pack rule: the policy wants ATT&CK
            assert rule["threat"] and all(threat["technique"] for threat in rule["threat"]), rule["name"]
        for threat in rule["threat"]:
            assert threat["tactic"]["id"] in tactic_ids
            for technique in threat["technique"]:
                assert technique["id"] in bundle.techniques
                assert all(sub["id"] in bundle.techniques for sub in technique["subtechnique"])


def test_required_fields_name_what_the_query_reads(kibana_rules: list[dict]) -> None:
    """Every rule lists the ECS fields its query reads, each with its type and ECS flag."""
    assert kibana_rules
    for rule in kibana_rules:
        required = rule["required_fields"]
        assert required, rule["name"]
        names = [entry["name"] for entry in required]
        assert names == sorted(set(names)), rule["name"]
        for entry in required:
            assert entry.keys() == {"name", "type", "ecs"}, entry
            assert entry["type"] == field_type(entry["name"]) and entry["ecs"] is is_ecs_field(entry["name"])
            keyed = entry["name"] in rule.get("new_terms_fields", [])
            assert keyed or entry["name"] in rule["query"], (
                f"{rule['name']}: {entry['name']} not in the query"
            )


def test_every_eql_rule_parses(kibana_rules: list[dict]) -> None:
    eql_rules = [rule for rule in kibana_rules if rule["type"] == "eql"]
    assert len(eql_rules) > 10
    for rule in eql_rules:
        parse_eql(rule["query"])


def _one_rule(value: str):
    from sigma.collection import SigmaCollection

    from ghosthire.compile import load_targets

    yaml_text = f"""
title: injection
id: 6b1f3d2e-8c4a-4f5e-9d7a-1a2b3c4d5e6f
logsource: {{product: okta, service: okta}}
detection:
  sel:
    eventType: '{value}'
  condition: sel
"""
    targets = {target.id: target for target in load_targets()}
    queries = {}
    for backend_class, target_id in (
        (GhosthireEqlBackend, "eql"),
        (GhosthireEsqlBackend, "esql"),
        (GhosthireLuceneBackend, "lucene"),
    ):
        rule = SigmaCollection.from_yaml(yaml_text).rules[0]
        queries[target_id] = backend_class(processing_pipeline=targets[target_id].pipeline()).convert_rule(
            rule
        )[0]
    return queries


def _eql_strings(node) -> list[str]:
    """Every string literal of a parsed EQL query."""
    if type(node).__name__ == "String":
        return [node.value]
    slots = node.iter_slots() if hasattr(node, "iter_slots") else []
    children = [
        child for _, value in slots for child in (value if isinstance(value, list | tuple) else [value])
    ]
    return [text for child in children for text in _eql_strings(child)]


def test_special_characters_stay_one_value() -> None:
    value = 'a"b\\\\c\\*d:e or f'
    literal = 'a"b\\c*d:e or f'
    queries = _one_rule(value)
    eql_query = parse_eql(queries["eql"])
    assert literal in _eql_strings(eql_query), queries["eql"]
    lucene = parse_lucene(queries["lucene"])
    assert " OR " not in str(lucene).replace(r"\ ", ""), queries["lucene"]
    from tests.elastic.lucene_eval import matches

    document = {"event": {"dataset": "okta.system", "action": literal.upper()}}
    assert matches(lucene, document)
    assert matches(lucene, {**document, "event": {**document["event"], "action": literal}})
    assert not matches(lucene, {**document, "event": {**document["event"], "action": "a"}})
    from tests.elastic.test_lucene_and_esql import parse_esql

    assert parse_esql(queries["esql"]) == 0
    assert '== "a\\"b\\\\c*d:e or f"' in queries["esql"], queries["esql"]


def test_rules_carry_what_elastic_prebuilt_rules_carry(kibana_rules: list[dict], pack) -> None:
    """related_integrations, setup apart from the note, detection-rules' tags, readable schedules, and
    alert suppression on the correlations (one alert per group a day, as on Splunk)."""
    settings = load_settings()
    schedules = {
        *settings.correlation.schedules,
        settings.single_event.interval,
        settings.person_risk.interval,
    }
    packages = {i.package for entry in load_index_table() for i in entry.integrations}
    for rule in kibana_rules:
        name = rule["name"]
        assert rule["interval"] in schedules, f"{name}: {rule['interval']}"
        prefixes = {tag.split(": ", 1)[0] for tag in rule["tags"] if ": " in tag}
        assert {"Domain", "Use Case", "Resources"} <= prefixes, name
        tactics = {f"Tactic: {entry['tactic']['name']}" for entry in rule["threat"]}
        assert tactics <= set(rule["tags"]), name
        assert all(i["package"] in packages and i["version"] for i in rule["related_integrations"]), name
        if rule["rule_id"] == PERSON_RULE_ID:
            continue
        pack_rule = pack.get(rule["rule_id"])
        assert "Data Source" in prefixes, name
        assert rule["setup"].startswith("## Setup") and pack_rule.meta.implementation.strip() in rule["setup"]
        assert pack_rule.meta.implementation.strip() not in rule["note"], (
            f"{name}: setup repeated in the note"
        )
        assert ("Rule Type: BBR" in rule["tags"]) == ("building_block_type" in rule), name
        group_by = getattr(pack_rule.rule, "group_by", None)
        if rule["type"] == "esql" and group_by:
            suppression = rule["alert_suppression"]
            assert len(suppression["group_by"]) == min(3, len(group_by)), name
            first_seen = pack_rule.meta.first_seen
            hours = first_seen.history_days * 24 if first_seen else 24
            assert suppression["duration"] == {"value": hours, "unit": "h"}, name
        elif rule["type"] in ("eql", "new_terms"):
            assert "alert_suppression" not in rule, f"{name}: per-event rules alert once per event or term"
    with_integrations = [rule for rule in kibana_rules if rule["related_integrations"]]
    assert len(with_integrations) >= 60
    late = [rule for rule in kibana_rules if rule.get("timestamp_override")]
    assert late and all(
        rule["timestamp_override"] == "event.ingested" and rule["type"] != "esql" for rule in late
    )
    okta = [rule for rule in kibana_rules if "Data Source: Okta" in rule["tags"] and rule["type"] != "esql"]
    assert okta and all(rule.get("timestamp_override") for rule in okta), (
        "the Okta API is polled: read late events"
    )


def test_the_docs_say_per_rule_which_tuning_is_run_time(kibana_rules: list[dict], pack) -> None:
    """docs/elastic.md lists every rule Kibana tunes with an exception list; the rules carry those lists."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "elastic.md").read_text(encoding="utf-8")
    assert tuning_table(pack) in docs, "regenerate the table: python -m ghosthire.elastic.exceptions"
    attached = {rule["rule_id"]: [ref["list_id"] for ref in rule["exceptions_list"]] for rule in kibana_rules}
    runtime_filters = run_time_filters(pack)
    assert runtime_filters, "the pack has run-time filters"
    for runtime in runtime_filters:
        for name in runtime.rules:
            assert runtime.list_id in attached[pack.get(name).id], name
