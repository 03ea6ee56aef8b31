"""The dashboards checked by Splunk's own Dashboard Studio validator (@splunk/dashboard-validation), against
the schema Dashboard Studio builds from its Enterprise preset (@splunk/dashboard-presets), both pinned in
tests/splunk/dashboard_studio/package.json and installed from the npm registry into a cache directory by
scripts/dashboard-tools.sh. Skipped, with the reason, only when npm or the registry is unavailable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.splunk.test_app import dashboard_definitions

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = Path(__file__).parent / "dashboard_studio" / "validate.js"
NOT_AVAILABLE = 3  # scripts/dashboard-tools.sh: npm or the registry is unavailable


@pytest.fixture(scope="session")
def node_modules() -> Path:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "dashboard-tools.sh")], capture_output=True, text=True, timeout=900
    )
    if done.returncode == NOT_AVAILABLE:
        pytest.skip(f"Dashboard Studio validator not installed: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip()) / "node_modules"


def validate(node_modules: Path, definitions: dict[str, dict], directory: Path) -> dict[str, object]:
    """Splunk's validator's errors per definition (None: valid)."""
    files = []
    for name, definition in definitions.items():
        path = directory / f"{Path(name).stem}.json"
        path.write_text(json.dumps(definition))
        files.append(str(path))
    done = subprocess.run(
        ["node", str(VALIDATE), *files],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {Path(file).stem: errors for file, errors in json.loads(done.stdout).items()}


def broken_copies(overview: dict) -> dict[str, dict]:
    """The overview with a mistake Dashboard Studio would refuse, by what is wrong."""
    unknown_type = json.loads(json.dumps(overview))
    unknown_type["visualizations"]["viz_queue"]["type"] = "splunk.no_such_chart"
    unplaced = json.loads(json.dumps(overview))
    unplaced["visualizations"]["viz_orphan"] = {
        "type": "splunk.table",
        "dataSources": {"primary": "ds_queue"},
    }
    old_layout = json.loads(json.dumps(overview))
    old_layout["layout"] = {"type": "grid", "structure": []}
    return {"broken_unknown_type": unknown_type, "broken_unplaced": unplaced, "broken_old_layout": old_layout}


@pytest.fixture(scope="module")
def verdicts(
    node_modules: Path, app_files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, object], dict[str, object]]:
    """The validator's errors on every shipped dashboard and on the broken copies, from one node run (the
    validator takes seconds to start)."""
    shipped = {Path(name).stem: definition for name, definition in dashboard_definitions(app_files).items()}
    assert len(shipped) == 4
    broken = broken_copies(shipped["ghosthire_overview"])
    results = validate(node_modules, shipped | broken, tmp_path_factory.mktemp("dashboards"))
    return {name: results[name] for name in shipped}, {name: results[name] for name in broken}


def test_every_dashboard_passes_splunks_validator(
    verdicts: tuple[dict[str, object], dict[str, object]],
) -> None:
    shipped, _ = verdicts
    assert shipped == dict.fromkeys(shipped), {name: errors for name, errors in shipped.items() if errors}


def test_the_validator_rejects_what_dashboard_studio_would(
    verdicts: tuple[dict[str, object], dict[str, object]],
) -> None:
    _, broken = verdicts
    assert all(broken.values()), broken
    assert "viz_orphan" in json.dumps(broken["broken_unplaced"])
