"""The shipped ATT&CK subset (backends/elastic/attack.json) covers every technique and tactic the rules
tag, with MITRE's names, ids and tactics (checked when the bundle was cut from mitre/cti ATT&CK v18.1),
and every Kibana `threat` entry files a technique under one of its own tactics."""

from __future__ import annotations

import json
import re

from ghosthire.model.attack import attack_path, load_attack
from ghosthire.rules import RulePack

TACTIC_TAG = re.compile(r"[a-z]+(-[a-z]+)*")


def test_every_tagged_technique_and_tactic_is_in_the_bundle(pack: RulePack) -> None:
    bundle = load_attack()
    missing = []
    for pack_rule in pack.rules:
        for technique_id in pack_rule.attack_ids:
            if technique_id not in bundle.techniques:
                missing.append(f"{pack_rule.name}: technique {technique_id}")
            elif technique_id.split(".")[0] not in bundle.techniques:
                missing.append(f"{pack_rule.name}: parent of {technique_id}")
        for tag in pack_rule.rule.tags:
            if (
                tag.namespace == "attack"
                and TACTIC_TAG.fullmatch(tag.name)
                and tag.name not in bundle.tactics
            ):
                missing.append(f"{pack_rule.name}: tactic {tag.name}")
    assert not missing, "\n".join(missing)


def test_bundle_objects_are_well_formed() -> None:
    raw = json.loads(attack_path().read_text(encoding="utf-8"))
    assert "ATT&CK Terms of Use" in raw["x_ghosthire_note"] and "v18.1" in raw["x_ghosthire_note"]
    bundle = load_attack()
    assert len(bundle.tactics) == 14, "every Enterprise tactic"
    for tactic in bundle.tactics.values():
        assert re.fullmatch(r"TA\d{4}", tactic.id) and tactic.reference.endswith(tactic.id)
    for technique in bundle.techniques.values():
        assert technique.name and technique.tactics, technique.id
        assert set(technique.tactics) <= set(bundle.tactics), technique.id
        assert technique.reference == "https://attack.mitre.org/techniques/" + technique.id.replace(".", "/")
        if "." in technique.id:
            parent = bundle.techniques[technique.parent_id]
            assert set(technique.tactics) <= set(parent.tactics), (
                f"{technique.id} outside its parent's tactics"
            )
    for obj in raw["objects"]:
        assert re.fullmatch(r"(attack-pattern|x-mitre-tactic)--[0-9a-f-]{36}", obj["id"]), obj["id"]


def test_kibana_threat_entries_follow_the_bundle(kibana_rules: list[dict]) -> None:
    bundle = load_attack()
    tactic_by_id = {tactic.id: tactic for tactic in bundle.tactics.values()}
    for rule in kibana_rules:
        for threat in rule["threat"]:
            tactic = tactic_by_id[threat["tactic"]["id"]]
            assert threat["tactic"]["name"] == tactic.name
            for technique in threat["technique"]:
                known = bundle.techniques[technique["id"]]
                assert technique["name"] == known.name
                assert tactic.shortname in known.tactics, (
                    f"{rule['name']}: {known.id} is not {tactic.shortname}"
                )
                for sub in technique["subtechnique"]:
                    assert bundle.techniques[sub["id"]].name == sub["name"]
