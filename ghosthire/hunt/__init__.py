"""Local hunting: the pack's Sigma rules over exported logs, on an embedded DuckDB engine."""

from ghosthire.hunt.alerts import Alert, alerts_from
from ghosthire.hunt.engine import EngineResult, HuntEngine
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.hunt.run import HuntOutcome, hunt, hunt_event_sets, hunt_events

__all__ = [
    "Alert",
    "EngineResult",
    "HuntEngine",
    "HuntOutcome",
    "HuntPlan",
    "alerts_from",
    "build_plan",
    "hunt",
    "hunt_event_sets",
    "hunt_events",
]
