"""Small rule packs written on the fly for hunt tests: one Sigma rule per spec, with pack metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ghosthire.rules import RulePack, load_pack

RULE = """\
title: {title}
id: {id}
name: {name}
status: test
description: written by a hunt test
logsource: {logsource}
detection:
  sel:
    {selection}
  condition: sel
level: {level}
guidance: [{guidance}]
risk: {{entity: {entity}, field: {field}, score: {score}}}
implementation: a rule written for a hunt test only
building_block: {building_block}
first_seen: {first_seen}
"""


@dataclass(frozen=True)
class RuleSpec:
    title: str
    logsource: str
    selection: str
    level: str
    guidance: str
    entity: str
    field: str
    score: int
    building_block: bool = False
    # days of history for a first-seen rule; None for any other
    first_seen_days: int | None = None
    # the first-seen fields besides the risk field
    first_seen_fields: tuple[str, ...] = ()


def write_pack(directory: Path, rules: dict[str, RuleSpec], id_prefix: str) -> RulePack:
    """One rule file per spec under `directory`; ids are `id_prefix` followed by the rule's position."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, (name, spec) in enumerate(rules.items(), start=1):
        text = RULE.format(
            name=name,
            id=f"{id_prefix}{index:03d}",
            first_seen=_first_seen(spec),
            **{**vars(spec), "building_block": str(spec.building_block).lower()},
        )
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")
    return load_pack(directory, require_metadata=False)


def _first_seen(spec: RuleSpec) -> str:
    if not spec.first_seen_days:
        return "null"
    return f"{{history_days: {spec.first_seen_days}, fields: [{', '.join(spec.first_seen_fields)}]}}"


# An Okta session started through an anonymising proxy, the user's risk: the rule several tests share.
PROXY_SESSION = RuleSpec(
    title="Proxy session",
    logsource="{product: okta, service: okta}",
    selection="securityContext.isProxy: true",
    level="medium",
    guidance="session-theft",
    entity="user",
    field="actor.alternateId",
    score=40,
)
