"""Kibana rule versions from a lock file: a rule's version goes up when its normalised content changes.

backends/elastic/version.lock.json maps rule_id -> {version, sha256}. A build only reads it: a rule whose
content hash differs from the lock gets the locked version + 1 (1 when new), the same number on every
build until `python -m ghosthire.elastic.versions <build dir>` records the new hashes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError


class LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def lock_path() -> Path:
    return backends_dir() / "elastic" / "version.lock.json"


def load_lock(path: Path | None = None) -> dict[str, LockEntry]:
    path = path or lock_path()
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {rule_id: LockEntry.model_validate(entry) for rule_id, entry in raw.items()}
    except (ValueError, ValidationError) as error:
        raise ContentError(path, f"invalid version lock: {error}") from None


def content_hash(rule: dict[str, Any]) -> str:
    """sha256 of the rule as imported, minus its version, with sorted keys."""
    normalised = {key: value for key, value in rule.items() if key != "version"}
    return hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()


def version_for(rule_id: str, sha256: str, lock: dict[str, LockEntry]) -> int:
    entry = lock.get(rule_id)
    if entry is None:
        return 1
    return entry.version if entry.sha256 == sha256 else entry.version + 1


def with_versions(rules: list[dict[str, Any]], lock: dict[str, LockEntry]) -> list[dict[str, Any]]:
    """Each rule as imported, its `version` from the lock and its content."""
    return [{**rule, "version": version_for(rule["rule_id"], content_hash(rule), lock)} for rule in rules]


def locked_entries(rules: list[dict[str, Any]]) -> dict[str, LockEntry]:
    """The lock that records these built rules (their versions and current hashes)."""
    return {
        rule["rule_id"]: LockEntry(version=rule["version"], sha256=content_hash(rule))
        for rule in sorted(rules, key=lambda rule: rule["rule_id"])
    }


def write_lock(entries: dict[str, LockEntry], path: Path | None = None) -> Path:
    path = path or lock_path()
    data = {rule_id: entry.model_dump() for rule_id, entry in sorted(entries.items())}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    """Record the versions of a built ghosthire-elastic-rules.ndjson in the lock file."""
    if len(argv) != 1:
        print("usage: python -m ghosthire.elastic.versions <build dir or ndjson file>", file=sys.stderr)
        return 2
    target = Path(argv[0])
    ndjson = target / "ghosthire-elastic-rules.ndjson" if target.is_dir() else target
    rules = [json.loads(line) for line in ndjson.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(write_lock(locked_entries(rules)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
