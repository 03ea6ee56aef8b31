"""Company tuning that Kibana applies at run time: the pack's Sigma filters as rule exceptions.

A filter of the pack (`sigma_rules/filters/`) whose condition is `not <selection>` and whose selection only
compares fields with company lookups (`Field[|endswith...]|expand: '%placeholder%'`) becomes an exception
list attached to the Kibana rules it filters; those rules are compiled without it. The installer fills the
lists from the lookups' CSVs (ghosthire.deploy.kibana_lists): an IP field's values go into an `ip_range`
value list (`198.51.100.*` as `198.51.100.0/24`), an exactly compared keyword's into a `keyword` value
list, and patterns (`endswith`, `startswith`, `contains`, or values with wildcards) become one `matches`
(wildcard) exception item per value. Editing the CSV and running the installer again retunes Kibana
without a rebuild.

Kept at build time, because Kibana has no run-time list there: the ES|QL correlations, which search the
raw events themselves (exceptions only apply to a rule's alerts), and the hunting queries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from sigma.collection import SigmaCollection
from sigma.filters import SigmaFilter
from sigma.rule import SigmaLogSource

from ghosthire.content import parse_yaml_documents
from ghosthire.elastic.ecs import ecs_field_name
from ghosthire.elastic.fields import field_type
from ghosthire.errors import ContentError
from ghosthire.rules import RulePack
from ghosthire.rules.loader import rule_files

TUNING_NAME = "ghosthire-elastic-tuning.json"
Match = Literal["exact", "endswith", "startswith", "contains"]
_MODIFIERS: dict[str, Match] = {"endswith": "endswith", "startswith": "startswith", "contains": "contains"}
_PLACEHOLDER = re.compile(r"^%(\w+)%$")


@dataclass(frozen=True)
class TuningItem:
    """One compared field of a run-time filter: the ECS field, how it is compared, and its lookup column."""

    field: str
    field_type: str
    match: Match
    placeholder: str


@dataclass(frozen=True)
class RunTimeFilter:
    name: str
    title: str
    description: str
    rules: tuple[str, ...]  # the names of the rules it filters
    items: tuple[TuningItem, ...]

    @property
    def list_id(self) -> str:
        return f"ghosthire-{self.name.replace('_', '-')}"

    def reference(self) -> dict[str, str]:
        """The rule's `exceptions_list` entry; Kibana resolves `id` from `list_id` on import, and the
        installer writes the list's own id."""
        return {"id": self.list_id, "list_id": self.list_id, "namespace_type": "single", "type": "detection"}


def run_time_filters(pack: RulePack) -> list[RunTimeFilter]:
    """The pack's filters that Kibana can apply as exceptions, in file order, each naming the rules Kibana
    runs but those compared with the identity lookup or measured as a work pattern (ES|QL rules, which keep
    their filters inline: an exception could not reach the events under an aggregation)."""
    not_excepted = {
        rule.name for rule in pack.rules if rule.meta and (rule.meta.identity_check or rule.meta.work_pattern)
    }
    found = []
    for path in rule_files(pack.root):
        for document in _documents(path):
            if isinstance(document, dict) and isinstance(document.get("filter"), dict):
                runtime = _run_time_filter(document)
                if runtime is not None:
                    rules = tuple(name for name in runtime.rules if name not in not_excepted)
                    found.append(replace(runtime, rules=rules))
    return found


def pack_filters(pack: RulePack) -> list[SigmaFilter]:
    """Every Sigma filter of the pack, in file order."""
    filters: list[SigmaFilter] = []
    for path in rule_files(pack.root):
        text = path.read_text(encoding="utf-8")
        if "filter:" in text:
            parsed = SigmaCollection.from_yaml(text, collect_filters=True, resolve_references=False)
            filters.extend(parsed.filters)
    return filters


def tuning_table(pack: RulePack) -> str:
    """Markdown: per rule, the exception list Kibana applies and the correlations that inline the filter
    (docs/elastic.md holds this table; `python -m ghosthire.elastic.exceptions` prints it)."""
    lines = [
        "| rule | Kibana exception list (compared as) | kept at build time in |",
        "|---|---|---|",
    ]
    rows = []
    for runtime in run_time_filters(pack):
        compared = ", ".join(
            dict.fromkeys(
                f"`{item.field}` {'is in list' if item.field_type == 'ip' or item.match == 'exact' else 'matches'}"
                for item in runtime.items
            )
        )
        for name in runtime.rules:
            rule = pack.get(name)
            users = [
                other.name
                for other in pack.rules
                if other.is_correlation and rule in pack.dependencies(other)
            ]
            inlined = ", ".join(f"`{user}`" for user in users) or "-"
            rows.append(f"| `{name}` | `{runtime.list_id}` ({compared}) | {inlined} |")
    return "\n".join([*lines, *sorted(rows)]) + "\n"


def write_tuning(filters: list[RunTimeFilter], out_dir: Path) -> Path:
    """The filters as data for the installer, next to the rules' NDJSON."""
    path = out_dir / TUNING_NAME
    body = [
        {
            "list_id": item.list_id,
            "name": item.name,
            "title": item.title,
            "description": item.description,
            "rules": list(item.rules),
            "items": [vars(entry) for entry in item.items],
        }
        for item in filters
    ]
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_tuning(path: Path) -> list[RunTimeFilter]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return [
            RunTimeFilter(
                entry["name"],
                entry["title"],
                entry["description"],
                tuple(entry["rules"]),
                tuple(TuningItem(**item) for item in entry["items"]),
            )
            for entry in body
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ContentError(path, f"invalid Kibana tuning file: {error}") from None


def _documents(path: Path) -> list[Any]:
    """The file's YAML documents when it holds a filter (most rule files do not: they are not parsed)."""
    try:
        text = path.read_text(encoding="utf-8")
        return parse_yaml_documents(text) if "filter:" in text else []
    except (OSError, yaml.YAMLError):
        return []  # the loader has already reported a broken file


def _run_time_filter(document: dict[str, Any]) -> RunTimeFilter | None:
    body = document["filter"]
    condition = re.fullmatch(r"not\s+(\w+)", str(body.get("condition", "")).strip())
    if condition is None or not isinstance(body.get(condition.group(1)), dict | list):
        return None
    selection = body[condition.group(1)]
    pairs = [
        pair
        for mapping in (selection if isinstance(selection, list) else [selection])
        for pair in _pairs(mapping)
    ]
    logsource = SigmaLogSource.from_dict(document.get("logsource") or {})
    items = [_item(key, value, logsource) for key, value in pairs]
    if not items or any(item is None for item in items):
        return None
    return RunTimeFilter(
        str(document.get("name") or document.get("id")),
        str(document.get("title", "")),
        " ".join(str(document.get("description", "")).split()),
        tuple(str(rule) for rule in body.get("rules") or []),
        tuple(item for item in items if item is not None),
    )


def _pairs(mapping: Any) -> list[tuple[str, Any]]:
    """The compared pairs; `field|exists: true` is left out: an exception never matches a missing field."""
    if not isinstance(mapping, dict):
        return [("", None)]
    return [(key, value) for key, value in mapping.items() if not (key.endswith("|exists") and value is True)]


def _item(key: str, value: Any, logsource: SigmaLogSource) -> TuningItem | None:
    field, *modifiers = key.split("|")
    placeholder = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    if placeholder is None or "expand" not in modifiers:
        return None
    others = [modifier for modifier in modifiers if modifier != "expand"]
    if len(others) > 1 or (others and others[0] not in _MODIFIERS):
        return None
    ecs = ecs_field_name(field, logsource)
    if ecs is None:
        return None
    match: Match = _MODIFIERS[others[0]] if others else "exact"
    return TuningItem(ecs, field_type(ecs), match, placeholder.group(1))


if __name__ == "__main__":
    from ghosthire.content import rules_dir
    from ghosthire.rules import load_pack

    print(tuning_table(load_pack(rules_dir())), end="")
