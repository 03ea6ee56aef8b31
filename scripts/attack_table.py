"""Regenerate ghosthire/model/attack.json, the MITRE ATT&CK Enterprise technique and tactic table, from MITRE CTI.

    python scripts/attack_table.py SOURCE [--release "v18.1, mitre/cti 421deacb77"] [--out PATH]

SOURCE is the Enterprise STIX bundle as a path or URL (mitre/cti's `enterprise-attack/enterprise-attack.json`,
https://raw.githubusercontent.com/mitre/cti/master/enterprise-attack/enterprise-attack.json) or a checkout's
`enterprise-attack/` folder of one-object bundles. Revoked and deprecated objects are left out. The release
is read from the bundle's collection object when it has one; pass --release otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "ghosthire" / "model" / "attack.json"
LICENSE = (
    "ATT&CK data (c) The MITRE Corporation, reproduced under the ATT&CK Terms of Use "
    "(https://attack.mitre.org/resources/legal-and-branding/terms-of-use/)."
)
KINDS = ("attack-pattern", "x-mitre-tactic", "x-mitre-matrix", "x-mitre-collection")


def read_objects(source: str) -> Iterator[dict]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=120) as response:
            yield from json.load(response)["objects"]
        return
    path = Path(source)
    files = sorted(path.glob("*/*.json")) if path.is_dir() else [path]
    for file in files:
        yield from json.loads(file.read_text(encoding="utf-8"))["objects"]


def external_id(obj: dict) -> str:
    return next(
        ref["external_id"] for ref in obj["external_references"] if ref["source_name"] == "mitre-attack"
    )


def current(obj: dict) -> bool:
    return obj["type"] in KINDS and not obj.get("revoked") and not obj.get("x_mitre_deprecated")


def build_table(objects: list[dict], release: str | None) -> dict:
    tactic_objects = {obj["id"]: obj for obj in objects if obj["type"] == "x-mitre-tactic"}
    matrices = [obj for obj in objects if obj["type"] == "x-mitre-matrix"]
    order = matrices[0]["tactic_refs"] if matrices else sorted(tactic_objects)
    collections = [obj for obj in objects if obj["type"] == "x-mitre-collection"]
    release = release or (f"v{collections[0]['x_mitre_version']}" if collections else None)
    if release is None:
        raise SystemExit("the source has no collection object: name its release with --release")
    tactics = [
        [external_id(obj), obj["x_mitre_shortname"], obj["name"]]
        for obj in (tactic_objects[ref] for ref in order if ref in tactic_objects)
    ]
    techniques = {
        external_id(obj): [
            obj["name"],
            [
                phase["phase_name"]
                for phase in obj["kill_chain_phases"]
                if phase["kill_chain_name"] == "mitre-attack"
            ],
        ]
        for obj in objects
        if obj["type"] == "attack-pattern"
    }
    return {
        "source": f"MITRE ATT&CK Enterprise {release}, converted by scripts/attack_table.py",
        "license": LICENSE,
        "tactics": tactics,
        "techniques": dict(sorted(techniques.items())),
    }


def compact_json(table: dict) -> str:
    """One tactic or technique per line: small, and a new ATT&CK release reads as a short diff."""
    tactics = ",\n".join(f"  {json.dumps(tactic)}" for tactic in table["tactics"])
    techniques = ",\n".join(
        f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in table["techniques"].items()
    )
    return (
        f'{{\n "source": {json.dumps(table["source"])},\n "license": {json.dumps(table["license"])},\n'
        f' "tactics": [\n{tactics}\n ],\n "techniques": {{\n{techniques}\n }}\n}}\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source", help="STIX bundle path or URL, or a cti checkout's enterprise-attack/ folder"
    )
    parser.add_argument("--release", help='e.g. "v18.1, mitre/cti commit 421deacb77"')
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    table = build_table([obj for obj in read_objects(args.source) if current(obj)], args.release)
    args.out.write_text(compact_json(table), encoding="utf-8")
    print(
        f"{args.out}: {len(table['tactics'])} tactics, {len(table['techniques'])} techniques", file=sys.stderr
    )


if __name__ == "__main__":
    main()
