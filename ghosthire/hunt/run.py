"""The hunt as one call: rules and inputs in, alerts and a read report out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ghosthire.hunt.alerts import Alert, alerts_from
from ghosthire.hunt.engine import EngineResult, HuntEngine
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.hunt.readers import ReadReport, RecordBatch, batches_from_events, read_batches
from ghosthire.rules import RulePack


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
    return _run(pack, read_batches(paths, report), report, source, since, until, on_batch)


def hunt_events(
    pack: RulePack | HuntPlan, events: Iterable[dict[str, Any]], *, source: str | None = None
) -> HuntOutcome:
    """Hunt over parsed events (tests and API callers)."""
    return _run(pack, batches_from_events(events), ReadReport(), source, None, None, None)


def _run(
    pack: RulePack | HuntPlan,
    batches: Iterator[RecordBatch],
    report: ReadReport,
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
    return HuntOutcome(alerts_from(result), result, plan)
