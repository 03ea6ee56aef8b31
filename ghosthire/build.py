"""The build: rules -> every target's queries -> plain query files, the Splunk app, Kibana rules.

The output is written into a temporary sibling of the output directory and renamed into place at the
end, so a build that fails half-way leaves the previous output as it was, never a mix of the two.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ghosthire.compile import TargetOutput, compile_target, load_targets
from ghosthire.content import rules_dir
from ghosthire.errors import GhosthireError, error_message
from ghosthire.rules import RulePack, load_pack

REPORT_NAME = "build-report.json"


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
    """Compile every rule for every target and write all artifacts into out_dir, replacing a previous
    build there only once the new one is complete. A failure is one GhosthireError naming its step."""
    _check_replaceable(out_dir)
    step = ""

    def enter(name: str) -> None:
        nonlocal step
        step = name
        on_step(name)

    try:
        enter("loading rules")
        pack = load_pack(rules or rules_dir())
        outputs: dict[str, TargetOutput] = {}
        for target in load_targets():
            enter(f"compiling for {target.label}")
            outputs[target.id] = compile_target(pack, target)
        result = BuildResult(out_dir, pack, outputs)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
        try:
            _write_artifacts(result, staging, enter)
            enter("putting the output in place")
            _replace(out_dir, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except GhosthireError:
        raise
    except Exception as error:  # any failure is one line naming its step; the old output is untouched
        raise GhosthireError(
            f"build failed while {step}: {error_message(error)} ({out_dir} is left as it was)"
        ) from error
    return result


def _write_artifacts(result: BuildResult, staging: Path, enter: Callable[[str], None]) -> None:
    """Every artifact into the staging directory; `result.artifacts` names where each will be."""
    pack, outputs = result.pack, result.outputs
    enter("writing plain queries")
    written = {"queries": write_queries(outputs, staging / "queries")}
    enter("packaging the Splunk app")
    written["splunk_app"] = _splunk_app(pack, outputs["splunk"], staging)
    enter("writing Kibana detection rules")
    written["kibana_rules"] = _kibana_rules(pack, outputs, staging)
    result.artifacts = {name: result.out_dir / path.relative_to(staging) for name, path in written.items()}
    enter("writing the build report")
    result.artifacts["report"] = result.out_dir / REPORT_NAME
    _write_report(result, staging / REPORT_NAME)


def _check_replaceable(out_dir: Path) -> None:
    """A build replaces a previous build or an empty directory, never other files."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise GhosthireError(f"--out {out_dir} is a file, not a directory")
    if any(out_dir.iterdir()) and not (out_dir / REPORT_NAME).is_file():
        raise GhosthireError(
            f"--out {out_dir} holds files that are not a ghosthire build (no {REPORT_NAME}); "
            "give a new or empty directory"
        )


def _replace(out_dir: Path, staging: Path) -> None:
    """Rename the staging directory to out_dir, the previous output moved aside first and put back if
    the rename fails."""
    previous = staging.with_name(staging.name + ".previous") if out_dir.exists() else None
    if previous is not None:
        out_dir.rename(previous)
    try:
        staging.rename(out_dir)
    except OSError:
        if previous is not None:
            previous.rename(out_dir)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def write_queries(outputs: dict[str, TargetOutput], directory: Path) -> Path:
    """One file per rule and target, for people who paste queries by hand."""
    for target_id, output in outputs.items():
        target_dir = directory / target_id
        target_dir.mkdir(parents=True, exist_ok=True)
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
