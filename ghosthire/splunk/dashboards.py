"""Dashboard Studio views: JSON definitions kept in splunk_app/dashboards/, checked, wrapped in their XML.

A definition is data, edited as JSON (or exported from Dashboard Studio's source editor). The build checks
that it parses and that everything it references exists, then embeds it, re-serialised, in the
`<dashboard version="2">` view through the dashboard template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ghosthire.errors import ContentError

CDATA_END = "]]>"


@dataclass(frozen=True)
class Dashboard:
    name: str
    label: str
    definition: dict[str, Any]

    def definition_json(self) -> str:
        text = json.dumps(self.definition, indent=2, sort_keys=True)
        if CDATA_END in text:
            raise ContentError(f"{self.name}.json", f"{CDATA_END!r} cannot appear inside the view's CDATA")
        return text

    def queries(self) -> list[str]:
        return [
            source["options"]["query"]
            for source in self.definition["dataSources"].values()
            if "query" in source.get("options", {})
        ]


def load_dashboards(directory: Path, order: list[str]) -> list[Dashboard]:
    """Every `*.json` in `directory`, its file stem as the view name, checked by `problems`, in `order`
    (which must name each of them once)."""
    paths = {path.stem: path for path in directory.glob("*.json")}
    if sorted(order) != sorted(paths):
        raise ContentError(directory, f"navigation lists {sorted(order)}, dashboards are {sorted(paths)}")
    dashboards = []
    for path in (paths[name] for name in order):
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ContentError(path, f"invalid JSON: {error.msg}", error.lineno) from None
        found = problems(definition)
        if found:
            raise ContentError(path, "; ".join(found))
        dashboards.append(Dashboard(path.stem, definition["title"], definition))
    return dashboards


def problems(definition: dict[str, Any]) -> list[str]:
    """What makes a Dashboard Studio definition unusable: a missing part, a reference to a data source,
    visualization or input that is not defined, a search data source without a query."""
    missing = [key for key in ("title", "dataSources", "visualizations", "layout") if key not in definition]
    if missing:
        return [f"missing {', '.join(missing)}"]
    data_sources = definition["dataSources"]
    items = {**definition["visualizations"], **definition.get("inputs", {})}
    found = [
        f"{owner} uses undefined data source {source!r}"
        for owner, source in _data_source_references(definition)
        if source not in data_sources
    ]
    found += [
        f"data source {name!r} has no query"
        for name, source in data_sources.items()
        if source.get("type") == "ds.search" and not source.get("options", {}).get("query", "").strip()
    ]
    layout = definition["layout"]
    structures = [layout.get("structure", [])]  # the pre-tabs layout form
    structures += [item.get("structure", []) for item in layout.get("layoutDefinitions", {}).values()]
    found += [
        f"layout places undefined item {block.get('item')!r}"
        for structure in structures
        for block in structure
        if block.get("item") not in items
    ]
    found += [
        f"tab uses undefined layout {tab.get('layoutId')!r}"
        for tab in layout.get("tabs", {}).get("items", [])
        if tab.get("layoutId") not in layout.get("layoutDefinitions", {})
    ]
    found += [
        f"layout names undefined input {name!r}"
        for name in layout.get("globalInputs", [])
        if name not in definition.get("inputs", {})
    ]
    return found


def _data_source_references(definition: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for kind in ("visualizations", "inputs"):
        for name, item in definition.get(kind, {}).items():
            for source in item.get("dataSources", {}).values():
                yield name, source
    for name, source in definition["dataSources"].items():
        if source.get("type") == "ds.chain":
            yield name, source.get("options", {}).get("extend", "")
