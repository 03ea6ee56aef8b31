"""The build: rules -> every target's queries -> plain query files, the Splunk app, Kibana rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ghosthire.compile import TargetOutput, compile_target, load_targets
from ghosthire.content import rules_dir
from ghosthire.rules import RulePack, load_pack


@dataclass
class BuildResult:
    out_dir: Path
    pack: RulePack
    outputs: dict[str, TargetOutput]
    artifacts: dict[str, Path] = field(default_factory=dict)

    def skipped(self) -> list[tuple[str, str, str]]:
        """(target, rule name, reason) for every rule a target could not express."""
        return [
            (target, item.rule.name, item.skipped or "")
            for target, output in self.outputs.items()
            for item in output.skipped()
        ]


def build(
    out_dir: Path,
    *,
    rules: Path | None = None,
    on_step: Callable[[str], None] = lambda step: None,
) -> BuildResult:
    """Compile every rule for every target and write all artifacts into out_dir."""
    on_step("loading rules")
    pack = load_pack(rules or rules_dir())
    outputs: dict[str, TargetOutput] = {}
    for target in load_targets():
        on_step(f"compiling for {target.label}")
        outputs[target.id] = compile_target(pack, target)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = BuildResult(out_dir, pack, outputs)
    on_step("writing plain queries")
    result.artifacts["queries"] = write_queries(outputs, out_dir / "queries")
    on_step("packaging the Splunk app")
    result.artifacts["splunk_app"] = _splunk_app(pack, outputs["splunk"], out_dir)
    on_step("writing Kibana detection rules")
    result.artifacts["kibana_rules"] = _kibana_rules(pack, outputs, out_dir)
    result.artifacts["report"] = _write_report(result, out_dir / "build-report.json")
    return result


def write_queries(outputs: dict[str, TargetOutput], directory: Path) -> Path:
    """One file per rule and target, for people who paste queries by hand."""
    for target_id, output in outputs.items():
        target_dir = directory / target_id
        target_dir.mkdir(parents=True, exist_ok=True)
        for stale in target_dir.glob(f"*.{output.target.extension}"):
            stale.unlink()
        for item in output.ok():
            text = "\n\n".join(str(query) for query in item.queries)
            (target_dir / f"{item.rule.name}.{output.target.extension}").write_text(
                text + "\n", encoding="utf-8"
            )
    return directory


def _splunk_app(pack: RulePack, spl: TargetOutput, out_dir: Path) -> Path:
    from ghosthire.splunk.app import build_app

    return build_app(pack, spl, out_dir)


def _kibana_rules(pack: RulePack, outputs: dict[str, TargetOutput], out_dir: Path) -> Path:
    from ghosthire.elastic.kibana import write_kibana_rules

    return write_kibana_rules(pack, outputs, out_dir)


def _write_report(result: BuildResult, path: Path) -> Path:
    report = {
        "rules": len(result.pack.rules),
        "targets": {
            target: {"compiled": len(output.ok()), "skipped": len(output.skipped())}
            for target, output in result.outputs.items()
        },
        "skipped": [{"target": t, "rule": r, "reason": why} for t, r, why in result.skipped()],
        "artifacts": {name: str(artifact) for name, artifact in result.artifacts.items()},
    }
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
