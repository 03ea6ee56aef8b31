"""The target table (backends/targets.yml) and how each target's backend and pipeline are instantiated."""

from __future__ import annotations

import csv
import importlib
import io
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sigma.conversion.base import Backend
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import transformations

from ghosthire.compile.addresses import address_patterns
from ghosthire.content import backends_dir, lookup_path, parse_yaml
from ghosthire.errors import ContentError


class Target(BaseModel):
    """One row of the target table: which pySigma backend, pipelines and format produce its queries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: str
    backend: Annotated[str, Field(pattern=r"^[\w.]+:\w+$")]
    pipelines: list[str] = []
    output_format: str = "default"
    options: dict[str, Any] = {}
    extension: Annotated[str, Field(pattern=r"^[a-z]+$")]
    # The parser every generated query must pass before it is written (ghosthire.compile.syntax).
    syntax: Literal["eql", "esql", "lucene", "spl"] | None = None
    # Whether the target applies a rule's comparison with the identity lookup (`identity_check`); a
    # target that does not skips such rules rather than alert on every event the detection selects.
    identity_checks: bool = False
    # `module:function(pack_rule, query, target) -> query` writing the comparison into the target's query;
    # none when the target applies it after matching (the local hunt).
    identity_stage: Annotated[str, Field(pattern=r"^[\w.]+:\w+$")] | None = None
    # Whether the target aggregates a rule's events per person into its `work_pattern`; a target that does
    # not skips such rules rather than alert on every event.
    work_patterns: bool = False
    # `module:function(pack_rule, query, target) -> query` writing the per-person measure into the target's
    # query; none when the target applies it after matching (the local hunt).
    work_pattern_stage: Annotated[str, Field(pattern=r"^[\w.]+:\w+$")] | None = None

    def with_identity_check(self, pack_rule: Any, query: str) -> str:
        if self.identity_stage is None:
            raise ValueError(f"target {self.id} has no identity stage")
        return _imported(self.identity_stage)(pack_rule, query, self)

    def with_work_pattern(self, pack_rule: Any, query: str) -> str:
        if self.work_pattern_stage is None:
            raise ValueError(f"target {self.id} has no work-pattern stage")
        return _imported(self.work_pattern_stage)(pack_rule, query, self)

    def backend_class(self) -> type[Backend]:
        return _imported(self.backend)

    def pipeline(self) -> ProcessingPipeline:
        """The target's pipelines (YAML files under backends/, or `module:function` for one built from a
        library's data), resolved by priority, with the pack's placeholder values."""
        pipelines = [_load_pipeline(name) for name in self.pipelines]
        resolved = sum(sorted(pipelines, key=lambda pipeline: pipeline.priority), ProcessingPipeline())
        resolved.vars = {**placeholder_values(), **resolved.vars}
        return resolved

    def create_backend(self) -> Backend:
        return self.backend_class()(processing_pipeline=self.pipeline(), **self.options)


ImportPath = Annotated[str, Field(pattern=r"^[\w.]+:\w+$")]


class _TargetTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The pack's own pySigma transformations by the `type` the pipelines' YAML names them with.
    transformations: dict[str, ImportPath] = {}
    targets: list[Target]


def _target_table(path: Path | None = None) -> _TargetTable:
    path = path or backends_dir() / "targets.yml"
    try:
        return _TargetTable.model_validate(parse_yaml(path.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid target table: {error}") from None


def load_targets(path: Path | None = None) -> list[Target]:
    return _target_table(path).targets


def target_by_id(target_id: str) -> Target:
    return next(target for target in load_targets() if target.id == target_id)


def target_pipeline(target_id: str, backends: frozenset[str] = frozenset()) -> ProcessingPipeline:
    """A target's resolved pipeline, as `ghosthire build` uses it, for the given sigma-cli targets."""
    target = target_by_id(target_id)
    pipeline = target.pipeline()
    pipeline.name = f"ghosthire pipelines for {target.label}"
    pipeline.allowed_backends = backends
    return pipeline


def register_transformations(path: Path | None = None) -> None:
    """Make the pack's transformations known to pySigma's YAML pipeline loader (sigma-cli included)."""
    for name, import_path in _target_table(path).transformations.items():
        transformations[name] = _imported(import_path)


def _imported(import_path: str) -> Any:
    module_name, name = import_path.split(":")
    return getattr(importlib.import_module(module_name), name)


def _load_pipeline(name: str) -> ProcessingPipeline:
    register_transformations()
    if ":" in name:
        return _imported(name)()
    path = backends_dir() / name
    try:
        return ProcessingPipeline.from_dict(parse_yaml(path.read_text()))
    except (OSError, yaml.YAMLError, SigmaError) as error:
        raise ContentError(path, f"invalid processing pipeline: {error}") from None


class PlaceholderLookup(BaseModel):
    """Where a placeholder's values live: a lookup CSV of splunk_app/lookups/ and its column."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lookup: str
    column: str
    # `address`: CIDR ranges and IPv4/IPv6 addresses, written as the wildcard patterns every target matches
    values: Literal["text", "address"] = "text"


def placeholder_lookups() -> dict[str, PlaceholderLookup]:
    """Every Sigma placeholder the pack declares (backends/placeholders.yml) and its lookup column."""
    path = backends_dir() / "placeholders.yml"
    declared = (parse_yaml(path.read_text()) or {}).get("placeholders") or {}
    try:
        return {name: PlaceholderLookup.model_validate(spec) for name, spec in declared.items()}
    except ValidationError as error:
        raise ContentError(path, f"invalid placeholder declaration: {error}") from None


def placeholder_values() -> dict[str, list[str]]:
    """Values of every Sigma placeholder, read from the lookup CSV that backends/placeholders.yml names."""
    return {name: _lookup_column(name, spec) for name, spec in placeholder_lookups().items()}


def _lookup_column(name: str, placeholder: PlaceholderLookup) -> list[str]:
    path = lookup_path(placeholder.lookup)
    return list(_column_values(name, placeholder, path, path.read_bytes()))


@cache  # by the lookup's content: every plan and build resolves the same lookups again, until one is edited
def _column_values(name: str, placeholder: PlaceholderLookup, path: Path, content: bytes) -> tuple[str, ...]:
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))
    if not rows or placeholder.column not in rows[0]:
        raise ContentError(path, f"placeholder {name!r}: lookup has no column {placeholder.column!r}")
    values = [
        (line, row[placeholder.column]) for line, row in enumerate(rows, start=2) if row[placeholder.column]
    ]
    if placeholder.values == "text":
        return tuple(sorted({value for _line, value in values}))
    patterns: set[str] = set()
    for line, value in values:
        try:
            patterns.update(address_patterns(value))
        except ValueError as error:
            raise ContentError(
                path, f"placeholder {name!r}: {value!r} is not an address, range or pattern ({error})", line
            ) from None
    return tuple(sorted(patterns))
