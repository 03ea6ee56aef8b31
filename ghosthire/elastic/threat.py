"""Kibana `threat` entries from a rule's ATT&CK tags, filed under the tactics the ATT&CK table gives them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ghosthire.model.attack import AttackTable, Tactic, Technique, load_attack

FRAMEWORK = "MITRE ATT&CK"


class ThreatSubtechnique(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    reference: str


class ThreatTechnique(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    reference: str
    subtechnique: list[ThreatSubtechnique] = []


class ThreatTactic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    name: str
    reference: str


class Threat(BaseModel):
    """One element of a Kibana rule's `threat` array."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    framework: str = FRAMEWORK
    tactic: ThreatTactic
    technique: list[ThreatTechnique] = []


def threat_entries(tactic_tags: list[str], technique_ids: list[str]) -> list[Threat]:
    """Techniques grouped under the tagged tactics they belong to (all their tactics when none is tagged)."""
    table = load_attack()
    grouped: dict[str, dict[str, list[Technique]]] = {}
    for technique_id in technique_ids:
        technique = table.technique(technique_id)
        tagged = [tactic for tactic in technique.tactics if tactic in tactic_tags]
        for tactic in tagged or technique.tactics:
            grouped.setdefault(tactic, {}).setdefault(technique.parent_id, []).append(technique)
    for tactic in tactic_tags:
        grouped.setdefault(tactic, {})
    ordered = [shortname for shortname in table.tactics if shortname in grouped]
    return [_threat(table, table.tactics[shortname], grouped[shortname]) for shortname in ordered]


def _threat(table: AttackTable, tactic: Tactic, by_parent: dict[str, list[Technique]]) -> Threat:
    techniques = []
    for parent_id in sorted(by_parent):
        parent = table.technique(parent_id)
        subs = sorted(
            {t.id: t for t in by_parent[parent_id] if t.id != parent_id}.values(), key=lambda t: t.id
        )
        techniques.append(
            ThreatTechnique(
                id=parent.id,
                name=parent.name,
                reference=parent.reference,
                subtechnique=[ThreatSubtechnique(id=s.id, name=s.name, reference=s.reference) for s in subs],
            )
        )
    return Threat(
        tactic=ThreatTactic(id=tactic.id, name=tactic.name, reference=tactic.reference), technique=techniques
    )
