"""ghosthire on Elastic: ECS processing pipelines, EQL/ES|QL/Lucene backends and Kibana detection rules.

Public API (imported lazily, so that loading a backend does not pull in the Kibana writer):

* backends: ``GhosthireEqlBackend``, ``GhosthireEsqlBackend``, ``GhosthireLuceneBackend``
* Kibana rules: ``kibana_rules``, ``write_kibana_rules``, ``KibanaRule``, ``NDJSON_NAME``
* ECS documents of raw records (for testing queries): ``to_ecs``, ``ecs_field_name``
* field types: ``field_type``, ``is_ecs_field``
* Kibana `threat` entries from ATT&CK tags: ``threat_entries``
* index patterns: ``indices_for``
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "GhosthireEqlBackend": "ghosthire.elastic.backends",
    "GhosthireEsqlBackend": "ghosthire.elastic.backends",
    "GhosthireLuceneBackend": "ghosthire.elastic.backends",
    "KibanaRule": "ghosthire.elastic.kibana",
    "NDJSON_NAME": "ghosthire.elastic.kibana",
    "kibana_rules": "ghosthire.elastic.kibana",
    "write_kibana_rules": "ghosthire.elastic.kibana",
    "to_ecs": "ghosthire.elastic.ecs",
    "ecs_field_name": "ghosthire.elastic.ecs",
    "field_type": "ghosthire.elastic.fields",
    "is_ecs_field": "ghosthire.elastic.fields",
    "threat_entries": "ghosthire.elastic.threat",
    "indices_for": "ghosthire.elastic.indices",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ghosthire.elastic' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
