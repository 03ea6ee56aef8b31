"""The built Splunk app: AppInspect (cloud), confs, searches, macros, schedule, dashboards, package hygiene."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from splunk_appinspect.configuration_file import ConfigurationFile
from splunk_appinspect.configuration_parser import configuration_lexer
from splunk_appinspect.configuration_parser import parse as appinspect_parse

import ghosthire
from ghosthire.compile import TargetOutput
from ghosthire.deploy.splunk_choices import selected_searches
from ghosthire.deploy.splunk_package import load_package
from ghosthire.rules import RulePack
from ghosthire.splunk.app import build_app
from ghosthire.splunk.checks import macro_calls
from ghosthire.splunk.conf import Stanzas, parse_conf
from ghosthire.splunk.dashboards import problems
from ghosthire.splunk.searches import BASELINE_SUFFIX, SEARCH_NAME_PREFIX, TSTATS_SUFFIX, is_building_block

APPINSPECT = Path(sys.executable).with_name("splunk-appinspect")


def conf(app_files: dict[str, bytes], path: str) -> Stanzas:
    return parse_conf(app_files[path].decode("utf-8"), path)


def rule_searches(app_files: dict[str, bytes]) -> dict[str, dict[str, str]]:
    """Every saved search but the roll-up: the ones compiled from rules (never none: the tests that loop
    over them would pass on nothing)."""
    searches = {
        name: keys
        for name, keys in conf(app_files, "default/savedsearches.conf").items()
        if keys.get("action.summary_index") == "1"
    }
    assert len(searches) > 50, f"only {len(searches)} rule searches"
    return searches


def test_appinspect_cloud_precert_passes_without_warnings(built_app: Path) -> None:
    result = subprocess.run(
        [
            str(APPINSPECT),
            "inspect",
            str(built_app),
            "--mode",
            "precert",
            "--included-tags",
            "cloud",
            "--skip-trusted-libraries-update",
            "--ci",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = result.stdout[result.stdout.rfind("Report Summary") :]
    flagged = re.findall(r"^\[\s*[FWE]\s*\] - \S+", result.stdout, re.MULTILINE)
    files = sorted(set(re.findall(r"File: (\S+)", result.stdout)))
    assert result.returncode == 0, f"AppInspect flagged {flagged} in {files}\n{summary}"
    assert re.search(r"warning:\s+0\b", summary), summary


def test_the_package_is_named_after_the_app_and_version(built_app: Path, app_files: dict[str, bytes]) -> None:
    assert built_app.name == f"ghosthire-{ghosthire.__version__}.tgz"
    app_conf = conf(app_files, "default/app.conf")
    assert app_conf["launcher"]["version"] == app_conf["id"]["version"] == ghosthire.__version__


def test_the_package_holds_only_the_app_and_no_local_or_junk(built_app: Path) -> None:
    with tarfile.open(built_app) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    assert names == sorted(names)
    assert all(name == "ghosthire" or name.startswith("ghosthire/") for name in names)
    assert not [name for name in names if "/local/" in name or name.endswith(("/local", ".DS_Store", ".pyc"))]
    assert {member.mtime for member in members} == {members[0].mtime}
    assert {(member.uid, member.gid, member.uname, member.gname) for member in members} == {(0, 0, "", "")}


def test_the_build_is_byte_for_byte_reproducible(
    pack: RulePack, splunk_output: TargetOutput, built_app: Path, tmp_path: Path
) -> None:
    assert build_app(pack, splunk_output, tmp_path).read_bytes() == built_app.read_bytes()


def test_every_conf_file_parses(app_files: dict[str, bytes]) -> None:
    confs = [path for path in app_files if path.endswith((".conf", ".meta"))]
    assert {
        "default/app.conf",
        "default/savedsearches.conf",
        "default/macros.conf",
        "default/transforms.conf",
    } <= set(confs)
    for path in confs:
        assert conf(app_files, path), f"{path} is empty"


def test_conf_files_read_as_appinspect_reads_them(app_files: dict[str, bytes]) -> None:
    """The pack reads .conf files with ghosthire.splunk.conf (AppInspect's parser is a test tool, see
    docs/architecture.md); on every conf of the app both give the same stanzas, keys and values, and
    AppInspect finds no duplicate stanza or key and no continuation with trailing whitespace."""
    for path in [path for path in app_files if path.endswith((".conf", ".meta"))]:
        text = app_files[path].decode("utf-8")
        inspected = appinspect_parse(text, ConfigurationFile(), configuration_lexer)
        assert inspected.errors == [], f"{path}: {inspected.errors[:3]}"
        by_appinspect = {
            section.name: {key: value for key, value, _ in section.items()}
            for section in inspected.sections()
        }
        assert parse_conf(text, path) == by_appinspect, path


def test_app_conf_identifies_the_app(app_files: dict[str, bytes]) -> None:
    app_conf = conf(app_files, "default/app.conf")
    assert app_conf["package"]["id"] == app_conf["id"]["name"] == "ghosthire"
    assert app_conf["install"]["is_configured"] == "false"


def test_app_manifest_matches_app_conf(app_files: dict[str, bytes]) -> None:
    """The packaging toolkit's manifest names the same app and version as app.conf, for search heads."""
    manifest = json.loads(app_files["app.manifest"])
    app_conf = conf(app_files, "default/app.conf")
    assert manifest["schemaVersion"] == "2.0.0"
    assert manifest["info"]["id"] == {
        "group": None,
        "name": app_conf["id"]["name"],
        "version": app_conf["id"]["version"],
    }
    assert manifest["targetWorkloads"] == ["_search_heads"]


def test_metadata_never_grants_write_to_everyone(app_files: dict[str, bytes]) -> None:
    access = [
        keys["access"] for keys in conf(app_files, "metadata/default.meta").values() if "access" in keys
    ]
    assert access
    assert not [value for value in access if re.search(r"write\s*:\s*\[[^\]]*\*", value)]


def test_one_saved_search_per_compiled_rule_except_building_blocks_of_correlations(
    app_files: dict[str, bytes], splunk_output: TargetOutput, pack: RulePack
) -> None:
    """A building block a correlation reads has no search of its own; one no correlation reads keeps a
    search that writes risk and never a notable."""
    searches = rule_searches(app_files)
    raw = {name for name in searches if not name.endswith(TSTATS_SUFFIX)}
    read = {pack.of(ref.rule).name for rule in pack.rules if rule.is_correlation for ref in rule.rule.rules}
    expected = {
        SEARCH_NAME_PREFIX + item.rule.title
        for item in splunk_output.ok()
        if not is_building_block(item.rule) or item.rule.name not in read
    }
    assert raw == expected
    standalone = [
        item.rule
        for item in splunk_output.ok()
        if is_building_block(item.rule) and item.rule.name not in read
    ]
    assert standalone, "the pack has a building block no correlation reads (the VoIP applicant)"
    for rule in standalone:
        keys = searches[SEARCH_NAME_PREFIX + rule.title]
        assert keys["action.notable"] == "0" and keys["action.risk"] == "1", rule.name


def test_every_search_ends_with_its_own_defined_filter_macro(app_files: dict[str, bytes]) -> None:
    macros = conf(app_files, "default/macros.conf")
    for name, keys in conf(app_files, "default/savedsearches.conf").items():
        lines = keys["search"].splitlines()
        if json.loads(keys["action.correlationsearch.annotations"])["ghosthire_role"] == "identity-keys":
            assert lines[-1] == "| outputlookup ghosthire_identity_keys", name  # no results, nothing to tune
            continue
        if name.endswith(BASELINE_SUFFIX):  # the search it serves, then the baseline's lookup update
            assert lines[-1].startswith("| `ghosthire_first_seen_update("), name
            lines = lines[:-1]
        last_line = lines[-1]
        match = re.fullmatch(r"\| `(\w+_filter)`", last_line)
        assert match, f"{name}: search ends with {last_line!r}"
        assert macros[match[1]]["definition"] == "search *"


def test_every_macro_a_search_or_dashboard_calls_is_defined(app_files: dict[str, bytes]) -> None:
    macros = conf(app_files, "default/macros.conf")
    searches = conf(app_files, "default/savedsearches.conf")
    texts = [
        keys[key]
        for keys in searches.values()
        for key in ("search", "action.notable.param.drilldown_search")
        if key in keys
    ]
    texts += [keys["definition"] for keys in macros.values()]
    texts += [
        query for definition in dashboard_definitions(app_files).values() for query in queries(definition)
    ]
    assert set().union(*(macro_calls(text) for text in texts)) <= macros.keys()


def test_every_search_ships_disabled_and_recommended_ones_are_annotated(
    app_files: dict[str, bytes], pack: RulePack
) -> None:
    for name, keys in conf(app_files, "default/savedsearches.conf").items():
        assert keys["disabled"] == "1", name
    for name, keys in rule_searches(app_files).items():
        rule = pack.get(keys["action.summary_index.ghosthire_rule"])
        recommended = (
            rule.meta is not None and rule.meta.enabled_by_default and not name.endswith(TSTATS_SUFFIX)
        )
        annotations = json.loads(keys["action.correlationsearch.annotations"])
        assert annotations["ghosthire_recommended"] is recommended, name
        assert annotations["ghosthire_level"] == rule.level, name


def test_searches_are_scheduled_with_lag_and_never_real_time(app_files: dict[str, bytes]) -> None:
    for name, keys in conf(app_files, "default/savedsearches.conf").items():
        assert keys["enableSched"] == "1", name
        assert not keys["dispatch.earliest_time"].startswith("rt") and not keys[
            "dispatch.latest_time"
        ].startswith("rt")
        assert not any(key.startswith("action.script") for key in keys), name
    for name, keys in rule_searches(app_files).items():
        assert keys["dispatch.latest_time"] == "-10m@m", name
        # readable: the window in its largest whole unit, then the ingestion lag
        assert re.fullmatch(r"-(\d+d|\d+h|\d+m)@m-10m", keys["dispatch.earliest_time"]), name
        assert not re.search(r"-(\d*)(?:1440|60)m", keys["dispatch.earliest_time"]), name
        assert keys["allow_skew"] == "10m", name


def test_cron_minutes_are_spread_over_the_hour(app_files: dict[str, bytes]) -> None:
    minutes = [keys["cron_schedule"].split()[0] for keys in rule_searches(app_files).values()]
    assert all(re.fullmatch(r"\d{1,2}", minute) and int(minute) < 60 for minute in minutes)
    assert len(set(minutes)) >= min(len(minutes), 60) / 2
    assert max(minutes.count(minute) for minute in minutes) <= max(3, len(minutes) // 10)


def test_risk_annotations_and_notable_settings_are_consistent(
    app_files: dict[str, bytes], pack: RulePack
) -> None:
    for name, keys in rule_searches(app_files).items():
        person, risk, *others = json.loads(keys["action.risk.param._risk"])
        # the person the entity resolved to, else the entity (tests/splunk/test_persons.py); for a shared
        # entity also the persons behind it
        assert (person["risk_object_field"], risk["risk_object_field"]) == ("risk_person", "risk_unresolved")
        behind = [item for item in others if item.get("risk_object_field") == "risk_persons_behind"]
        threats = [item for item in others if item not in behind]
        rule_persons = pack.get(keys["action.summary_index.ghosthire_rule"]).meta.risk.persons
        assert len(behind) == (1 if rule_persons else 0), name
        entity = keys["alert.suppress.fields"]
        assert f"`ghosthire_risk_person({entity}, " in keys["search"], name
        assert all(set(threat) == {"threat_object_field", "threat_object_type"} for threat in threats)
        assert risk["risk_object_type"] in {"user", "system", "other"}
        assert 1 <= risk["risk_score"] <= 100
        annotations = json.loads(keys["action.correlationsearch.annotations"])
        rule = pack.get(keys["action.summary_index.ghosthire_rule"])
        assert annotations["ghosthire_guidance"] == [str(area) for area in rule.meta.guidance], name
        assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", technique) for technique in annotations["mitre_attack"])
        assert keys["action.correlationsearch.enabled"] == keys["action.risk"] == "1"
        assert f"${entity}$" in keys["action.notable.param.drilldown_search"], name
        assert annotations["analytic_story"][0] == "DPRK Remote IT Workers", name
        assert annotations["data_source"] and annotations["nist"] and annotations["cis20"], name
        assert annotations["type"] in {"TTP", "Anomaly"}, name
        metadata = json.loads(keys["action.correlationsearch.metadata"])
        assert metadata["detection_id"] == rule.id
        changed = rule.rule.modified or rule.rule.date
        assert metadata["detection_version"] == changed.strftime("%Y%m%d"), name
        drilldowns = json.loads(keys["action.notable.param.drilldown_searches"])
        assert drilldowns[0]["search"] == keys["action.notable.param.drilldown_search"], name
        assert {frozenset(item) for item in drilldowns} == {
            frozenset({"name", "search", "earliest_offset", "latest_offset"})
        }


def test_lookups_have_definitions_and_the_new_hire_lookup_has_its_header(app_files: dict[str, bytes]) -> None:
    transforms = conf(app_files, "default/transforms.conf")
    shipped = {path.removeprefix("lookups/") for path in app_files if path.startswith("lookups/")}
    assert {keys["filename"] for keys in transforms.values()} == shipped
    assert (
        app_files["lookups/ghosthire_new_hires.csv"].decode().splitlines()[0]
        == "user,start_date,expected_country"
    )
    assert "ghosthire_rules.csv" in shipped


def dashboard_definitions(app_files: dict[str, bytes]) -> dict[str, dict]:
    views = {path: text for path, text in app_files.items() if path.startswith("default/data/ui/views/")}
    definitions = {}
    for path, text in views.items():
        xml = text.decode("utf-8")
        assert xml.startswith('<dashboard version="2" theme="dark">'), path
        body = xml[xml.index("<![CDATA[") + len("<![CDATA[") : xml.index("]]>")]
        definitions[path] = json.loads(body)
    return definitions


def queries(definition: dict) -> list[str]:
    return [
        source["options"]["query"]
        for source in definition["dataSources"].values()
        if "query" in source.get("options", {})
    ]


def test_dashboards_are_studio_json_with_every_reference_defined(app_files: dict[str, bytes]) -> None:
    definitions = dashboard_definitions(app_files)
    assert {Path(path).stem for path in definitions} == {
        "ghosthire_overview",
        "ghosthire_person",
        "ghosthire_entity",
        "ghosthire_hiring",
    }
    for path, definition in definitions.items():
        assert problems(definition) == [], path


def test_navigation_lists_every_dashboard(app_files: dict[str, bytes]) -> None:
    nav = app_files["default/data/ui/nav/default.xml"].decode("utf-8")
    views = {Path(path).stem for path in app_files if path.startswith("default/data/ui/views/")}
    assert set(re.findall(r'<view name="(ghosthire_\w+)"', nav)) == views


@pytest.mark.parametrize("definition_problem", ["unknown data source", "unplaced item", "tab without layout"])
def test_a_broken_dashboard_is_reported(definition_problem: str) -> None:
    definition = {
        "title": "t",
        "dataSources": {"ds": {"type": "ds.search", "options": {"query": "| makeresults"}}},
        "visualizations": {"viz": {"type": "splunk.table", "dataSources": {"primary": "ds"}}},
        "layout": {
            "tabs": {"items": [{"layoutId": "main", "label": "t"}]},
            "layoutDefinitions": {"main": {"type": "grid", "structure": [{"item": "viz"}]}},
        },
    }
    if definition_problem == "unknown data source":
        definition["visualizations"]["viz"]["dataSources"]["primary"] = "nope"
    elif definition_problem == "unplaced item":
        definition["layout"]["layoutDefinitions"]["main"]["structure"].append({"item": "ghost"})
    else:
        definition["layout"]["tabs"]["items"].append({"layoutId": "nowhere"})
    culprit = {"unknown data source": "'nope'", "unplaced item": "'ghost'", "tab without layout": "'nowhere'"}
    found = problems(definition)
    assert len(found) == 1 and culprit[definition_problem] in found[0], found


def test_the_installer_selects_the_built_apps_searches_by_their_annotations(built_app: Path) -> None:
    package = load_package(built_app)
    searches = {
        obj.name: json.loads(obj.attributes["action.correlationsearch.annotations"])
        for obj in package.objects
        if obj.kind.name == "savedsearch"
    }
    remote = selected_searches(package, ("guidance:remote-access",))
    roles = {name: notes["ghosthire_role"] for name, notes in searches.items()}
    assert {name for name in remote if roles[name] == "triage"} == {
        name for name, role in roles.items() if role == "triage"
    }
    detections = {name for name in remote if roles[name] == "detection"}
    assert detections == {
        name
        for name, notes in searches.items()
        if notes["ghosthire_role"] == "detection" and "remote-access" in notes["ghosthire_guidance"]
    }
    assert not any(name.endswith(TSTATS_SUFFIX) for name in selected_searches(package, ("all",)))
    assert selected_searches(package, ()) == set()
