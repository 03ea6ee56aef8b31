"""`ghosthire build --out DIR` replaces DIR only with a complete build: a failure late in packaging
leaves the previous output as it was, no staging directory behind, and one line naming the step and
the cause. Only the Splunk target is compiled here (the property is the directory's, and compiling
every target would cost the suite seconds per build); the Kibana step is where the failure is forced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import ghosthire.build
from ghosthire.cli import _register, cli
from ghosthire.compile import load_targets
from ghosthire.content import rules_dir


def _build(rules: Path, out: Path) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, ["build", "--rules", str(rules), "--out", str(out)])
    return result.exit_code, result.output


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes() for path in directory.rglob("*") if path.is_file()
    }


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    source = next(rules_dir().rglob("win_user_added_to_local_administrators.yml"))
    shutil.copy(source, directory / source.name)
    splunk = [target for target in load_targets() if target.id == "splunk"]
    monkeypatch.setattr(ghosthire.build, "load_targets", lambda: splunk)
    return directory


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A previous build: its report, an app and a query file of a rule since deleted."""
    out = tmp_path / "out"
    (out / "queries" / "splunk").mkdir(parents=True)
    (out / "queries" / "splunk" / "deleted_rule.spl").write_text("index=old\n", encoding="utf-8")
    (out / "ghosthire-0.0.1.tgz").write_bytes(b"previous app")
    (out / "build-report.json").write_text("{}\n", encoding="utf-8")
    return out


def test_a_late_failure_leaves_the_previous_build_intact(
    rules: Path, previous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(previous)

    def disk_full(*_: object) -> Path:
        raise OSError(28, "No space left on device", str(tmp_path / "staged.ndjson"))

    monkeypatch.setattr(ghosthire.build, "_kibana_rules", disk_full)
    code, output = _build(rules, previous)
    assert code == 2 and "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert "while writing Kibana detection rules: No space left on device" in line
    assert _files(previous) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "rules"]


def test_a_complete_build_replaces_the_previous_one(
    rules: Path, previous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def kibana_rules(_pack: object, _outputs: object, directory: Path) -> Path:
        return directory

    monkeypatch.setattr(ghosthire.build, "_kibana_rules", kibana_rules)
    code, output = _build(rules, previous)
    assert code == 0, output
    files = _files(previous)
    assert "queries/splunk/deleted_rule.spl" not in files and "ghosthire-0.0.1.tgz" not in files
    assert "queries/splunk/win_user_added_to_local_administrators.spl" in files
    report = json.loads(files["build-report.json"])
    assert report["artifacts"]["queries"] == str(previous / "queries")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "rules"]


def test_a_directory_of_other_files_is_not_replaced(rules: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    code, output = _build(rules, out)
    assert code == 2 and "not a ghosthire build" in output
    assert _files(out) == {"keep.txt": b"mine"}
