"""Every field an Elastic pipeline maps to is an ECS field, named and typed as Elastic's ECS definition says,
or lies in an integration namespace that backends/elastic/field_types.yml documents."""

from __future__ import annotations

from ghosthire.compile import load_targets
from ghosthire.elastic.fields import (
    _namespace_table,
    ecs_fields,
    field_type,
    integration_of,
    is_ecs_field,
    pipeline_output_fields,
)

ELASTIC = ("eql", "esql", "lucene")


def mapped_fields() -> tuple[set[str], set[str]]:
    names: set[str] = set()
    prefixes: set[str] = set()
    for target in load_targets():
        if target.id in ELASTIC:
            fields, namespaces = pipeline_output_fields(target.pipeline())
            names |= fields
            prefixes |= set(namespaces)
    return names, prefixes


def test_the_ecs_table_is_elastics() -> None:
    fields = ecs_fields()
    assert len(fields) > 2000
    assert (fields["source.ip"], fields["process.command_line"], fields["@timestamp"]) == (
        "ip",
        "wildcard",
        "date",
    )


def test_every_mapped_field_is_ecs_or_a_documented_integration_field() -> None:
    names, prefixes = mapped_fields()
    assert names and prefixes
    undocumented = sorted(name for name in names if not is_ecs_field(name) and integration_of(name) is None)
    assert not undocumented, f"neither ECS nor a documented integration namespace: {undocumented}"
    stray = sorted(prefix for prefix in prefixes if integration_of(prefix) is None)
    assert not stray, f"prefix mappings outside the documented namespaces: {stray}"
    # A field in an ECS field set that ECS does not define is a typo, not an integration field.
    ecs_sets = {name.split(".", 1)[0] for name in ecs_fields()}
    misnamed = sorted(n for n in names if not is_ecs_field(n) and n.split(".", 1)[0] in ecs_sets - {"geo"})
    assert not misnamed, f"not ECS fields, though in ECS field sets: {misnamed}"


def test_types_come_from_ecs_and_the_integration_table() -> None:
    assert field_type("url.path") == "wildcard"  # ECS's type, whatever a hand-written table said
    assert field_type("destination.port") == "long" and field_type("event.outcome") == "keyword"
    assert field_type("okta.security_context.as.number") == "long"
    assert field_type("okta.actor.alternate_id") == "keyword"
    table = _namespace_table()
    assert all(integration_of(name) for name in table.exact), "every typed integration field has a namespace"
