"""Kibana rule versions: the committed lock records every rule as the build writes it, and a rule whose
content changes gets the next version."""

from __future__ import annotations

from ghosthire.elastic import versions

RECORD = (
    "record them: `ghosthire build --out build && python -m ghosthire.elastic.versions build`, "
    "and commit backends/elastic/version.lock.json"
)


def test_the_committed_lock_records_every_rule_as_built(kibana_rules: list[dict]) -> None:
    lock = versions.load_lock()
    changed = [
        rule["name"]
        for rule in kibana_rules
        if rule["rule_id"] not in lock or lock[rule["rule_id"]].sha256 != versions.content_hash(rule)
    ]
    stale = sorted(set(lock) - {rule["rule_id"] for rule in kibana_rules})
    assert not changed, f"rules new or changed since the lock was written: {changed}; {RECORD}"
    assert not stale, f"the lock names rules the build no longer writes: {stale}; {RECORD}"
    assert all(rule["version"] == lock[rule["rule_id"]].version for rule in kibana_rules)


def test_a_changed_rule_gets_the_next_version(kibana_rules: list[dict]) -> None:
    """The lock as it was before someone edited the first rule: that rule's recorded hash differs. (The
    build stamps versions with `with_versions` and the committed lock: the test above.)"""
    edited, *unchanged = kibana_rules
    lock = versions.locked_entries(kibana_rules)
    lock[edited["rule_id"]] = versions.LockEntry(version=3, sha256="0" * 64)
    built = {rule["rule_id"]: rule["version"] for rule in versions.with_versions(kibana_rules, lock)}
    assert built[edited["rule_id"]] == 4
    assert all(built[rule["rule_id"]] == rule["version"] for rule in unchanged)
