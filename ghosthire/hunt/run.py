"""The hunt as one call: rules and inputs in, alerts and a read report out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ghosthire.errors import GhosthireError
from ghosthire.hunt.alerts import Alert, MatchedTexts, alerts_from, escalate_new_hires, hit_records
from ghosthire.hunt.engine import EID_FILE_FACTOR, EngineResult, Hit, HuntEngine
from ghosthire.hunt.first_seen import Scope, first_seen_only
from ghosthire.hunt.identity_checks import has_identity_checks, identity_check
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.hunt.readers import (
    ReadReport,
    RecordBatch,
    WantedLines,
    batches_from_events,
    input_files,
    prefetched,
    read_batches,
    read_records,
)
from ghosthire.hunt.work_patterns import (
    apply_work_patterns,
    has_work_pattern_rules,
    has_work_patterns,
    measured_person,
)
from ghosthire.identities import Directory
from ghosthire.rules import RulePack
from ghosthire.triage import load_triage_policy
from ghosthire.tuning import NewHire

# The input name of events hunted with hunt_events.
EVENTS_NAME = "<events>"
# Inputs up to this size are read into a table and hunted on one thread (HuntEngine's `small_input`).
SMALL_INPUT_BYTES = 64 * 1024**2
# Lines wanted -> their JSON text by (file, line): how the cited events of correlation alerts are read back.
RecordFetcher = Callable[[WantedLines], dict[tuple[str, int], str]]


@dataclass(frozen=True)
class HuntOutcome:
    alerts: list[Alert]
    result: EngineResult
    plan: HuntPlan


def hunt(
    pack: RulePack | HuntPlan,
    paths: Iterable[Path],
    *,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    on_batch: Callable[[RecordBatch], None] | None = None,
    new_hires: dict[str, NewHire] | None = None,
) -> HuntOutcome:
    """`new_hires` (ghosthire.tuning.load_new_hires): users whose alerts in their first days are raised."""
    report = ReadReport()
    paths = list(paths)
    with prefetched(read_batches(paths, report)) as batches:
        engine = _engine(pack, source=source, since=since, until=until, size=_input_bytes(paths))
        return _run(engine, batches, report, read_records, on_batch, new_hires)


def hunt_events(
    pack: RulePack | HuntPlan,
    events: Iterable[dict[str, Any]],
    *,
    source: str | None = None,
    new_hires: dict[str, NewHire] | None = None,
) -> HuntOutcome:
    """Hunt over parsed events (tests and API callers)."""
    return hunt_event_sets(pack, {EVENTS_NAME: events}, source=source, new_hires=new_hires)


def hunt_event_sets(
    pack: RulePack | HuntPlan,
    event_sets: Mapping[str, Iterable[dict[str, Any]]],
    *,
    source: str | None = None,
    new_hires: dict[str, NewHire] | None = None,
) -> HuntOutcome:
    """Hunt over several sets of parsed events in one engine run, each read as an input of its own named
    by its key (an alert's location is the set's name and the event's 1-based number in it): many
    independent cases share one engine, and its rules are compiled once."""
    texts = {name: [json.dumps(event) for event in events] for name, events in event_sets.items()}

    def fetch(wanted: WantedLines) -> dict[tuple[str, int], str]:
        return {(name, line): texts[name][line - 1] for name, lines in wanted.items() for line in lines}

    batches = (batch for name, lines in texts.items() for batch in batches_from_events(lines, name))
    engine = _engine(pack, source=source, size=sum(len(text) for lines in texts.values() for text in lines))
    # Each set is an independent case: its own first-seen baseline.
    return _run(engine, batches, ReadReport(), fetch, None, new_hires, _first_file)


def _engine(
    pack: RulePack | HuntPlan,
    *,
    source: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
    size: int,
) -> HuntEngine:
    plan = pack if isinstance(pack, HuntPlan) else build_plan(pack)
    return HuntEngine(plan, source=source, since=since, until=until, small_input=size <= SMALL_INPUT_BYTES)


def _input_bytes(paths: list[Path]) -> int:
    """The size of the input's files (one that cannot be sized counts as a large input)."""
    try:
        return sum(file.stat().st_size for file in input_files(paths))
    except (OSError, GhosthireError):
        return SMALL_INPUT_BYTES + 1


def _run(
    engine: HuntEngine,
    batches: Iterator[RecordBatch],
    report: ReadReport,
    fetch: RecordFetcher,
    on_batch: Callable[[RecordBatch], None] | None,
    new_hires: dict[str, NewHire] | None,
    baseline_scope: Scope | None = None,
) -> HuntOutcome:
    try:
        result = engine.run(batches, report, on_batch, _hit_filter(engine.plan))
        matched = MatchedTexts(engine.texts(*hit_records(result.hits)))
    finally:
        engine.close()
    alerts = alerts_from(result, matched, cited_texts(result, fetch))
    if has_work_patterns(alerts):
        alerts = apply_work_patterns(alerts, Directory.in_use(), baseline_scope)
    # After the identity checks: a first-seen rule's history holds only what the rule really raised.
    alerts = first_seen_only(alerts, baseline_scope)
    if new_hires:
        alerts = escalate_new_hires(alerts, new_hires)
    return HuntOutcome(alerts, result, engine.plan)


def _hit_filter(plan: HuntPlan) -> Callable[[Hit], bool] | None:
    """Which hits the stages after matching can keep, judged as the engine reads them: identity checks,
    and the persons work patterns measure (the company's identities while `--lookups` is in effect, else
    the shipped example company's)."""
    directory = Directory.in_use()
    checks = []
    if has_identity_checks(plan):
        checks.append(identity_check(directory, load_triage_policy().end_date_grace_length))
    if has_work_pattern_rules(plan):
        checks.append(measured_person(directory))
    if len(checks) < 2:
        return checks[0] if checks else None
    return lambda hit: all(check(hit) for check in checks)


def _first_file(alert: Alert) -> str:
    return alert.locations[0].file if alert.locations else ""


def cited_texts(result: EngineResult, fetch: RecordFetcher) -> dict[int, str]:
    """The text of every event a correlation alert cites, read back from the input, by event id."""
    wanted: WantedLines = {}
    for evidence in result.evidence.values():
        wanted.setdefault(result.files[evidence.file], {})[evidence.line] = evidence.start
    if not wanted:
        return {}
    texts = fetch(wanted)
    files = {name: index for index, name in result.files.items()}
    return {files[file] * EID_FILE_FACTOR + line: text for (file, line), text in texts.items()}
