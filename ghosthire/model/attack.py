"""Kibana `threat` entries from a rule's ATT&CK tags, from the shipped subset backends/elastic/attack.json.

ATT&CK ids, names and tactic assignments are public facts of MITRE ATT&CK (c) The MITRE Corporation,
used under the ATT&CK Terms of Use. Nothing is downloaded; a technique missing from the bundle is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError

FRAMEWORK = "MITRE ATT&CK"


@dataclass(frozen=True)
class Tactic:
    id: str
    name: str
    shortname: str
    reference: str


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]
    reference: str

    @property
    def parent_id(self) -> str:
        return self.id.split(".")[0]


@dataclass(frozen=True)
class AttackBundle:
    tactics: dict[str, Tactic]
    techniques: dict[str, Technique]

    def technique(self, technique_id: str) -> Technique:
        try:
            return self.techniques[technique_id]
        except KeyError:
            raise ContentError(
                attack_path(), f"ATT&CK technique {technique_id} is not in the bundle"
            ) from None


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


def attack_path() -> Path:
    return backends_dir() / "elastic" / "attack.json"


@cache
def load_attack(path: Path | None = None) -> AttackBundle:
    path = path or attack_path()
    try:
        objects = json.loads(path.read_text(encoding="utf-8"))["objects"]
    except (OSError, ValueError, KeyError) as error:
        raise ContentError(path, f"invalid ATT&CK bundle: {error}") from None
    tactics = {
        obj["x_mitre_shortname"]: Tactic(_external_id(obj), obj["name"], obj["x_mitre_shortname"], _url(obj))
        for obj in objects
        if obj["type"] == "x-mitre-tactic"
    }
    techniques = {
        _external_id(obj): Technique(
            _external_id(obj),
            obj["name"],
            tuple(phase["phase_name"] for phase in obj["kill_chain_phases"]),
            _url(obj),
        )
        for obj in objects
        if obj["type"] == "attack-pattern"
    }
    return AttackBundle(tactics, techniques)


def threat_entries(tactic_tags: list[str], technique_ids: list[str]) -> list[Threat]:
    """Techniques grouped under the tagged tactics they belong to (all their tactics when none is tagged)."""
    bundle = load_attack()
    grouped: dict[str, dict[str, list[Technique]]] = {}
    for technique_id in technique_ids:
        technique = bundle.technique(technique_id)
        tagged = [tactic for tactic in technique.tactics if tactic in tactic_tags]
        for tactic in tagged or technique.tactics:
            grouped.setdefault(tactic, {}).setdefault(technique.parent_id, []).append(technique)
    for tactic in tactic_tags:
        grouped.setdefault(tactic, {})
    ordered = [shortname for shortname in bundle.tactics if shortname in grouped]
    return [_threat(bundle, bundle.tactics[shortname], grouped[shortname]) for shortname in ordered]


def _threat(bundle: AttackBundle, tactic: Tactic, by_parent: dict[str, list[Technique]]) -> Threat:
    techniques = []
    for parent_id in sorted(by_parent):
        parent = bundle.technique(parent_id)
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


def _external_id(obj: dict) -> str:
    return obj["external_references"][0]["external_id"]


def _url(obj: dict) -> str:
    return obj["external_references"][0]["url"]
