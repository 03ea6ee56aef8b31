"""Smoke test of the company-week benchmark (scripts/simulate_company.py) at its smallest size: the company
is generated, the pack hunts its logs, and every planted worker's signals are found. The figures
themselves are the benchmark's to measure, at 2,000 employees, outside the suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ghosthire.content import using_lookups
from ghosthire.hunt.plan import HuntPlan
from ghosthire.hunt.run import hunt

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "simulate_company.py"


@pytest.fixture(scope="module")
def simulation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("simulate_company", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_small_company_week_finds_every_planted_worker(
    simulation: ModuleType, hunt_plan: HuntPlan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    company, planted = simulation.generate(50, 3, 1, tmp_path)
    files = sorted((tmp_path / "logs").iterdir())
    assert {path.name for path in files} >= {"okta.ndjson", "entra_signin.ndjson", "proxy.ndjson", "hr.csv"}

    with using_lookups(tmp_path / "lookups"):  # the company's identities, as the benchmark's --lookups
        outcome = hunt(hunt_plan, files)
    alerts = [alert.to_json() for alert in outcome.alerts]
    figures = simulation.measure(company, planted, alerts, None)

    missed = {name: result["missed"] for name, result in figures["recall"].items() if result["missed"]}
    assert not missed, f"planted signals not found: {missed}"
    # staff in the measured week: the 50 less those who left before it (still in the HR export)
    assert figures["employees"] == simulation.staff(company) and 45 <= figures["employees"] < 50
    assert figures["alerts_in_week"] > 0
    figures["seconds"] = {"generate": 0.0, "hunt": 0.0}
    simulation.report(figures)
    assert "benign persons with a non-building-block alert" in capsys.readouterr().out
