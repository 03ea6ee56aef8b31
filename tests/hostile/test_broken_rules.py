"""A corpus of broken rule files: each is refused with one line naming its file and line, fast, never a
traceback, whichever command reads it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.errors import ContentError
from ghosthire.rules import load_pack

CORPUS = Path(__file__).parent / "broken_rules"
EXPECTED = yaml.safe_load((Path(__file__).parent / "broken_rules.yml").read_text())
GOOD = (CORPUS / "level_number.yml").read_text().replace("level: 5", "level: low")


def _refusal(directory: Path, *, metadata: bool = False) -> ContentError:
    started = time.perf_counter()
    with pytest.raises(ContentError) as error:
        load_pack(directory, require_metadata=metadata)
    assert time.perf_counter() - started < 5
    return error.value


def test_the_corpus_is_the_expected_table() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in CORPUS.glob("*.yml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_rule_names_file_and_line(tmp_path: Path, name: str) -> None:
    shutil.copy(CORPUS / name, tmp_path / name)
    error = _refusal(tmp_path)
    assert (error.path, error.line) == (tmp_path / name, EXPECTED[name]["line"])
    assert EXPECTED[name]["says"] in error.message


def _generated(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_alias_bomb_is_refused_on_its_line(tmp_path: Path) -> None:
    """Nine levels of ten aliases each: ten billion values once expanded; refused at the first anchor
    past the bound (a5, a million values)."""
    anchors = "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]\n" for level in range(1, 10)
    )
    detection = f"detection:\n{anchors}  selection: {{eventType: *a9}}\n  condition: selection\n"
    path = _generated(
        tmp_path, "bomb", GOOD.replace(GOOD[GOOD.index("detection:") : GOOD.index("level:")], detection)
    )
    error = _refusal(tmp_path)
    assert error.path == path and error.line == 13 and "aliases" in error.message


def test_deep_nesting_is_refused_on_its_line(tmp_path: Path) -> None:
    nested = "[" * 5000 + "]" * 5000
    path = _generated(tmp_path, "deep", GOOD.replace("eventType: user.session.start", f"eventType: {nested}"))
    error = _refusal(tmp_path)
    assert error.path == path and error.line == 9 and "depth" in error.message


def test_moderate_nesting_past_the_bound_is_refused(tmp_path: Path) -> None:
    """Deep enough for pySigma's recursion, shallow enough for libyaml: the pack's own bound answers."""
    nested = "{a: " * 80 + "x" + "}" * 80
    path = _generated(
        tmp_path, "nested", GOOD.replace("eventType: user.session.start", f"eventType: {nested}")
    )
    error = _refusal(tmp_path)
    assert error.path == path and error.line == 9 and "deeper than" in error.message


@pytest.mark.parametrize("field", ["id", "name"])
def test_duplicate_id_or_name_names_the_second_file_and_line(tmp_path: Path, field: str) -> None:
    _generated(tmp_path, "a", GOOD.replace("name: level_number", "name: first"))
    other = GOOD.replace("name: level_number", "name: first" if field == "name" else "name: second")
    if field == "name":
        other = other.replace("0000000000aa", "0000000000bb")
    path = _generated(tmp_path, "b", other)
    error = _refusal(tmp_path)
    assert (
        error.path == path
        and error.line == (2 if field == "id" else 3)
        and f"duplicate rule {field}" in error.message
    )


def test_missing_pack_metadata_names_a_line(tmp_path: Path) -> None:
    path = _generated(tmp_path, "bare", GOOD)
    error = _refusal(tmp_path, metadata=True)
    assert error.path == path and error.line == 1 and "guidance" in error.message


@pytest.mark.parametrize("command", ["check", "build", "hunt"])
def test_every_command_reports_one_line(tmp_path: Path, command: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(CORPUS / "impossible_date.yml", rules / "impossible_date.yml")
    args = {
        "check": ["check", "--rules", str(rules)],
        "build": ["build", "--rules", str(rules), "--out", str(tmp_path / "out")],
        "hunt": ["hunt", "--rules", str(rules), str(rules)],
    }[command]
    _register()
    result = CliRunner().invoke(cli, args)
    assert (result.exit_code != 0 and result.exception is None) or isinstance(result.exception, SystemExit)
    assert "impossible_date.yml:5: invalid YAML: impossible date" in result.output
    assert "Traceback" not in result.output
