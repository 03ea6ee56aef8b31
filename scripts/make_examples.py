"""Write examples/: a small export per log source, assembled from every rule's must-fire and must-not-fire
test events, in the file formats the hunt accepts (NDJSON, gzip, a Graph-style JSON document, CSV).

Run after adding a rule so that `./run.sh` shows it firing:  .venv/bin/python scripts/make_examples.py
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from ghosthire.model.sources import detect_source, load_sources, source_by_id
from ghosthire.rules.cases import load_cases

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# How each source is written, to show every input format the hunt reads.
FORMATS = {"okta": "ndjson.gz", "entra_signin": "graph.json", "hr": "csv"}


def main() -> None:
    by_source: dict[str, list[dict[str, Any]]] = {source.id: [] for source in load_sources()}
    for cases in load_cases(ROOT / "detection_tests").values():
        for case in [*cases.must_fire, *cases.must_not_fire]:
            for event in case.events:
                source_id = cases.source_of(case) or _detected(event)
                if event not in by_source[source_id]:
                    by_source[source_id].append(event)
    EXAMPLES.mkdir(exist_ok=True)
    for stale in EXAMPLES.glob("*"):
        stale.unlink()
    for source_id, events in by_source.items():
        if events:
            _write(source_id, events)
    print(f"wrote {sum(map(len, by_source.values()))} events to {EXAMPLES}")


def _detected(event: dict[str, Any]) -> str:
    source = detect_source(event)
    if source is None:
        raise SystemExit(f"no source recognises {json.dumps(event)[:120]}")
    return source.id


def _write(source_id: str, events: list[dict[str, Any]]) -> None:
    kind = FORMATS.get(source_id, "ndjson")
    lines = "".join(json.dumps(event) + "\n" for event in events)
    if kind == "ndjson":
        (EXAMPLES / f"{source_id}.ndjson").write_text(lines, encoding="utf-8")
    elif kind == "ndjson.gz":
        with gzip.open(EXAMPLES / f"{source_id}.ndjson.gz", "wt", encoding="utf-8") as handle:
            handle.write(lines)
    elif kind == "graph.json":
        document = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
            "value": events,
        }
        (EXAMPLES / f"{source_id}.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    elif kind == "csv":
        _write_csv(source_id, events)
    source_by_id(source_id)


def _write_csv(source_id: str, events: list[dict[str, Any]]) -> None:
    columns = sorted({key for event in events for key in _flatten(event)})
    with (EXAMPLES / f"{source_id}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for event in events:
            writer.writerow(_flatten(event))


def _flatten(event: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


if __name__ == "__main__":
    main()
