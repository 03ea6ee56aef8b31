"""Regenerate backends/elastic/ecs_fields.json, every ECS field and its Elasticsearch type, from Elastic's own
ECS definition: the flat field table of the `@elastic/ecs` package on the npm registry (`EcsFlat`).

    python scripts/ecs_fields.py [--version 9.4.0] [--package DIR] [--out PATH]

Without --package the script fetches the package with `npm pack @elastic/ecs@VERSION` into a temporary
folder (npm and node are needed); with --package it reads an unpacked copy (its `package/` folder). The
package is Apache License 2.0 (Elasticsearch B.V.); its LICENSE and NOTICE go next to the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ELASTIC_DIR = Path(__file__).resolve().parent.parent / "backends" / "elastic"
DEFAULT_OUT = ELASTIC_DIR / "ecs_fields.json"
DUMP = (
    "const flat = require(process.argv[1]).EcsFlat;"
    "const out = {};"
    "for (const name of Object.keys(flat).sort()) out[name] = flat[name].type;"
    "process.stdout.write(JSON.stringify(out));"
)


def fetch(version: str, into: Path) -> Path:
    """`npm pack` the package into `into` and unpack it; returns its `package/` folder."""
    subprocess.run(["npm", "pack", f"@elastic/ecs@{version}"], cwd=into, check=True, capture_output=True)
    archive = next(into.glob("elastic-ecs-*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "package"


def field_types(package: Path) -> dict[str, str]:
    flat = package / "build" / "commonjs" / "ecs_flat.js"
    result = subprocess.run(["node", "-e", DUMP, str(flat)], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="9.4.0", help="@elastic/ecs version (default: 9.4.0)")
    parser.add_argument("--package", type=Path, help="an unpacked @elastic/ecs (its package/ folder)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        package = args.package or fetch(args.version, Path(scratch))
        version = json.loads((package / "package.json").read_text())["version"]
        table = {
            "source": f"@elastic/ecs {version} (npm), build/commonjs/ecs_flat.js, EcsFlat[name].type",
            "license": "Apache License 2.0, Elasticsearch B.V.: see ecs_fields.LICENSE and ecs_fields.NOTICE",
            "fields": field_types(package),
        }
        args.out.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n", encoding="utf-8")
        shutil.copyfile(package / "LICENSE", args.out.with_suffix(".LICENSE"))
        shutil.copyfile(package / "NOTICE.txt", args.out.with_suffix(".NOTICE"))
    print(f"{args.out}: {len(table['fields'])} ECS fields from @elastic/ecs {version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
