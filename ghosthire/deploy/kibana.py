"""Install the pack's detection rules into Kibana through the detection engine API, with requests.

Rules go in through `_import?overwrite=true` (an NDJSON file in a multipart form), in chunks, and only the
rules that differ from what Kibana already has: a rule whose shipped keys all match is left alone. On a rule
that exists, the keys an admin manages per site stay as the admin set them: whether it is enabled, the
exception lists attached to it and its actions (notifications). `--enable` is the explicit exception: it
enables every pack rule. Uninstall deletes exactly the pack's rules, by rule_id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from ghosthire.deploy.elastic_client import KibanaClient, KibanaHTTPError, KibanaTarget, error_message
from ghosthire.deploy.kibana_lists import (
    TuningObjects,
    delete_exception_list,
    delete_value_list,
    plan_exception_list,
    plan_value_list,
    sync_exception_list,
    sync_value_list,
)
from ghosthire.deploy.lookup_index import (
    LookupIndex,
    delete_lookup_index,
    plan_lookup_index,
    sync_lookup_index,
)
from ghosthire.deploy.report import (
    INSTALL_HEADLINE,
    UNINSTALL_HEADLINE,
    Action,
    FieldChange,
    ObjectChange,
    RunReport,
    Step,
    StepResult,
    changed_fields,
    finish,
    read_with_retries,
    run_steps,
)
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.elastic.persons import IdentityLookup
from ghosthire.errors import ContentError
from ghosthire.identities.lookups import LookupProblem, load_watched_countries

__all__ = [
    "KibanaClient",
    "KibanaHTTPError",
    "KibanaTarget",
    "identities_index",
    "install_kibana",
    "load_rules",
    "time_zones_index",
    "uninstall_kibana",
]
ALERTS_INDEX = ".alerts-security.alerts-default"
ADMIN_OWNED_KEYS = ("enabled", "exceptions_list", "actions")
IMPORT_CHUNK = 100
_PAGE = 100
_IDS_PER_BULK_ACTION = 100  # Kibana refuses more ids in one _bulk_action
_RULES_API = "/api/detection_engine/rules"

Rule = Mapping[str, Any]
T = TypeVar("T")


def load_rules(path: Path) -> tuple[Rule, ...]:
    """The rules in an NDJSON file, or in every `*.ndjson` of a folder; Kibana's export summary line (the
    one with `exported_count`) is skipped."""
    files = sorted(path.glob("*.ndjson")) if path.is_dir() else [path]
    if not files:
        raise ContentError(path, "no .ndjson rule files here")
    rules: dict[str, Rule] = {}
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rule = json.loads(line)
            except json.JSONDecodeError as error:
                raise ContentError(file, f"not JSON: {error.msg}", number) from error
            if isinstance(rule, dict) and "exported_count" in rule:
                continue
            if not isinstance(rule, dict) or not isinstance(rule.get("rule_id"), str):
                raise ContentError(file, "a rule must be a JSON object with a string rule_id", number)
            if rule["rule_id"] in rules:
                raise ContentError(file, f"rule_id {rule['rule_id']!r} appears twice", number)
            rules[rule["rule_id"]] = rule
    return tuple(rules.values())


@dataclass(frozen=True)
class _RulePlan:
    document: Rule  # what would be imported
    change: ObjectChange
    needs_import: bool
    needs_enable: bool = False

    @property
    def rule_id(self) -> str:
        return str(self.document["rule_id"])


def install_kibana(
    client: KibanaClient,
    rules: Sequence[Rule],
    policy: RetryPolicy,
    console: Console,
    dry_run: bool = False,
    enable: bool = False,
    chunk_size: int = IMPORT_CHUNK,
    *,
    elasticsearch: KibanaClient | None = None,
    lookup_indices: Sequence[LookupIndex] = (),
    tuning: TuningObjects | None = None,
) -> RunReport:
    """Loads the lookup indices (through `elasticsearch`), brings the tuning's value lists and exception
    lists to the lookups' values, imports the rules that differ from Kibana's, then (with `enable`) enables
    the pack's disabled rules."""
    report = RunReport(f"install elastic rules{_space_label(client)}", dry_run, INSTALL_HEADLINE)
    rules = [for_space(rule, client.target.space) for rule in rules]
    wanted = {str(rule["rule_id"]) for rule in rules}
    existing = read_with_retries(
        "cannot read Kibana's rules", partial(_find_rules, client, wanted), policy, client.describe
    )
    plans = [_plan(rule, existing.get(str(rule["rule_id"])), enable) for rule in rules]
    if dry_run:
        if tuning:
            report.changes.extend(
                read_with_retries(
                    "cannot read Kibana's lists",
                    partial(_plan_tuning, client, tuning),
                    policy,
                    client.describe,
                )
            )
        for index in lookup_indices:
            assert elasticsearch is not None, "lookup indices need an Elasticsearch client"
            plan = partial(plan_lookup_index, elasticsearch, index)
            report.changes.append(
                read_with_retries("cannot read Elasticsearch", plan, policy, elasticsearch.describe)
            )
        report.changes.extend(plan.change for plan in plans)
        return finish(report, console)
    report.changes.extend(plan.change for plan in plans if plan.change.action is Action.UNCHANGED)
    if lookup_indices:
        assert elasticsearch is not None, "lookup indices need an Elasticsearch client"
        loads = [
            Step(f"load {index.name}", (index.object_id,), partial(sync_lookup_index, elasticsearch, index))
            for index in lookup_indices
        ]
        run_steps(loads, report, policy, console, elasticsearch.describe)
        if report.stopped_by is not None:
            # The rules read the lookup indices: none is imported over a failed load.
            report.not_applied.extend(plan.change.object_id for plan in plans if plan.needs_import)
            return finish(report, console)
    list_ids: dict[str, str] = {}
    steps = _tuning_steps(client, tuning, list_ids) if tuning else []
    steps += [
        Step(
            f"import {chunk[0].rule_id} (+{len(chunk) - 1})",
            _ids(chunk),
            partial(_import, client, chunk, list_ids),
        )
        for chunk in _chunked([plan for plan in plans if plan.needs_import], chunk_size)
    ]
    to_enable = [plan for plan in plans if plan.needs_enable]
    if to_enable:
        steps.append(Step("enable", _ids(to_enable), partial(_enable, client, to_enable)))
    run_steps(steps, report, policy, console, client.describe)
    return finish(report, console)


def uninstall_kibana(
    client: KibanaClient,
    rule_ids: Sequence[str],
    policy: RetryPolicy,
    console: Console,
    dry_run: bool = False,
    *,
    elasticsearch: KibanaClient | None = None,
    lookup_index_names: Sequence[str] = (),
    tuning: TuningObjects | None = None,
) -> RunReport:
    """Deletes the rules with these rule_ids, then the tuning's exception and value lists, then the named
    lookup indices, and nothing else."""
    report = RunReport(f"uninstall elastic rules{_space_label(client)}", dry_run, UNINSTALL_HEADLINE)
    existing = read_with_retries(
        "cannot read Kibana's rules", partial(_find_rules, client, set(rule_ids)), policy, client.describe
    )
    present = [rule_id for rule_id in rule_ids if rule_id in existing]
    report.changes.extend(ObjectChange(f"rule:{r}", Action.ABSENT) for r in rule_ids if r not in existing)
    if dry_run:
        report.changes.extend(
            ObjectChange(f"rule:{r}", Action.DELETE, note=_name(existing[r])) for r in present
        )
        return finish(report, console)
    steps = [
        Step(
            f"delete {chunk[0]} (+{len(chunk) - 1})",
            tuple(f"rule:{r}" for r in chunk),
            partial(_delete, client, chunk),
        )
        for chunk in _chunked(present, _IDS_PER_BULK_ACTION)
    ]
    if tuning:
        steps += [
            Step(
                f"delete {e.list_id}",
                (e.object_id,),
                partial(_deleted, delete_exception_list, client, e.list_id),
            )
            for e in tuning.exception_lists
        ]
        steps += [
            Step(f"delete {v.id}", (v.object_id,), partial(_deleted, delete_value_list, client, v.id))
            for v in tuning.value_lists
        ]
    run_steps(steps, report, policy, console, client.describe)
    if lookup_index_names and report.stopped_by is None:
        assert elasticsearch is not None, "lookup indices need an Elasticsearch client"
        deletes = [
            Step(
                f"delete {name}",
                (f"lookup-index:{name}",),
                partial(_deleted, delete_lookup_index, elasticsearch, name),
            )
            for name in lookup_index_names
        ]
        run_steps(deletes, report, policy, console, elasticsearch.describe)
    return finish(report, console)


def _tuning_steps(client: KibanaClient, tuning: TuningObjects, list_ids: dict[str, str]) -> list[Step]:
    """Value lists first (exception items refer to them), then the exception lists (the rules refer to
    them; their Kibana ids go into `list_ids`)."""
    return [
        *(
            Step(f"value list {v.id}", (v.object_id,), partial(sync_value_list, client, v))
            for v in tuning.value_lists
        ),
        *(
            Step(f"exceptions {e.list_id}", (e.object_id,), partial(sync_exception_list, client, e, list_ids))
            for e in tuning.exception_lists
        ),
    ]


def _plan_tuning(client: KibanaClient, tuning: TuningObjects) -> list[ObjectChange]:
    return [
        *(plan_value_list(client, value_list) for value_list in tuning.value_lists),
        *(plan_exception_list(client, exceptions) for exceptions in tuning.exception_lists),
    ]


def _deleted(
    delete: Callable[[KibanaClient, str], ObjectChange], client: KibanaClient, name: str
) -> StepResult:
    return StepResult((delete(client, name),))


def for_space(rule: Rule, space: str | None) -> Rule:
    """A rule over the Security alerts index reads the alerts of the space it is installed in."""
    query = rule.get("query")
    if not space or space == "default" or not isinstance(query, str) or ALERTS_INDEX not in query:
        return rule
    return {**rule, "query": query.replace(ALERTS_INDEX, f".alerts-security.alerts-{space}")}


def _plan(rule: Rule, current: Rule | None, enable: bool) -> _RulePlan:
    object_id, note = f"rule:{rule['rule_id']}", _name(rule)
    if current is None:
        document = {**rule, "enabled": True} if enable else rule
        return _RulePlan(document, ObjectChange(object_id, Action.CREATE, note=note), needs_import=True)
    shipped = {key: value for key, value in rule.items() if key not in ADMIN_OWNED_KEYS}
    fields = changed_fields(current, shipped, _same)
    enabling = enable and not current.get("enabled")
    # Kept from the server: importing with overwrite would otherwise reset what the admin set on the rule.
    document = {**rule, **{key: current[key] for key in ADMIN_OWNED_KEYS if key in current}}
    attached = list(current.get("exceptions_list") or [])
    missing = [ref for ref in rule.get("exceptions_list") or [] if ref["list_id"] not in _list_ids(attached)]
    if missing:  # the pack's exception lists join the ones the admin attached
        document["exceptions_list"] = attached + missing
        fields += (FieldChange("exceptions_list", _list_ids(attached), _list_ids(attached + missing)),)
    if enable:
        document["enabled"] = True
    shown = fields + ((FieldChange("enabled", False, True),) if enabling else ())
    action = Action.UPDATE if shown else Action.UNCHANGED
    change = ObjectChange(object_id, action, shown, note if shown else "")
    return _RulePlan(document, change, needs_import=bool(fields), needs_enable=enabling and not fields)


def _same(current: object, desired: object) -> bool:
    """Whether Kibana's stored value matches the shipped one. Kibana adds defaults inside objects and turns
    some single values into one-element lists (e.g. `threshold.field`), so the shipped value only has to be
    contained in the stored one."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(_same(current.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(current) == len(desired)
            and all(_same(c, d) for c, d in zip(current, desired, strict=True))
        )
    if isinstance(current, list) and len(current) == 1 and not isinstance(desired, list):
        return _same(current[0], desired)
    return current == desired


def _find_rules(client: KibanaClient, wanted: Collection[str]) -> dict[str, Rule]:
    """Kibana's rules whose rule_id is wanted, read page by page through `_find`."""
    found: dict[str, Rule] = {}
    page = 1
    while True:
        params = {"page": page, "per_page": _PAGE, "sort_field": "created_at", "sort_order": "asc"}
        _, body = client.request("GET", f"{_RULES_API}/_find", params=params)
        data = body.get("data") or []
        found.update({rule["rule_id"]: rule for rule in data if rule.get("rule_id") in wanted})
        if not data or page * _PAGE >= int(body.get("total", 0)):
            return found
        page += 1


def _list_ids(references: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(reference.get("list_id")) for reference in references]


def _import(client: KibanaClient, plans: Sequence[_RulePlan], list_ids: Mapping[str, str]) -> StepResult:
    """Imports the rules, their references to the pack's exception lists carrying the lists' Kibana ids."""
    documents = [
        {
            **plan.document,
            "exceptions_list": [
                {**reference, "id": list_ids.get(reference["list_id"], reference["id"])}
                for reference in plan.document.get("exceptions_list") or []
            ],
        }
        for plan in plans
    ]
    ndjson = "".join(json.dumps(document, sort_keys=True) + "\n" for document in documents)
    _, body = client.request(
        "POST",
        f"{_RULES_API}/_import",
        params={"overwrite": "true"},
        files={"file": ("ghosthire-rules.ndjson", ndjson.encode(), "application/ndjson")},
    )
    errors = {str(item.get("rule_id")): item.get("error") or {} for item in body.get("errors") or []}
    refused = tuple((f"rule:{rule_id}", _rule_error(error)) for rule_id, error in errors.items())
    return StepResult(tuple(plan.change for plan in plans if plan.rule_id not in errors), refused)


def _enable(client: KibanaClient, plans: Sequence[_RulePlan]) -> StepResult:
    current = _find_rules(client, {plan.rule_id for plan in plans})
    disabled = [
        plan for plan in plans if plan.rule_id in current and not current[plan.rule_id].get("enabled")
    ]
    refused = _bulk_action(client, "enable", [current[plan.rule_id] for plan in disabled])
    failed = {object_id for object_id, _ in refused}
    return StepResult(tuple(plan.change for plan in disabled if plan.change.object_id not in failed), refused)


def _delete(client: KibanaClient, rule_ids: Sequence[str]) -> StepResult:
    # Read again: after a lost answer, a retry must not ask to delete what is already gone.
    current = _find_rules(client, set(rule_ids))
    refused = _bulk_action(client, "delete", [current[r] for r in rule_ids if r in current])
    failed = {object_id for object_id, _ in refused}
    changes = tuple(
        ObjectChange(
            f"rule:{r}", Action.DELETE if r in current else Action.ABSENT, note=_name(current.get(r, {}))
        )
        for r in rule_ids
        if f"rule:{r}" not in failed
    )
    return StepResult(changes, refused)


def _bulk_action(client: KibanaClient, action: str, rules: Sequence[Rule]) -> tuple[tuple[str, str], ...]:
    """Runs `action` on the rules by their Kibana ids; returns the rules Kibana refused, with why."""
    rule_id_of = {rule["id"]: rule["rule_id"] for rule in rules}
    refused: list[tuple[str, str]] = []
    for ids in _chunked(list(rule_id_of), _IDS_PER_BULK_ACTION):
        body = {"action": action, "ids": ids}
        # Kibana answers 500 when some rules failed; only a 500 without a summary is the server failing.
        status, answer = client.request("POST", f"{_RULES_API}/_bulk_action", allow={500}, json=body)
        attributes = answer.get("attributes")
        if status == 500 and not (isinstance(attributes, dict) and "summary" in attributes):
            raise KibanaHTTPError(status, error_message(answer))
        for error in (attributes or {}).get("errors") or []:
            for rule in error.get("rules") or []:
                rule_id = rule_id_of.get(rule.get("id"), rule.get("id"))
                refused.append((f"rule:{rule_id}", _rule_error(error)))
    return tuple(refused)


def _chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _ids(plans: Sequence[_RulePlan]) -> tuple[str, ...]:
    return tuple(plan.change.object_id for plan in plans)


def _name(rule: Rule) -> str:
    return str(rule.get("name") or "")


def _space_label(client: KibanaClient) -> str:
    return f" in space {client.target.space}" if client.target.space else ""


def _rule_error(error: Mapping[str, Any]) -> str:
    return f"{error.get('message', 'no reason given')} (HTTP {error.get('status_code', '?')})"


def identities_index(lookups: Path, name: str) -> tuple[LookupIndex, IdentityLookup] | None:
    """The lookup index of the triage rule from a lookups folder (None without an identities lookup), with
    what was read: the identifiers left out because several persons claim them, the unusable rows."""
    from ghosthire.elastic.persons import LOOKUP_MAPPING, identity_documents
    from ghosthire.identities import IDENTITIES_FILE

    if not (lookups / IDENTITIES_FILE).exists():
        return None
    lookup = identity_documents(lookups)
    documents = {document["ghosthire"]["identifier"]: document for document in lookup.documents}
    return LookupIndex(name, LOOKUP_MAPPING, documents), lookup


def countries_index(name: str, lookups: Path, problems: list[LookupProblem]) -> LookupIndex:
    """The lookup index the identity-checked rules join an event's country to (name or code -> alpha-2,
    and whether the folder's watch list holds it)."""
    from ghosthire.elastic.identity_checks import COUNTRIES_MAPPING, country_documents

    watched = load_watched_countries(lookups, problems)
    return LookupIndex(name, COUNTRIES_MAPPING, country_documents(watched))


def time_zones_index(name: str) -> LookupIndex:
    """The lookup index the work-pattern rules join a person's time zone and an event's year to: the UTC
    offsets of ghosthire.model.time_zones."""
    from ghosthire.elastic.work_patterns import TIME_ZONES_MAPPING, time_zone_documents

    return LookupIndex(name, TIME_ZONES_MAPPING, time_zone_documents())
