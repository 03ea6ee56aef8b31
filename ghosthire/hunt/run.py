"""The hunt as one call: rules and inputs in, alerts and a read report out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ghosthire.hunt.alerts import Alert, alerts_from
from ghosthire.hunt.engine import EngineResult, HuntEngine
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.hunt.readers import ReadReport, RecordBatch, batches_from_events, read_batches, read_records
from ghosthire.rules import RulePack

# (file, line) wanted -> their JSON text: how the cited events of correlation alerts are read back.
RecordFetcher = Callable[[dict[str, set[int]]], dict[tuple[str, int], str]]


@dataclass
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
) -> HuntOutcome:
    report = ReadReport()
    return _run(pack, read_batches(paths, report), report, read_records, source, since, until, on_batch)


def hunt_events(
    pack: RulePack | HuntPlan, events: Iterable[dict[str, Any]], *, source: str | None = None
) -> HuntOutcome:
    """Hunt over parsed events (tests and API callers)."""
    texts = [json.dumps(event) for event in events]
    batches = batches_from_events(texts)

    def fetch(wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
        return {(file, line): texts[line - 1] for file, lines in wanted.items() for line in lines}

    return _run(pack, batches, ReadReport(), fetch, source, None, None, None)


def _run(
    pack: RulePack | HuntPlan,
    batches: Iterator[RecordBatch],
    report: ReadReport,
    fetch: RecordFetcher,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    on_batch: Callable[[RecordBatch], None] | None,
) -> HuntOutcome:
    plan = pack if isinstance(pack, HuntPlan) else build_plan(pack)
    engine = HuntEngine(plan, source=source, since=since, until=until)
    try:
        result = engine.run(batches, report, on_batch)
    finally:
        engine.close()
    attach_evidence_text(result, fetch)
    return HuntOutcome(alerts_from(result), result, plan)


def attach_evidence_text(result: EngineResult, fetch: RecordFetcher) -> None:
    """Fill in the text of every event a correlation cites, read back from the input."""
    wanted: dict[str, set[int]] = {}
    for item in result.evidence.values():
        wanted.setdefault(result.files[item.file], set()).add(item.line)
    if not wanted:
        return
    texts = fetch(wanted)
    for item in result.evidence.values():
        item.raw = texts.get((result.files[item.file], item.line))
