"""Every rule of the pack on Splunk: compiled, or skipped with a reason; strict pipelines that stay tidy."""

from __future__ import annotations

from pathlib import Path

import yaml

from ghosthire.compile import Target, TargetOutput
from ghosthire.content import backends_dir
from ghosthire.splunk.conf import parse_conf

SPLUNK_PIPELINES = backends_dir() / "splunk"


def test_every_rule_compiles_or_is_skipped_with_a_reason(splunk_output: TargetOutput) -> None:
    assert len(splunk_output.ok()) > 50
    for item in splunk_output.compiled:
        if item.ok:
            assert len(item.queries) == 1, item.rule.name
            assert item.queries[0].endswith(f"| `{item.rule.name}_filter`"), item.rule.name
        else:
            assert item.skipped and item.skipped.strip(), item.rule.name


def test_no_rule_is_skipped_because_a_building_block_was_converted_out_of_order(
    splunk_output: TargetOutput,
) -> None:
    stale = [
        item.rule.name
        for item in splunk_output.skipped()
        if "Conversion result not available" in (item.skipped or "")
    ]
    assert stale == []


def test_the_splunk_target_uses_every_splunk_pipeline_file(splunk_target: Target) -> None:
    on_disk = {path.relative_to(backends_dir()).as_posix() for path in SPLUNK_PIPELINES.glob("*.yml")}
    assert set(splunk_target.pipelines) == on_disk - {"splunk/variants.yml"}


def test_every_log_source_state_has_a_source_macro(app_files: dict[str, bytes]) -> None:
    """Each `splunk_source` value a pipeline sets names a `ghosthire_src_*` macro the app defines."""
    sources = {
        item["val"]
        for path in SPLUNK_PIPELINES.glob("*.yml")
        for item in (yaml.safe_load(path.read_text()) or {}).get("transformations", [])
        if item.get("type") == "set_state"
        and item.get("key") == "splunk_source"
        and item["val"] != "unmapped"
    }
    macros = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    assert {f"ghosthire_src_{source}" for source in sources} <= macros.keys()


def test_pipeline_files_are_named_for_what_they_map() -> None:
    paths = list(SPLUNK_PIPELINES.rglob("*.yml"))
    assert len(paths) > 5, SPLUNK_PIPELINES
    for path in paths:
        loaded = yaml.safe_load(Path(path).read_text())
        assert "targets" in loaded or loaded.get("name", "").startswith("ghosthire splunk"), path
