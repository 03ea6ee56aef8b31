"""Which Windows events each Sigma log source means, taken from pySigma's own Sysmon and Windows pipelines.

All Windows records share one source table, so a rule for `category: image_load` must be narrowed to
Sysmon event 7 and one for `service: windefend` to Defender's channel, or it runs against every Windows
record. The event ids and channels come from the mappings pysigma-pipeline-sysmon and
pysigma-pipeline-windows publish (as sigma-cli's `sysmon` and `windows-logsources` pipelines apply
them), as one `add_condition` item per category and per service. A Windows rule whose category or service
neither names is not run (ghosthire.hunt.backend says why), rather than run against every record.
"""

from __future__ import annotations

from typing import Any

from sigma.pipelines.common import windows_logsource_mapping
from sigma.pipelines.sysmon.sysmon import sysmon_generic_logsource_eventid_mapping
from sigma.pipelines.windows.windows import (
    generic_logsource_to_windows_audit_event_mapping,
    windows_generic_category_channel_mapping,
)
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation

ITEM_PREFIX = "local_windows_"


def windows_log_sources() -> ProcessingPipeline:
    """One item per Windows category and service pySigma maps, adding its EventID and Channel."""
    categories = {
        *sysmon_generic_logsource_eventid_mapping,
        *windows_generic_category_channel_mapping,
        *generic_logsource_to_windows_audit_event_mapping,
    }
    items = [
        _item(f"{ITEM_PREFIX}{category}_events", conditions, category=category)
        for category in sorted(categories)
        if (conditions := category_conditions(category))
    ]
    items += [
        _item(f"{ITEM_PREFIX}{service}_channel", {"Channel": channels}, service=service)
        for service, channels in sorted(windows_logsource_mapping.items())
    ]
    return ProcessingPipeline(name="ghosthire local: Windows log sources", priority=10, items=items)


def category_conditions(category: str) -> dict[str, list[Any]]:
    """EventID and Channel of a category's events: Sysmon's event ids, the Windows audit event where the
    audit pipeline only names an event id (4688 for process creation; its registry events also need an
    OperationType and other field names, which the source table does not read), and PowerShell's."""
    event_ids: list[Any] = []
    channels: list[str] = []
    if category in sysmon_generic_logsource_eventid_mapping:
        event_ids += _listed(sysmon_generic_logsource_eventid_mapping[category])
        channels += _listed(windows_logsource_mapping["sysmon"])
    audit = generic_logsource_to_windows_audit_event_mapping.get(category)
    if audit is not None and set(audit) == {"EventID"}:
        event_ids += _listed(audit["EventID"])
        channels += _listed(windows_logsource_mapping["security"])
    generic = windows_generic_category_channel_mapping.get(category)
    if generic is not None:
        event_ids += _listed(generic["EventID"])
        channels += _listed(windows_logsource_mapping[generic["service"]])
    return {"EventID": event_ids, "Channel": channels} if event_ids else {}


def _item(identifier: str, conditions: dict[str, Any], **logsource: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=identifier,
        transformation=AddConditionTransformation(conditions),
        rule_conditions=[LogsourceCondition(product="windows", **logsource)],
    )


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
