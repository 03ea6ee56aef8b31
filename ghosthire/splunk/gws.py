"""Google Workspace event parameters in Splunk: the `ghosthire_gws_parameters` macro, from the mapping.

The Splunk Add-on for Google Workspace indexes each Reports API event with its parameters as a JSON array
of {"name": .., "value"|"intValue"|"boolValue"|"multiValue": ..} objects (`event.parameters{}`). Splunk's
automatic extraction splits that into `event.parameters{}.name` and `event.parameters{}.value` lists that
are not aligned (only some parameters have a `value`), so a parameter cannot be read by position. The
Splunk pipeline maps each Sigma field `events.parameters.<name>` to `gws_parameter_<name>`, and this
macro extracts exactly those fields from the objects themselves. It is generated from the pipeline's
mapping, so a parameter mapped there is always extracted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sigma.processing.transformations import FieldMappingTransformation

from ghosthire.compile import Target
from ghosthire.errors import ContentError

MACRO = "ghosthire_gws_parameters"
FIELD_PREFIX = "gws_parameter_"
SIGMA_PREFIX = "events.parameters."
PARAMETERS_PATH = "event.parameters{}"
_OBJECTS = "_gh_parameters"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class GwsParameter:
    """One Reports API event parameter and the Splunk field the macro writes it to."""

    name: str

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def scratch(self) -> str:
        return f"_gh_parameter_{self.name}"


def gws_parameters(target: Target) -> list[GwsParameter]:
    """Every parameter the target's field mappings send to a `gws_parameter_<name>` field, by name."""
    found: set[str] = set()
    for item in target.pipeline().items:
        if not isinstance(item.transformation, FieldMappingTransformation):
            continue
        for sigma_field, mapped in item.transformation.mapping.items():
            for splunk_field in [mapped] if isinstance(mapped, str) else mapped:
                if not splunk_field.startswith(FIELD_PREFIX):
                    continue
                name = splunk_field.removeprefix(FIELD_PREFIX)
                if sigma_field != SIGMA_PREFIX + name or not _NAME.match(name):
                    raise ContentError(
                        f"backends/{target.id} pipelines",
                        f"{sigma_field!r} -> {splunk_field!r}: a gws_parameter_<name> field must be the "
                        f"mapping of {SIGMA_PREFIX}<name> (lower-case name)",
                    )
                found.add(name)
    return [GwsParameter(name) for name in sorted(found)]


def parameters_macro(parameters: list[GwsParameter]) -> str:
    """The macro definition: the parameter objects, the one named like each parameter, its value.

    One eval per parameter: its object (the first whose "name" is the parameter), then its value. A
    parameter has one of value (string), intValue, boolValue or multiValue (a list, which becomes a
    multivalue field); an event without the parameter leaves the field null. Within one eval, Splunk
    evaluates the assignments left to right, so the second reads the first.
    """
    lines = [f"spath path={PARAMETERS_PATH} output={_OBJECTS}"]
    for p in parameters:
        value = ", ".join(
            [f'json_extract({p.scratch}, "{key}")' for key in ("value", "intValue", "boolValue")]
            + [f'json_array_to_mv(json_extract({p.scratch}, "multiValue"))']
        )
        lines.append(
            f'| eval {p.scratch}=mvindex(mvfilter(json_extract({_OBJECTS}, "name")="{p.name}"), 0),'
            f" {p.field}=coalesce({value})"
        )
    return "\n".join(lines)
