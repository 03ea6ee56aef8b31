"""Placeholders read at search time: a pySigma transformation for targets that can read a list when the
query runs (Splunk's `inputlookup`), so that editing the list in the target changes what the rule matches
without a rebuild.

A value that is one placeholder, with the `*` that the `contains`, `startswith` or `endswith` modifier
put around it, becomes a query expression: the pipeline's `expression` template, formatted with the
placeholder's lookup (the CSV's stem: its lookup definition in the app), its column and `value`, a target
expression of the column with those wildcards around it. `{field}` is left for the backend, which fills
in the mapped field. Any other use of a placeholder (text around it, a placeholder this module does not
know) is left to the `value_placeholders` transformation that follows.

Registered under the transformation type `ghosthire_lookup_placeholders` (backends/targets.yml), so a YAML
pipeline (and sigma-cli, through the pack's plugin) resolves it the same way as the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sigma.processing.transformations.base import StringValueTransformation
from sigma.processing.transformations.placeholder import PlaceholderIncludeExcludeMixin
from sigma.types import Placeholder, SigmaQueryExpression, SigmaString, SigmaType, SpecialChars


@dataclass
class LookupPlaceholderTransformation(StringValueTransformation, PlaceholderIncludeExcludeMixin):
    """`expression` takes `{lookup}`, `{column}` and `{value}`; write `{{field}}` for the field."""

    expression: str = ""
    # `value` per wildcard pattern: `{column}`, with `{wildcard}` quoted for the target where a `*` goes.
    wildcard: str = '"*"'
    concatenation: str = " . "
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_exclusivity()
        if not self.lookups:
            from ghosthire.compile.targets import placeholder_lookups

            self.lookups = {
                name: {"lookup": spec.lookup, "column": spec.column}
                for name, spec in placeholder_lookups().items()
            }
        return super().__post_init__()

    def apply_string_value(self, field: str | None, val: SigmaString) -> SigmaType | None:
        parts = list(val.s)
        before = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
        after = len(parts) > 1 and parts[-1] is SpecialChars.WILDCARD_MULTI
        middle = parts[int(before) : len(parts) - int(after)]
        if len(middle) != 1 or not isinstance(middle[0], Placeholder):
            return None
        placeholder = middle[0]
        if not self.is_handled_placeholder(placeholder) or placeholder.name not in self.lookups:
            return None
        spec = self.lookups[placeholder.name]
        column = spec["column"]
        value = self.concatenation.join([self.wildcard] * before + [column] + [self.wildcard] * after)
        expression = self.expression.format(lookup=Path(spec["lookup"]).stem, column=column, value=value)
        return SigmaQueryExpression(expression, placeholder.name)
