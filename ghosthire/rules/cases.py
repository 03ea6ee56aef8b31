"""Each rule's test events (detection_tests/<rule name>.yml): events that must fire and must not."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghosthire.content import parse_yaml
from ghosthire.errors import ContentError


class Case(BaseModel):
    """One scenario: a single event, or the whole burst a correlation needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=3)]
    events: Annotated[list[dict[str, Any]], Field(min_length=1)]
    source: str | None = None


class RuleCases(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    source: str | None = None
    must_fire: Annotated[list[Case], Field(min_length=1)]
    must_not_fire: Annotated[list[Case], Field(min_length=1)]

    def source_of(self, case: Case) -> str | None:
        return case.source or self.source


def load_cases(directory: Path) -> dict[str, RuleCases]:
    """All test-event files of a directory, keyed by the rule name they test."""
    cases: dict[str, RuleCases] = {}
    for path in sorted(directory.glob("*.yml")):
        try:
            parsed = RuleCases.model_validate(parse_yaml(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            raise ContentError(path, f"invalid YAML: {error}", mark.line + 1 if mark else None) from None
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ContentError(path, f"test events `{where}`: {first['msg']}") from None
        if parsed.rule != path.stem:
            raise ContentError(path, f"file name must be the rule name ({parsed.rule}.yml)")
        cases[parsed.rule] = parsed
    return cases
