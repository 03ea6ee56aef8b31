"""Broken rules name their file and line; broken log records are counted and reported, never fatal."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ghosthire.cli import cli, main  # noqa: F401  (main registers the commands)
from ghosthire.errors import ContentError
from ghosthire.hunt import build_plan, hunt
from ghosthire.hunt.engine import EngineResult, HuntEngine
from ghosthire.hunt.readers import ReadReport, RecordBatch, batches_from_events
from ghosthire.rules import load_pack

VALID_RULE = """\
title: Test rule
id: 9a1d2c3e-0000-4000-8000-000000000001
name: {name}
status: experimental
description: A rule for tests.
logsource: {{product: okta, service: okta}}
detection:
  selection:
    eventType: user.session.start
  condition: selection
level: low
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _cli(*args: str) -> tuple[int, str]:
    from ghosthire.cli import _register

    _register()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken", VALID_RULE.format(name="broken").replace("level: low", "level: [low"))
    with pytest.raises(ContentError) as error:
        load_pack(tmp_path, require_metadata=False)
    assert str(error.value).startswith(f"{path}:")
    assert error.value.line is not None and error.value.line >= 10


def test_unknown_modifier_names_file_and_line(tmp_path: Path) -> None:
    text = VALID_RULE.format(name="modifier").replace("eventType:", "eventType|sounds_like:")
    path = _write(tmp_path, "modifier", text)
    with pytest.raises(ContentError) as error:
        load_pack(tmp_path, require_metadata=False)
    assert error.value.path == path
    assert error.value.line == 9
    assert "sounds_like" in str(error.value)


def test_missing_referenced_rule_names_the_reference(tmp_path: Path) -> None:
    _write(tmp_path, "base", VALID_RULE.format(name="base"))
    correlation = """\
title: Correlation on a missing rule
id: 9a1d2c3e-0000-4000-8000-000000000002
name: corr
correlation:
  type: event_count
  rules:
    - base
    - no_such_rule
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 3}
level: high
"""
    path = _write(tmp_path, "corr", correlation)
    with pytest.raises(ContentError) as error:
        load_pack(tmp_path, require_metadata=False)
    assert error.value.path == path
    assert error.value.line == 8
    assert "no_such_rule" in str(error.value)


def test_cli_reports_broken_rule_in_one_line_and_fails(tmp_path: Path) -> None:
    _write(tmp_path, "modifier", VALID_RULE.format(name="modifier").replace("eventType:", "eventType|nope:"))
    code, output = _cli("hunt", "--rules", str(tmp_path), str(tmp_path))
    assert code == 2
    assert "modifier.yml:9" in output
    assert "Traceback" not in output


def test_truncated_and_non_utf8_lines_are_reported_and_the_hunt_goes_on(tmp_path: Path) -> None:
    _write(tmp_path, "rule", VALID_RULE.format(name="rule"))
    good = {
        "eventType": "user.session.start",
        "actor": {"alternateId": "a@example.com"},
        "published": "2025-06-01T10:00:00Z",
    }
    log = tmp_path / "okta.ndjson.gz"
    with gzip.open(log, "wb") as handle:
        handle.write((json.dumps(good) + "\n").encode())
        handle.write(b'{"eventType": "user.session.start", "actor": {"alternateId": "b@exa\n')
        handle.write(b'{"eventType": "user.session.start", "note": "\xff\xfe"}\n')
        handle.write(b"[1, 2, 3]\n")
        handle.write((json.dumps(good) + "\n").encode())
    outcome = hunt(load_pack(tmp_path, require_metadata=False), [log])
    problems = {(problem.line, problem.reason.split(" ")[0]) for problem in outcome.result.report.problems}
    assert problems == {(2, "malformed"), (3, "not"), (4, "not")}
    assert [location.line for alert in outcome.alerts for location in alert.locations] == [1, 5]


def test_unreadable_file_is_reported_not_fatal(tmp_path: Path) -> None:
    _write(tmp_path, "rule", VALID_RULE.format(name="rule"))
    (tmp_path / "garbage.log").write_bytes(b"\x00\x01 this is not a log format\n")
    outcome = hunt(load_pack(tmp_path, require_metadata=False), [tmp_path])
    assert [problem.reason for problem in outcome.result.report.problems] == [
        "file not read: not JSON, NDJSON, CSV, Zeek or EVTX"
    ]


GOOD_OKTA_EVENT = json.dumps(
    {
        "eventType": "user.session.start",
        "actor": {"alternateId": "a@x.example"},
        "published": "2025-06-01T10:00:00Z",
    }
)


def _engine_run(tmp_path: Path, batches: Iterator[RecordBatch], report: ReadReport) -> EngineResult:
    """The engine alone, with the one-rule pack matching GOOD_OKTA_EVENT, over hand-made batches."""
    _write(tmp_path, "rule", VALID_RULE.format(name="rule"))
    engine = HuntEngine(build_plan(load_pack(tmp_path, require_metadata=False)))
    try:
        return engine.run(batches, report)
    finally:
        engine.close()


def test_malformed_line_in_a_later_batch_of_one_parse_statement_loses_nothing(tmp_path: Path) -> None:
    """Small batches share one streamed parse statement; a malformed line in the second one fails it
    midway, and every batch (those DuckDB had pulled and those it had not) is parsed again tolerantly."""
    good = GOOD_OKTA_EVENT
    files = {"a": [good, good], "b": [good, '{"eventType": "user.sess', good], "c": [good]}
    batches = [batch for name, texts in files.items() for batch in batches_from_events(texts, name)]
    result = _engine_run(tmp_path, iter(batches), ReadReport(files=list(files)))
    assert [(problem.file, problem.line) for problem in result.report.problems] == [("b", 2)]
    assert result.stats.records == 5
    assert sorted((result.files[hit.file], hit.line) for hit in result.hits) == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 3),
        ("c", 1),
    ]


def test_read_error_midway_through_a_parse_statement_is_raised_as_itself(tmp_path: Path) -> None:
    """DuckDB pulls the batches; an error reading one must reach the caller unchanged, not as a DuckDB
    error or a silently shorter input."""

    def batches() -> Iterator[RecordBatch]:
        yield from batches_from_events([GOOD_OKTA_EVENT], "a")
        raise OSError("the export's disk went away")

    with pytest.raises(OSError, match="disk went away"):
        _engine_run(tmp_path, batches(), ReadReport())
