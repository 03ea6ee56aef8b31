"""Local hunting: the pack's Sigma rules over exported logs, on an embedded DuckDB engine.

A record's way from file to alert, one module per step, in the order to read them (`run.hunt` puts the
steps together):

- plan: `plan.build_plan` compiles each rule with `backend.DuckDBBackend` (pySigma -> DuckDB SQL; Windows
  log-source conditions from `windows_logsources`) into a `HuntPlan` of `Detection`s and `Correlation`s;
  `plan_cache` keeps compiled plans by content.
- ingest: `readers` turns input files into `RecordBatch`es (each record's JSON text, file and line) and a
  `ReadReport` of what it could not read.
- match: `extract` writes the one SQL statement that recognises each record's source, reads the fields its
  rules use and lists the rules it matches; `engine.HuntEngine.run` streams the batches through it and
  hands back an `EngineResult`: a `Hit` per single-event match (`identity_checks` drops hits as they are
  read).
- correlate: `engine` runs the correlations on sliding windows over the matches that feed them, as
  `Occurrence`s citing `Evidence` (where each cited event is).
- alerts: `alerts.alerts_from` makes one immutable `Alert` per hit and per burst of overlapping windows;
  an alert reaches its events' JSON text through `Alert.text`/`event` (one event, from the engine's
  matched text) or `Alert.events` (a correlation's, read back from the input by line). `work_patterns`,
  `first_seen` and the new-hire escalation then keep, drop or replace alerts, never change one.
- persons and output: `persons` resolves alerts to persons and ranks them (the triage queue); `output`
  writes each format (`alert_rows` for JSON lines and CSV, `report` for HTML, `wording` for short text);
  `summary` counts what was read and found.
"""

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
