"""Build the `ghosthire` Splunk app from the compiled rules: render, re-read, package.

What goes in: the static skeleton (splunk_app/skeleton/, copied as is), the .conf files, navigation and
metadata rendered from splunk_app/templates/app/ (a tree mirroring the app), one Dashboard Studio view per
splunk_app/dashboards/*.json, every CSV of splunk_app/lookups/ plus a generated rule catalogue lookup.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ghosthire
from ghosthire.compile import CompiledRule, Target, TargetOutput, compile_target, load_targets
from ghosthire.content import backends_dir, lookup_filenames, lookup_path, splunk_app_dir
from ghosthire.errors import ContentError
from ghosthire.model.time_zones import time_zones_csv
from ghosthire.rules import RulePack
from ghosthire.splunk.checks import (
    parse_confs,
    require_defined_macros,
    require_values,
    require_views,
)
from ghosthire.splunk.dashboards import Dashboard, load_dashboards
from ghosthire.splunk.entities import (
    FieldResolver,
    cim_entity_field,
    locate_entity,
    metadata_of,
    threat_objects,
)
from ghosthire.splunk.gws import MACRO as GWS_PARAMETERS_MACRO
from ghosthire.splunk.gws import gws_parameters, parameters_macro
from ghosthire.splunk.identity_checks import COUNTRIES, countries_csv
from ghosthire.splunk.package import write_tgz
from ghosthire.splunk.persons import (
    IDENTITY_KEYS,
    TriageSearch,
    company_directory,
    identity_keys,
    threshold_condition,
    window_earliest,
)
from ghosthire.splunk.render import environment, render, render_tree
from ghosthire.splunk.searches import (
    FIRST_SEEN_MACRO,
    FIRST_SEEN_UPDATE_MACRO,
    PERSON_MACRO,
    RISK_PERSON,
    RISK_PERSONS_BEHIND,
    RISK_UNRESOLVED,
    ROLE_IDENTITY_KEYS,
    ROLE_TRIAGE,
    ROLE_TRIAGE_ES,
    SEARCH_NAME_PREFIX,
    SavedSearch,
    filter_macro,
    is_building_block,
    saved_searches,
    schedule_for,
    search_name,
    search_range_minutes,
    timespan_seconds,
    triage_annotations,
)
from ghosthire.splunk.settings import AppSettings, load_settings
from ghosthire.splunk.text_fields import splunk_text_fields
from ghosthire.splunk.work_patterns import TIME_ZONES
from ghosthire.triage import TriagePolicy, load_triage_policy
from ghosthire.tuning import (
    NEW_HIRE_DAYS,
    NEW_HIRE_SCORE_FACTOR,
    NEW_HIRES_FILE,
    Escalation,
    NewHire,
    hires_from_persons,
    load_new_hires,
    new_hires_csv,
)

# The escalation tuning.py applies to a signal about a recent hire; its score and level depend only on the
# rule, so the build writes them into the rule catalogue and Splunk looks them up instead of recomputing.
NEW_HIRE_ESCALATION = Escalation(NewHire("", date.min, None), 0)

RULE_CATALOGUE = "ghosthire_rules.csv"
# The first-seen baselines' lookup: shipped empty, filled by the baseline searches in Splunk.
FIRST_SEEN_LOOKUP = "ghosthire_first_seen.csv"
FIRST_SEEN_COLUMNS = b"search_id,entity,last_seen\n"
TRIAGE_ID = "ghosthire_triage"
IDENTITY_KEYS_ID = "ghosthire_identity_keys"
TSTATS_TARGET = "splunk_tstats"


@dataclass(frozen=True)
class FilterMacro:
    name: str
    description: str


@dataclass(frozen=True)
class Lookup:
    name: str
    filename: str
    content: bytes


def build_app(pack: RulePack, spl: TargetOutput, out_dir: Path) -> Path:
    """Write `out_dir/ghosthire-<version>.tgz` from the pack and its `splunk` target output."""
    source = splunk_app_dir()
    settings = load_settings(source / "settings.yml")
    tstats = compile_target(pack, tstats_target())
    searches = app_searches(pack, spl, tstats, settings)
    macros = filter_macros(spl, searches)
    lookups = app_lookups(searches, pack)
    dashboards = load_dashboards(source / "dashboards", settings.navigation)
    policy = load_triage_policy()
    triage = triage_searches(settings, policy, pack)
    parameters = gws_parameters(spl.target)
    env = environment(source / "templates")
    context = {
        "settings": settings,
        "version": ghosthire.__version__,
        "searches": searches,
        "filter_macros": macros,
        "lookups": lookups,
        "dashboards": dashboards,
        "triage_searches": triage,
        "triage_condition": threshold_condition(policy),
        "triage_policy": policy.describe(),
        "search_prefix": SEARCH_NAME_PREFIX,
        "person_macro": PERSON_MACRO,
        "first_seen_macro": FIRST_SEEN_MACRO,
        "first_seen_update_macro": FIRST_SEEN_UPDATE_MACRO,
        "identity_keys_search": identity_keys_search(settings),
        "risk_person": RISK_PERSON,
        "risk_unresolved": RISK_UNRESOLVED,
        "risk_persons_behind": RISK_PERSONS_BEHIND,
        "shared_alert_max_persons": policy.shared_alert_max_persons,
        "triage_window": policy.window,
        "triage_window_seconds": int(policy.window_length.total_seconds()),
        "hiring_alerts_days": policy.hiring_alerts_days_after_start,
        "end_date_grace_seconds": int(policy.end_date_grace_length.total_seconds()),
        "new_hire_days": NEW_HIRE_DAYS,
        "new_hire_score_factor": NEW_HIRE_SCORE_FACTOR,
        "gws_parameters": parameters,
        "gws_parameters_macro": GWS_PARAMETERS_MACRO,
        "gws_parameters_definition": parameters_macro(parameters),
        "text_fields": splunk_text_fields(),
    }
    texts = render_tree(env, "app", context)
    texts |= {
        f"default/data/ui/views/{dashboard.name}.xml": render(
            env, "dashboard.xml.j2", {"dashboard": dashboard}
        )
        for dashboard in dashboards
    }
    check_app(texts, searches, dashboards, triage)
    files = {path: text.encode("utf-8") for path, text in texts.items()}
    files |= {f"lookups/{lookup.filename}": lookup.content for lookup in lookups}
    files |= skeleton_files(source / "skeleton")
    files["app.manifest"] = app_manifest(settings, ghosthire.__version__)
    return write_tgz(settings.app.id, files, out_dir / f"{settings.app.id}-{ghosthire.__version__}.tgz")


def app_manifest(settings: AppSettings, version: str) -> bytes:
    """The packaging toolkit's `app.manifest` (schema 2.0.0), which Splunkbase and `slim` read: the app's
    identity, and that it runs on search heads only, as a content app with no inputs."""
    app = settings.app
    manifest = {
        "schemaVersion": "2.0.0",
        "info": {
            "title": app.label,
            "id": {"group": None, "name": app.id, "version": version},
            "author": [{"name": app.author, "email": None, "company": None}],
            "releaseDate": None,
            "description": app.description,
            "classification": {
                "intendedAudience": "Security",
                "categories": ["Security, Fraud & Compliance"],
            },
            "commonInformationModels": None,
            "license": {
                "name": "Apache-2.0",
                "text": None,
                "uri": "https://www.apache.org/licenses/LICENSE-2.0",
            },
            "privacyPolicy": {"name": None, "text": None, "uri": None},
            "releaseNotes": {"name": None, "text": None, "uri": None},
        },
        "dependencies": None,
        "tasks": None,
        "inputGroups": None,
        "incompatibleApps": None,
        "platformRequirements": None,
        "supportedDeployments": ["_standalone", "_distributed", "_search_head_clustering"],
        "targetWorkloads": ["_search_heads"],
    }
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def triage_searches(settings: AppSettings, policy: TriagePolicy, pack: RulePack) -> list[TriageSearch]:
    """The triage queue over the app's summary index (no ES needed) and over ES's risk index."""
    reach = max(
        (search_range_minutes(timespan_seconds(rule), settings) for rule in pack.rules if rule.meta),
        default=0,
    )
    earliest = window_earliest(policy, reach)
    return [
        TriageSearch(
            search_name("Person in the triage queue"),
            "ghosthire_person_risk",
            filter_macro(TRIAGE_ID),
            ROLE_TRIAGE,
            schedule_for(TRIAGE_ID, 0, settings).cron,
            earliest,
            triage_annotations(settings, ROLE_TRIAGE),
        ),
        TriageSearch(
            search_name("Person in the triage queue (ES risk index)"),
            "ghosthire_person_risk_es",
            filter_macro(f"{TRIAGE_ID}_es"),
            ROLE_TRIAGE_ES,
            schedule_for(f"{TRIAGE_ID}_es", 0, settings).cron,
            earliest,
            triage_annotations(settings, ROLE_TRIAGE_ES),
        ),
    ]


@dataclass(frozen=True)
class IdentityKeysSearch:
    """The scheduled search that rewrites ghosthire_identity_keys from the identity and asset lookups."""

    name: str
    cron: str
    annotations: str


def identity_keys_search(settings: AppSettings) -> IdentityKeysSearch:
    return IdentityKeysSearch(
        search_name("Identity keys from the identity and asset lookups"),
        schedule_for(IDENTITY_KEYS_ID, 0, settings).cron,
        json.dumps({"ghosthire_role": ROLE_IDENTITY_KEYS}, separators=(",", ":")),
    )


def tstats_target() -> Target:
    """The tstats variant's target, from backends/splunk/variants.yml (same format as targets.yml)."""
    path = backends_dir() / "splunk" / "variants.yml"
    for target in load_targets(path):
        if target.id == TSTATS_TARGET:
            return target
    raise ContentError(path, f"no target {TSTATS_TARGET!r}")


def app_searches(
    pack: RulePack, spl: TargetOutput, tstats: TargetOutput, settings: AppSettings
) -> list[SavedSearch]:
    """A saved search per compiled rule that is not a building block feeding a correlation, and per tstats
    variant."""
    raw_fields = FieldResolver(spl.target)
    cim_fields = FieldResolver(tstats.target)
    raw = {
        item.rule.name: (
            item,
            locate_entity(pack, item.rule, raw_fields),
            threat_objects(pack, item.rule, raw_fields, settings.threat_objects),
        )
        for item in _alerting(spl.ok())
    }
    variants = [
        (item, raw[item.rule.name][1], cim_field)
        for item in _alerting(tstats.ok())
        if item.rule.name in raw and (cim_field := cim_entity_field(item.rule, cim_fields)) is not None
    ]
    return saved_searches(pack, list(raw.values()), variants, settings)


def _alerting(compiled: Iterable[CompiledRule]) -> list[CompiledRule]:
    """A building block no correlation reads keeps its search, which writes risk only (no notable), as a
    building block adds risk on the other targets."""
    return [item for item in compiled if not is_building_block(item.rule) or item.rule.rule._output]


def filter_macros(spl: TargetOutput, searches: list[SavedSearch]) -> list[FilterMacro]:
    """One per compiled rule, building blocks included (the correlations call theirs), one per other
    saved search (the tstats variants), and the roll-up's."""
    macros = {filter_macro(item.rule.name): f"Tuning for {item.rule.title}." for item in spl.ok()}
    for search in searches:
        macros.setdefault(search.filter_macro, f"Tuning for {search.name}.")
    macros[filter_macro(TRIAGE_ID)] = "Tuning for the triage queue (summary index)."
    macros[filter_macro(f"{TRIAGE_ID}_es")] = "Tuning for the triage queue (ES risk index)."
    return [FilterMacro(name, description) for name, description in macros.items()]


def app_lookups(searches: list[SavedSearch], pack: RulePack) -> list[Lookup]:
    """Every lookup CSV (the company's folder first, `--lookups`, then the shipped examples), and the
    rule catalogue the dashboards and the roll-up join on."""
    paths = [lookup_path(name) for name in lookup_filenames()]
    directory = company_directory()[0]
    end_date_grace = load_triage_policy().end_date_grace_length
    # New hires: the listed ones, and every identifier and host of a person with a startDate.
    hires = new_hires_csv({**hires_from_persons(directory.persons.values()), **load_new_hires()})
    shipped = [
        Lookup(path.stem, path.name, hires if path.name == NEW_HIRES_FILE else path.read_bytes())
        for path in paths
    ]
    generated = [
        Lookup(Path(RULE_CATALOGUE).stem, RULE_CATALOGUE, rule_catalogue(searches, pack)),
        Lookup(Path(IDENTITY_KEYS).stem, IDENTITY_KEYS, identity_keys(directory, end_date_grace)),
        Lookup(Path(COUNTRIES).stem, COUNTRIES, countries_csv()),
        Lookup(Path(TIME_ZONES).stem, TIME_ZONES, time_zones_csv()),
        Lookup(Path(FIRST_SEEN_LOOKUP).stem, FIRST_SEEN_LOOKUP, FIRST_SEEN_COLUMNS),
    ]
    for lookup in generated:
        if lookup.filename in {path.name for path in paths}:
            raise ContentError(lookup_path(lookup.filename), "this lookup name is generated by the build")
    return sorted([*shipped, *generated], key=lambda lookup: lookup.name)


def rule_catalogue(searches: list[SavedSearch], pack: RulePack) -> bytes:
    """One row per rule with a saved search: what the dashboards show about an alert's rule, and its
    score and level when the alert is about a new hire (ghosthire.tuning)."""
    buffer = io.StringIO()
    columns = [
        "rule",
        "title",
        "level",
        "guidance",
        "entity_type",
        "score",
        "new_hire_score",
        "new_hire_level",
        "mitre_attack",
        "enabled_by_default",
    ]
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for rule_name in sorted({search.rule_name for search in searches}):
        pack_rule = pack.get(rule_name)
        meta = metadata_of(pack_rule)
        writer.writerow(
            {
                "rule": rule_name,
                "title": pack_rule.title,
                "level": pack_rule.level,
                "guidance": "|".join(str(area) for area in meta.guidance),
                "entity_type": str(meta.risk.entity),
                "score": meta.risk.score,
                "new_hire_score": NEW_HIRE_ESCALATION.score(meta.risk.score),
                "new_hire_level": NEW_HIRE_ESCALATION.level(pack_rule.level),
                "mitre_attack": "|".join(pack_rule.attack_ids),
                "enabled_by_default": str(meta.enabled_by_default).lower(),
            }
        )
    return buffer.getvalue().encode("utf-8")


def skeleton_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def check_app(
    texts: dict[str, str],
    searches: list[SavedSearch],
    dashboards: list[Dashboard],
    triage: list[TriageSearch],
) -> None:
    """Re-read the rendered files: .conf syntax, values that must read back unchanged, macros defined,
    views well-formed."""
    confs = parse_confs(texts)
    saved_path, macros_path = "default/savedsearches.conf", "default/macros.conf"
    require_values(
        confs[saved_path],
        saved_path,
        {
            search.name: {
                "search": search.search,
                "action.notable.param.drilldown_search": search.drilldown_search,
                "disabled": "1",
                "action.notable.param.drilldown_searches": search.drilldown_searches,
            }
            for search in searches
        }
        | {
            search.baseline.name: {"search": search.baseline.search, "disabled": "1"}
            for search in searches
            if search.baseline
        },
    )
    macros = confs[macros_path]
    calls = [(search.name, search.search) for search in searches]
    calls += [(search.baseline.name, search.baseline.search) for search in searches if search.baseline]
    calls += [(f"{search.name} drill-down", search.drilldown_search) for search in searches]
    calls += [(search.name, confs[saved_path][search.name]["search"]) for search in triage]
    calls += [(f"dashboard {d.name}", query) for d in dashboards for query in d.queries()]
    require_defined_macros(calls, macros, macros_path)
    require_views(texts)
