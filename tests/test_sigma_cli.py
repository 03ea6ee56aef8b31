"""sigma-cli as a front door: the pack's pipelines and backends are a pySigma plugin, and what
`sigma convert` writes with them is what `ghosthire build` compiles, rule for rule."""

from __future__ import annotations

import importlib
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sigma.cli.convert import convert as sigma_convert
from sigma.exceptions import SigmaConfigurationError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import transformations

from ghosthire.compile import TargetOutput, compile_target
from ghosthire.compile.targets import Target, target_by_id
from ghosthire.content import backends_dir, rules_dir
from ghosthire.rules import RulePack, load_pack
from sigma.pipelines import ghosthire as ghosthire_plugin

PIPELINE = {"splunk": "ghosthire_splunk", "eql": "ghosthire_elastic", "esql": "ghosthire_elastic"}
PIPELINE["lucene"] = "ghosthire_elastic"


def _sigma_convert(target: str, pipeline: str, rules: Path) -> str:
    result = CliRunner().invoke(sigma_convert, ["-s", "-t", target, "-p", pipeline, str(rules)])
    assert result.exit_code == 0, result.output
    return result.stdout.removeprefix("Parsing Sigma rules\n").split("\nIgnored errors:")[0].rstrip("\n")


def _as_sigma_cli(target_id: str) -> Target:
    """The target as sigma-cli runs it: a rule's comparison with the identity lookup (`identity_check`) and
    its per-person aggregation (`work_pattern`) are the build's, after the backend, so sigma-cli writes
    such a rule's detection alone, on every target."""
    return target_by_id(target_id).model_copy(
        update={
            "identity_checks": True,
            "identity_stage": None,
            "work_patterns": True,
            "work_pattern_stage": None,
        }
    )


def _as_sigma_cli_writes(pack: RulePack, built: TargetOutput) -> TargetOutput:
    """The build's output, the rules it completes after the backend (and the correlations over them)
    compiled again as sigma-cli runs the target."""
    completed = {
        pack_rule.name
        for pack_rule in pack.rules
        if any(
            rule.meta and (rule.meta.identity_check or rule.meta.work_pattern)
            for rule in pack.dependencies(pack_rule)
        )
    }
    assert completed, "rules the build completes are exercised"
    again = compile_target(pack.subset(sorted(completed)), _as_sigma_cli(built.target.id))
    by_id = {item.rule.id: item for item in again.compiled}
    return TargetOutput(built.target, [by_id.get(item.rule.id, item) for item in built.compiled])


def _built(output: TargetOutput) -> str:
    """The build's queries in the pack's order; a rule only a correlation uses outputs nothing of its own."""
    return "\n\n".join(str(query) for item in output.ok() if item.rule.rule._output for query in item.queries)


@pytest.mark.parametrize("target", sorted(PIPELINE))
def test_the_ghosthire_backends_write_what_the_build_writes(
    pack: RulePack, target_outputs: dict[str, TargetOutput], target: str
) -> None:
    """The whole pack: filters, correlations and the build's own correlation forms included."""
    converted = _sigma_convert(f"ghosthire_{target}", PIPELINE[target], rules_dir())
    assert converted and converted == _built(_as_sigma_cli_writes(pack, target_outputs[target]))


def test_stock_backends_with_the_pipelines(tmp_path: Path) -> None:
    """Stock pySigma backends with the pack's pipelines: Splunk writes the build's searches (placeholders
    filled from the lookups, source and filter macros); the stock Elastic backends convert every rule but
    match case-sensitively and name no index (docs/sigma-cli.md). Correlations differ by design, and
    sigma-cli applies Sigma filter files twice, so both are left out here."""
    for path in rules_dir().rglob("*.yml"):
        if "correlation:" not in path.read_text(encoding="utf-8") and path.parent.name != "filters":
            shutil.copy(path, tmp_path / path.name)
    pack = load_pack(tmp_path)
    assert any("|expand" in rule.path.read_text() for rule in pack.rules), "placeholders are exercised"
    for target in sorted(PIPELINE):
        # sigma-cli reads a directory in file-system order: compare the queries, not their order.
        converted = sorted(_sigma_convert(target, PIPELINE[target], tmp_path).split("\n\n"))
        # Every query the build writes parses (the build checks it); here only the text is compared.
        unchecked = _as_sigma_cli(target).model_copy(update={"syntax": None})
        built = sorted(_built(compile_target(pack, unchecked)).split("\n\n"))
        if target == "splunk":
            # The stock backend quotes JSON-array field names (`"a{}.b"`); ghosthire's writes them bare.
            assert sorted(re.sub(r'"([\w.]*\{\}[\w.{}]*)"', r"\1", query) for query in converted) == built
        else:
            assert len(converted) == len(built) and not any("%" in query for query in converted), target


def test_the_elastic_pipeline_files_load_on_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline file names the pack's transformations; importing the plugin (as sigma-cli's discovery
    does) registers them, whatever else was imported before: this process has already imported the
    backends, so their registrations are taken away first."""
    windows = backends_dir() / "elastic" / "windows.yml"
    for name in yaml.safe_load((backends_dir() / "targets.yml").read_text(encoding="utf-8"))[
        "transformations"
    ]:
        monkeypatch.delitem(transformations, name)
    with pytest.raises(SigmaConfigurationError, match="Unknown transformation type"):
        ProcessingPipeline.from_yaml(windows.read_text(encoding="utf-8"))
    importlib.reload(ghosthire_plugin)
    rule = next(rules_dir().rglob("win_user_added_to_local_administrators.yml"))
    pipelines = [
        arg
        for name in ("windows", "values")
        for arg in ("-p", str(backends_dir() / "elastic" / f"{name}.yml"))
    ]
    result = CliRunner().invoke(sigma_convert, ["-t", "eql", *pipelines, str(rule)])
    assert result.exit_code == 0, result.output
    assert "Unknown transformation" not in result.output and "event.code" in result.output
