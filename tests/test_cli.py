"""The CLI end to end: build writes every artifact and reports skips; check and build fail on a broken rule."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.content import rules_dir
from tests.conftest import CliBuild


def _invoke(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_build_writes_the_app_the_kibana_rules_and_plain_queries(build_dir: Path) -> None:
    """The whole pack built through the CLI once per session (tests/conftest.py `cli_build`)."""
    (package,) = build_dir.glob("*.tgz")
    with tarfile.open(package) as archive:
        names = set(archive.getnames())
    for required in (
        "ghosthire/default/app.conf",
        "ghosthire/default/savedsearches.conf",
        "ghosthire/default/macros.conf",
        "ghosthire/metadata/default.meta",
    ):
        assert required in names
    assert any(name.startswith("ghosthire/default/data/ui/views/") for name in names)
    (ndjson,) = build_dir.glob("*.ndjson")
    rules = [json.loads(line) for line in ndjson.read_text().splitlines()]
    assert len({rule["rule_id"] for rule in rules}) == len(rules) > 0
    for target, extension in (("splunk", "spl"), ("eql", "eql"), ("esql", "esql"), ("lucene", "lucene")):
        assert list((build_dir / "queries" / target).glob(f"*.{extension}")), target


def test_build_report_names_every_skip_with_its_reason(build_dir: Path, cli_build: CliBuild) -> None:
    report = json.loads((build_dir / "build-report.json").read_text())
    printed = cli_build.output.replace("\n", "")
    assert "skipped for" in printed and str(build_dir / "build-report.json") in printed
    assert report["skipped"], "correlations are skipped for Lucene, so the report cannot be empty"
    for entry in report["skipped"]:
        assert entry["reason"] and entry["rule"] and entry["target"]
    lucene_skips = {entry["rule"] for entry in report["skipped"] if entry["target"] == "lucene"}
    assert "okta_user_sessions_from_multiple_countries" in lucene_skips


def test_check_passes_on_the_pack() -> None:
    code, output = _invoke("check")
    assert code == 0, output


def test_build_and_check_fail_on_a_broken_rule_naming_file_and_line(tmp_path: Path) -> None:
    source = next(rules_dir().rglob("win_user_added_to_local_administrators.yml"))
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace("condition:", "condition: [", 1))
    line = next(n for n, text in enumerate(broken.read_text().splitlines(), 1) if "condition: [" in text)
    for command in (
        ["build", "--out", str(tmp_path / "out"), "--rules", str(tmp_path)],
        ["check", "--rules", str(tmp_path)],
    ):
        code, output = _invoke(*command)
        assert code == 2, output
        assert f"{broken}:" in output.replace("\n", "")
        assert "Traceback" not in output
    assert f"started on line {line}" in output.replace("\n", " ")
