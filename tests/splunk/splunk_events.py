"""Raw vendor records (detection_tests/*.yml) as the Splunk add-ons index them: the fields Splunk extracts.

This is the test's model of each add-on, written from the add-ons' documented output and kept apart
from the pipelines, so that a field the Splunk pipelines name wrongly does not match:

- JSON sources (Okta, Entra ID, GitHub, Microsoft 365, ghosthire HR): Splunk's JSON extraction, nested
  keys joined with `.`, array members as `name{}` (multivalue), booleans as true/false. JSON null is
  modelled both ways (`NULL_MODELS`): as the string "null", as Splunk shows it for KV_MODE=json, and as
  no field at all; a test that must not depend on it runs under both;
- Entra ID: the Event Hub diagnostic record (sourcetype azure:monitor:aad): a Graph signIn resource
  sits under `properties`, category SignInLogs (interactive) or NonInteractiveUserSignInLogs; a
  directoryAudit entry likewise, category AuditLogs, `_raw` keeping the JSON for `spath`;
- Google Workspace (Splunk Add-on for Google Workspace): one Splunk event per Reports API event, the
  event under `event` and its parameters as {"name", "value"|"boolValue"|"intValue"|"multiValue"}
  objects; `_raw` keeps the JSON for `spath`;
- Windows (XmlWinEventLog, renderXml=true): EventData fields under their own names, System fields as
  EventCode, Computer, Channel, SourceName; source `XmlWinEventLog:<channel>`;
- Sysmon for Linux (Splunk Add-on for Sysmon for Linux, sourcetype sysmon:linux): the same XML, EventData
  fields under their own names, the event id as EventID, Computer from System; source syslog;
- macOS eslogger (sourcetype macos:eslogger, KV_MODE=json): the JSON paths as field names, `host` as sent;
- GlobalProtect (Splunk Add-on for Palo Alto Networks, sourcetype pan:globalprotect): the PAN-OS syslog CSV
  positions under the add-on's names (event_id, src_user, src_region, public_ip, status, ...);
- Zeek DNS (Splunk Add-on for Zeek, sourcetype bro:dns:json): the Network Resolution data model's fields
  the add-on assigns (query, answer, record_type, reply_code, src, dest) and its tags network, resolution, dns;
- web proxy (any add-on mapped to the CIM Web data model, e.g. Zscaler's zscalernss-web): the W3C names
  as the model's fields (url, dest, http_method, user, src, status, bytes_out, bytes_in, http_user_agent)
  and the tags web, proxy.

Each event gets `index`, `sourcetype` (and `source`, `category`) so the source macros of macros.conf are
evaluated as shipped, and `_time` from the add-on's timestamp field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]
LINUX_SYSMON_CHANNEL = "Linux-Sysmon/Operational"
# How a JSON null reaches Splunk's fields: the string "null", or no field.
NULL_MODELS = ("null-string", "absent")
_ABSENT = object()


def splunk_events(
    records: list[dict[str, Any]], source: str | None = None, nulls: str = NULL_MODELS[0]
) -> list[Event]:
    """Every raw record of a test case as the Splunk events it becomes (Google Workspace may split)."""
    if nulls not in NULL_MODELS:
        raise ValueError(nulls)
    events: list[Event] = []
    for record in records:
        kind = source or recognise(record)
        events += CONVERTERS[kind](record)
    return [_apply_nulls(event, nulls) for event in events]


def _apply_nulls(event: Event, nulls: str) -> Event:
    applied: Event = {}
    for name, value in event.items():
        values = value if isinstance(value, list) else [value]
        if nulls == "absent":
            values = [item for item in values if item is not _ABSENT]
        else:
            values = ["null" if item is _ABSENT else item for item in values]
        if values:
            applied[name] = values if isinstance(value, list) and len(values) > 1 else values[0]
    return applied


def recognise(record: dict[str, Any]) -> str:
    system = (record.get("Event") or {}).get("System") or {}
    if (system.get("Channel") or record.get("Channel")) == LINUX_SYSMON_CHANNEL:
        return "linux_sysmon"
    if "Event" in record or "EventCode" in record:
        return "windows"
    if "event_type" in record and isinstance(record.get("event"), dict):
        return "macos_eslogger"
    if "GLOBALPROTECT" in (record.get("type"), record.get("LogType")):
        return "globalprotect"
    if record.get("kind") == "admin#reports#activity":
        return "google_workspace"
    if "eventType" in record and isinstance(record.get("actor"), dict):
        return "okta"
    if "record_type" in record:
        return "hr"
    if "Operation" in record and "Workload" in record:
        return "m365_audit"
    if "activityDisplayName" in record or record.get("category") == "AuditLogs":
        return "entra_audit"
    if "userPrincipalName" in record or isinstance(record.get("properties"), dict):
        return "entra_signin"
    if "action" in record and "actor" in record:
        return "github_audit"
    if "query" in record and ("id.orig_h" in record or "qtype_name" in record):
        return "dns"
    if "cs-method" in record or "c-uri" in record:
        return "proxy"
    raise AssertionError(f"no Splunk model for this record: {sorted(record)[:8]}")


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Splunk's JSON field extraction: `a.b`, `a{}`, `a{}.b`; several values make a multivalue list."""
    fields: dict[str, list[Any]] = {}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{name}.{key}" if name else str(key))
        elif isinstance(node, list):
            for item in node:
                walk(item, f"{name}{{}}")
        else:
            fields.setdefault(name, []).append(scalar(node))

    walk(document, prefix)
    return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}


def scalar(value: Any) -> Any:
    """A JSON scalar as a field value; null stays a marker until the null model decides."""
    if value is None:
        return _ABSENT
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def epoch(value: Any) -> float:
    """ISO 8601 (with or without zone, UTC assumed), a date, or epoch seconds / milliseconds."""
    if isinstance(value, (int, float)):
        return value / 1000 if value > 10**11 else float(value)
    text = str(value).strip().replace(" ", "T", 1)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def first(record: dict[str, Any], *paths: str) -> Any:
    for path in paths:
        node: Any = record
        for step in path.split("."):
            node = node.get(step) if isinstance(node, dict) else None
        if node is not None:
            return node
    raise AssertionError(f"record has none of the time fields {paths}")


def _json(record: dict[str, Any], sourcetype: str, time: float, **meta: str) -> list[Event]:
    return [{**flatten(record), "index": "main", "sourcetype": sourcetype, **meta, "_time": time}]


def okta(record: dict[str, Any]) -> list[Event]:
    return _json(record, "OktaIM2:log", epoch(record["published"]))


def github_audit(record: dict[str, Any]) -> list[Event]:
    return _json(record, "github:enterprise:audit", epoch(first(record, "@timestamp", "created_at")))


def hr(record: dict[str, Any]) -> list[Event]:
    return _json(record, "ghosthire:hr", epoch(first(record, "changed_at", "applied_at", "start_date")))


def m365_audit(record: dict[str, Any]) -> list[Event]:
    return _json(record, "o365:management:activity", epoch(record["CreationTime"]))


def entra_signin(record: dict[str, Any]) -> list[Event]:
    if not isinstance(record.get("properties"), dict):
        interactive = record.get("isInteractive") is not False
        record = {
            "time": record["createdDateTime"],
            "operationName": "Sign-in activity",
            "category": "SignInLogs" if interactive else "NonInteractiveUserSignInLogs",
            "properties": record,
        }
    time = epoch(first(record, "properties.createdDateTime", "time"))
    return _json(record, "azure:monitor:aad", time)


def entra_audit(record: dict[str, Any]) -> list[Event]:
    if not isinstance(record.get("properties"), dict):
        record = {
            "time": record["activityDateTime"],
            "operationName": record["activityDisplayName"],
            "category": "AuditLogs",
            "properties": record,
        }
    time = epoch(first(record, "properties.activityDateTime", "time"))
    return [{**event, "_raw": record} for event in _json(record, "azure:monitor:aad", time)]


def google_workspace(record: dict[str, Any]) -> list[Event]:
    """One event per Reports API event; parameters as the API's list of typed objects."""
    events = record.get("events")
    envelope = {key: value for key, value in record.items() if key != "events"}
    split = []
    for event in events if isinstance(events, list) else [events]:
        raw = {**envelope, "event": {**event, "parameters": _parameters(event.get("parameters"))}}
        application = record["id"]["applicationName"]
        split.append(
            {
                **flatten(raw),
                "_raw": raw,
                "index": "main",
                "sourcetype": f"gws:reports:{application}",
                "_time": epoch(record["id"]["time"]),
            }
        )
    return split


def _parameters(parameters: Any) -> list[dict[str, Any]]:
    if isinstance(parameters, list):
        return parameters
    typed = []
    for name, value in (parameters or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            typed.append({"name": name, "boolValue": value})
        elif isinstance(value, int):
            typed.append({"name": name, "intValue": str(value)})
        elif isinstance(value, list):
            typed.append({"name": name, "multiValue": [str(item) for item in value]})
        else:
            typed.append({"name": name, "value": str(value)})
    return typed


def windows(record: dict[str, Any]) -> list[Event]:
    if "Event" not in record:
        channel = record.get("Channel", "")
        fields = {name: scalar(value) for name, value in record.items() if value is not None}
        time = epoch(first(record, "_time", "UtcTime", "TimeCreated"))
        meta = {"index": "main", "sourcetype": "XmlWinEventLog", "source": f"XmlWinEventLog:{channel}"}
        return [{**fields, **meta, "_time": time}]
    system = record["Event"]["System"]
    event_id = system["EventID"]
    fields = {
        "EventCode": scalar(event_id.get("#text") if isinstance(event_id, dict) else event_id),
        "Computer": scalar(system.get("Computer")),
        "Channel": scalar(system.get("Channel")),
        "SourceName": scalar(((system.get("Provider") or {}).get("#attributes") or {}).get("Name")),
    }
    data = record["Event"].get("EventData") or {}
    fields |= {name: scalar(value) for name, value in data.items() if value is not None}
    time = epoch(system["TimeCreated"]["#attributes"]["SystemTime"])
    return [
        {
            **fields,
            "index": "main",
            "sourcetype": "XmlWinEventLog",
            "source": f"XmlWinEventLog:{system.get('Channel')}",
            "_time": time,
        }
    ]


def linux_sysmon(record: dict[str, Any]) -> list[Event]:
    system = record["Event"]["System"]
    fields = {"EventID": scalar(system["EventID"]), "Computer": scalar(system.get("Computer"))}
    data = record["Event"].get("EventData") or {}
    fields |= {name: scalar(value) for name, value in data.items() if value is not None}
    time = epoch(system["TimeCreated"]["#attributes"]["SystemTime"])
    return [{**fields, "index": "main", "sourcetype": "sysmon:linux", "source": "syslog", "_time": time}]


def macos_eslogger(record: dict[str, Any]) -> list[Event]:
    """eslogger JSON indexed with KV_MODE=json; the forwarder's host name is Splunk's `host`."""
    return _json(record, "macos:eslogger", epoch(record["time"]))


# PAN-OS field names (and Strata Logging Service's) -> the Splunk add-on's names for the same CSV positions.
GLOBALPROTECT_FIELDS = {
    "type": ("type", "LogType"),
    "event_id": ("eventid", "EventIDValue"),
    "status": ("status", "EventStatus"),
    "src_user": ("srcuser", "SourceUserName"),
    "src_region": ("srcregion", "SourceRegion"),
    "public_ip": ("public_ip", "PublicIPv4"),
    "private_ip": ("private_ip", "PrivateIPv4"),
    "machine_name": ("machinename", "EndpointDeviceName"),
}


def globalprotect(record: dict[str, Any]) -> list[Event]:
    """The syslog line the firewall sends, as the add-on's CSV extraction names its positions."""
    fields = {name: scalar(first(record, *paths)) for name, paths in GLOBALPROTECT_FIELDS.items()}
    time = epoch(
        first(record, "high_res_timestamp", "TimeGeneratedHighResolution", "time_generated", "TimeGenerated")
    )
    return [{**fields, "index": "main", "sourcetype": "pan:globalprotect", "_time": time}]


# Zeek dns.log keys -> the CIM Network Resolution fields the Zeek add-on assigns.
ZEEK_DNS_FIELDS = {
    "query": "query",
    "answers": "answer",
    "qtype_name": "record_type",
    "rcode_name": "reply_code",
    "id.orig_h": "src",
    "id.resp_h": "dest",
}
# W3C extended log names -> the CIM Web fields a proxy add-on assigns.
W3C_PROXY_FIELDS = {
    "c-uri": "url",
    "c-uri-stem": "uri_path",
    "c-uri-query": "uri_query",
    "cs-host": "dest",
    "cs-method": "http_method",
    "cs-username": "user",
    "c-ip": "src",
    "sc-status": "status",
    "cs-bytes": "bytes_out",
    "sc-bytes": "bytes_in",
    "c-useragent": "http_user_agent",
    "cs-referrer": "http_referrer",
}


def _cim(
    record: dict[str, Any], names: dict[str, str], sourcetype: str, tags: list[str], time: float
) -> list[Event]:
    fields = flatten({names[key]: value for key, value in record.items() if key in names})
    return [{**fields, "tag": tags, "index": "main", "sourcetype": sourcetype, "_time": time}]


def dns(record: dict[str, Any]) -> list[Event]:
    return _cim(
        record, ZEEK_DNS_FIELDS, "bro:dns:json", ["network", "resolution", "dns"], epoch(record["ts"])
    )


def proxy(record: dict[str, Any]) -> list[Event]:
    time = epoch(first(record, "datetime", "time", "timestamp", "@timestamp"))
    return _cim(record, W3C_PROXY_FIELDS, "zscalernss-web", ["web", "proxy"], time)


CONVERTERS = {
    "okta": okta,
    "github_audit": github_audit,
    "hr": hr,
    "m365_audit": m365_audit,
    "entra_signin": entra_signin,
    "entra_audit": entra_audit,
    "google_workspace": google_workspace,
    "windows": windows,
    "linux_sysmon": linux_sysmon,
    "macos_eslogger": macos_eslogger,
    "globalprotect": globalprotect,
    "dns": dns,
    "proxy": proxy,
}
