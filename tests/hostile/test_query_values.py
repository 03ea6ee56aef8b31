"""Values no target can write as they are: each target writes them escaped so the query keeps its meaning,
or skips the rule with the reason; nothing it writes fails its own parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ghosthire.compile import compile_target, load_targets
from ghosthire.compile.syntax import SYNTAX_CHECKS, QuerySyntaxError, check_spl
from ghosthire.rules import load_pack

RULE = """\
title: Hostile value
id: 9a1d2c3e-0000-4000-8000-0000000000{number:02d}
name: {name}
status: experimental
description: A rule whose value no target can write as it is.
logsource: {{product: windows, category: process_creation}}
detection:
  selection:
    CommandLine: {value}
  condition: selection
level: low
"""
VALUES = {"asterisk": "a\\*b", "newline": "a\nb", "carriage_return": "a\rb", "tab": "a\tb", "nul": "a\x00b"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str | None]]:
    directory: Path = tmp_path_factory.mktemp("rules")
    for number, (name, value) in enumerate(VALUES.items()):
        text = RULE.format(number=number, name=name, value=json.dumps(value))
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")
    pack = load_pack(directory, require_metadata=False)
    results: dict[str, dict[str, str | None]] = {}
    for target in load_targets():
        for item in compile_target(pack, target).compiled:
            results.setdefault(target.id, {})[item.rule.name] = item.skipped
            for query in item.queries if target.syntax else []:
                SYNTAX_CHECKS[target.syntax](str(query))
    return results


def test_splunk_refuses_what_a_search_term_cannot_say(compiled: dict[str, dict[str, str | None]]) -> None:
    splunk = compiled["splunk"]
    assert "literal *" in (splunk["asterisk"] or "")
    assert "control character" in (splunk["carriage_return"] or "")
    assert "control character" in (splunk["nul"] or "")
    assert splunk["newline"] is None and splunk["tab"] is None


def test_eql_escapes_control_characters_instead_of_failing(
    compiled: dict[str, dict[str, str | None]],
) -> None:
    assert {name: compiled["eql"][name] for name in ("newline", "carriage_return", "tab")} == {
        "newline": None,
        "carriage_return": None,
        "tab": None,
    }


@pytest.mark.parametrize(
    "query",
    ['index=a x="b', "index=a (x=1", "index=a x=1)", "`macro x=1", 'x="a\rb"', "[search x=1"],
)
def test_spl_structural_check_rejects(query: str) -> None:
    with pytest.raises(QuerySyntaxError):
        check_spl(query)


def test_spl_structural_check_accepts_escapes_inside_quotes() -> None:
    check_spl('`src` x="a\\"(b" y="c\\\\" | where z="]"')
