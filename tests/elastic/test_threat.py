"""Every Kibana `threat` entry files a technique under one of its own tactics, with MITRE's names."""

from __future__ import annotations

from ghosthire.model.attack import load_attack


def test_kibana_threat_entries_follow_the_table(kibana_rules: list[dict]) -> None:
    table = load_attack()
    tactic_by_id = {tactic.id: tactic for tactic in table.tactics.values()}
    assert sum(len(rule["threat"]) for rule in kibana_rules) > 50, "the rules carry threat entries"
    for rule in kibana_rules:
        for threat in rule["threat"]:
            tactic = tactic_by_id[threat["tactic"]["id"]]
            assert threat["tactic"]["name"] == tactic.name
            for technique in threat["technique"]:
                known = table.techniques[technique["id"]]
                assert technique["name"] == known.name
                assert tactic.shortname in known.tactics, (
                    f"{rule['name']}: {known.id} is not {tactic.shortname}"
                )
                for sub in technique["subtechnique"]:
                    assert table.techniques[sub["id"]].name == sub["name"]
