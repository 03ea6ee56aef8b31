"""The shipped ATT&CK table is the whole of Enterprise ATT&CK, names its release and license, is what
scripts/attack_table.py makes of MITRE CTI, and lets a detection engineer tag any technique."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.content import detection_tests_dir, rules_dir
from ghosthire.model.attack import ATTACK_TABLE, load_attack
from ghosthire.policy import tactics_match_techniques
from ghosthire.rules import load_pack

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "attack_table.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("attack_table", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_is_all_of_enterprise_attack_with_its_source_and_license() -> None:
    raw = json.loads(ATTACK_TABLE.read_text(encoding="utf-8"))
    assert "MITRE ATT&CK Enterprise v18.1" in raw["source"] and "Terms of Use" in raw["license"]
    table = load_attack()
    assert [tactic.id for tactic in table.tactics.values()][:3] == ["TA0043", "TA0042", "TA0001"]
    assert len(table.tactics) == 14
    assert len(table.techniques) > 600 and len([t for t in table.techniques if "." not in t]) > 200
    assert table.technique("T1059").name == "Command and Scripting Interpreter"
    assert table.technique("T1059.001").tactics == ("execution",)
    assert table.tactics["execution"].reference == "https://attack.mitre.org/tactics/TA0002"
    assert table.technique("T1055.011").reference == "https://attack.mitre.org/techniques/T1055/011"
    for technique in table.techniques.values():
        assert technique.name and set(technique.tactics) <= set(table.tactics), technique.id
        assert set(technique.tactics) <= set(table.technique(technique.parent_id).tactics), technique.id


def test_the_script_keeps_current_techniques_and_tactics_in_matrix_order(script: ModuleType) -> None:
    def ref(kind: str, external_id: str) -> list[dict]:
        return [{"source_name": "mitre-attack", "external_id": external_id, "url": f"https://x/{kind}"}]

    objects = [
        {
            "type": "x-mitre-tactic",
            "id": "t-2",
            "name": "Execution",
            "x_mitre_shortname": "execution",
            "external_references": ref("tactics", "TA0002"),
        },
        {
            "type": "x-mitre-tactic",
            "id": "t-1",
            "name": "Initial Access",
            "x_mitre_shortname": "initial-access",
            "external_references": ref("tactics", "TA0001"),
        },
        {"type": "x-mitre-matrix", "id": "m", "tactic_refs": ["t-1", "t-2"]},
        {"type": "x-mitre-collection", "id": "c", "x_mitre_version": "99.0"},
        {
            "type": "attack-pattern",
            "id": "a-1",
            "name": "Scripting",
            "external_references": ref("t", "T1059"),
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
        },
        {
            "type": "attack-pattern",
            "id": "a-2",
            "name": "Old",
            "revoked": True,
            "external_references": ref("t", "T1"),
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
        },
        {
            "type": "attack-pattern",
            "id": "a-3",
            "name": "Gone",
            "x_mitre_deprecated": True,
            "external_references": ref("t", "T2"),
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
        },
    ]
    table = script.build_table([obj for obj in objects if script.current(obj)], None)
    assert table["tactics"] == [
        ["TA0001", "initial-access", "Initial Access"],
        ["TA0002", "execution", "Execution"],
    ]
    assert table["techniques"] == {"T1059": ["Scripting", ["execution"]]}
    assert "v99.0" in table["source"]
    assert json.loads(script.compact_json(table)) == table


def test_a_users_rule_tagged_t1059_passes_check(tmp_path: Path) -> None:
    """The most common technique, which the pack itself does not tag."""
    source = next(rules_dir().rglob("win_user_added_to_local_administrators.yml"))
    text = source.read_text(encoding="utf-8")
    tags = text[text.index("tags:") : text.index("logsource:")]
    rules, tests = tmp_path / "rules", tmp_path / "tests"
    rules.mkdir(), tests.mkdir()
    (rules / source.name).write_text(text.replace(tags, "tags:\n  - attack.execution\n  - attack.t1059\n"))
    cases = detection_tests_dir() / source.name
    (tests / source.name).write_text(cases.read_text(encoding="utf-8"))
    _register()
    result = CliRunner().invoke(cli, ["check", "--rules", str(rules), "--tests", str(tests)])
    assert result.exit_code == 0, result.output


def test_tactics_of_techniques_in_matrix_order() -> None:
    """The one place a rule's techniques become tactics (policy, hunt output): sub-techniques carry
    their own, an unknown (newer) technique adds none."""
    table = load_attack()
    assert table.tactics_of(["T1078", "T1059.001", "T9999"]) == [
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
    ]
    assert table.tactics_of([]) == []


def test_check_names_missing_and_extra_tactic_tags(tmp_path: Path) -> None:
    source = next(rules_dir().rglob("win_user_added_to_local_administrators.yml"))
    text = source.read_text(encoding="utf-8")
    tags = text[text.index("tags:") : text.index("logsource:")]
    (tmp_path / source.name).write_text(
        text.replace(tags, "tags:\n  - attack.collection\n  - attack.t1059\n"), encoding="utf-8"
    )
    rule = load_pack(tmp_path).rules[0]
    assert list(tactics_match_techniques(rule)) == [
        "missing tactic tag(s) of the tagged techniques: attack.execution",
        "tactic tag(s) with no tagged technique under them: attack.collection",
    ]
