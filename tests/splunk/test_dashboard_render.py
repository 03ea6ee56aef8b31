"""Every dashboard rendered by Splunk's own Dashboard Studio components in headless Chromium, with snapshot
data from a local hunt.

The alerts of `ghosthire hunt examples/` become the summary-index events the app's searches write
(`ghosthire_rule`, `ghosthire_search_id`, the search's entity field); each data source's real query then
runs in the SPL interpreter (tests/splunk/spl_window.py) with the app's macros and lookups, chains over
their parent's results, and the results replace the searches as `ds.test` data sources. The page (the
view-only Enterprise preset, bundled with esbuild from tests/splunk/dashboard_studio/render.jsx) is
read back as the DOM Chromium rendered. GHOSTHIRE_SCREENSHOTS=DIR keeps the pages and adds a screenshot
of each (to look at them).
Skipped, with the reason, without node, npm or the registry, or without chromium.

A campaign (Chromium takes tens of seconds per dashboard): test.sh runs it after the suite with
`pytest -m campaign`; a plain `pytest` leaves it out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ghosthire.hunt import HuntOutcome
from tests.splunk.spl_window import Event, Lookups, app_lookups, app_macros, run
from tests.splunk.test_app import dashboard_definitions
from tests.splunk.test_dashboard_studio import node_modules  # noqa: F401  (fixture)
from tests.splunk.test_persons import hunt_persons, hunt_summary_events, queue_time

pytestmark = pytest.mark.campaign

ROOT = Path(__file__).resolve().parents[2]
RENDER = Path(__file__).parent / "dashboard_studio" / "render.jsx"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def bundle(node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    out = tmp_path_factory.mktemp("render") / "bundle.js"
    done = subprocess.run(
        [
            str(node_modules / ".bin" / "esbuild"),
            str(RENDER),
            "--bundle",
            f"--outfile={out}",
            "--loader:.js=jsx",
            '--define:process.env.NODE_ENV="production"',
            "--define:global=window",
            "--minify",
            "--log-level=error",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def summary_events(examples_hunt: HuntOutcome, app_files: dict[str, bytes]) -> list[Event]:
    events = hunt_summary_events(examples_hunt.alerts, app_files)
    assert len(events) > 20
    return events


@pytest.fixture(scope="module")
def search_time(examples_hunt: HuntOutcome) -> float:
    """When the dashboards' searches run: as the local queue's last window ends (the triage searches
    read back from now())."""
    return queue_time([person for person in hunt_persons(examples_hunt.alerts) if person.triage])


def snapshot(
    definition: dict[str, Any],
    events: list[Event],
    macros: dict[str, str],
    lookups: Lookups,
    tokens: dict[str, str],
    now: float,
) -> tuple[dict[str, Any], dict[str, list[Event]]]:
    """The definition with every search replaced by its results over `events`, and those results."""
    results: dict[str, list[Event]] = {}

    def results_of(name: str) -> list[Event]:
        if name not in results:
            source = definition["dataSources"][name]
            query = source["options"]["query"]
            for token, value in tokens.items():
                query = query.replace(f"${token}$", value)
            if source["type"] == "ds.chain":
                results[name] = run(
                    f"*\n{query}",
                    results_of(source["options"]["extend"]),
                    macros=macros,
                    lookups=lookups,
                    now=now,
                )
            else:
                results[name] = run(query, events, macros=macros, lookups=lookups, now=now)
        return results[name]

    rendered = json.loads(json.dumps(definition))
    rendered.pop("defaults", None)
    rendered["dataSources"] = {
        name: {
            "type": "ds.test",
            "name": source.get("name", name),
            "options": {"data": _table(results_of(name))},
        }
        for name, source in definition["dataSources"].items()
    }
    for item in rendered.get("inputs", {}).values():
        if item.get("options", {}).get("token") in tokens:
            item["options"]["defaultValue"] = tokens[item["options"]["token"]]
    # The time picker needs Splunk Web; the snapshot has its own fixed range.
    timeranges = [
        name for name, item in rendered.get("inputs", {}).items() if item["type"] == "input.timerange"
    ]
    for name in timeranges:
        del rendered["inputs"][name]
    rendered["layout"]["globalInputs"] = [
        name for name in rendered["layout"].get("globalInputs", []) if name not in timeranges
    ]
    return rendered, results


def _table(rows: list[Event]) -> dict[str, Any]:
    fields = list(
        dict.fromkeys(name for row in rows for name in row if name == "_time" or not name.startswith("_"))
    )
    return {
        "fields": [{"name": name} for name in fields],
        "columns": [[_cell(name, row.get(name)) for row in rows] for name in fields],
    }


def _cell(name: str, value: Any) -> Any:
    if name == "_time" and value is not None:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    return ", ".join(str(item) for item in value) if isinstance(value, list) else value


def render(bundle: Path, name: str, definition: dict[str, Any], directory: Path, screenshot: bool) -> str:
    """The rendered page's DOM; with `screenshot`, also `<name>.png` next to the page."""
    page = directory / f"{name}.html"
    shutil.copy(bundle, directory / "bundle.js")
    if bundle.with_suffix(".css").exists():
        shutil.copy(bundle.with_suffix(".css"), directory / "bundle.css")
    page.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="bundle.css">'
        '<style>html,body,#root{margin:0;height:100%;background:#111}</style></head><body><div id="root"></div>'
        f"<script>window.GHOSTHIRE_DEFINITION = {json.dumps(definition)};</script>"
        '<script src="bundle.js"></script></body></html>'
    )
    height = max(
        block["position"]["y"] + block["position"]["h"]
        for layout in definition["layout"]["layoutDefinitions"].values()
        for block in layout["structure"]
    )
    common = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    common += [f"--window-size=1440,{height + 120}", "--virtual-time-budget=20000"]
    if screenshot:
        image = directory / f"{name}.png"
        subprocess.run(
            [*common, f"--screenshot={image}", page.as_uri()], capture_output=True, timeout=180, check=True
        )
        assert image.stat().st_size > 20_000, name
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180, check=True
    )
    return dom.stdout


def test_every_dashboard_renders_with_a_hunts_snapshot(
    bundle: Path,
    app_files: dict[str, bytes],
    summary_events: list[Event],
    search_time: float,
    tmp_path: Path,
) -> None:
    macros, lookups = app_macros(app_files), app_lookups(app_files)
    definitions = {Path(path).stem: d for path, d in dashboard_definitions(app_files).items()}
    _, overview_results = snapshot(
        definitions["ghosthire_overview"], summary_events, macros, lookups, {}, search_time
    )
    persons = overview_results["ds_persons"]
    queue = overview_results["ds_queue"]
    assert persons and queue, "the examples' hunt puts someone in the triage queue"
    top = next(person for person in persons if person["person"] == queue[0]["person"])
    tokens = {"person": str(top["person"]), "entity": str(_values(top["identifiers"])[0])}
    keep = os.environ.get("GHOSTHIRE_SCREENSHOTS")
    directory = Path(keep or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, definition in definitions.items():
        rendered, results = snapshot(definition, summary_events, macros, lookups, tokens, search_time)
        dom = render(bundle, name, rendered, directory, screenshot=bool(keep))
        assert definition["title"] in dom or name in dom, name
        for viz in definition["visualizations"].values():
            assert viz.get("title", "") in dom, (name, viz.get("title"))
        if name in ("ghosthire_overview", "ghosthire_person"):
            assert str(top["person"]) in dom, (name, top["person"])
        assert all(results.values()) or name == "ghosthire_hiring", {k: len(v) for k, v in results.items()}


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
