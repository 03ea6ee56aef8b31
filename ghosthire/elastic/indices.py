"""Index patterns per Sigma log source, and what Kibana shows about them (the integrations that write them,
detection-rules' tags, whether events arrive late), read from backends/elastic/indices.yml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sigma.rule import SigmaLogSource

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError


class Integration(BaseModel):
    """A Kibana rule's related integration: an Elastic integration package (and its data stream)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    integration: str | None = None
    version: str = "*"


class IndexEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    logsource: dict[str, str]
    index: Annotated[list[str], Field(min_length=1)]
    integrations: list[Integration] = []
    tags: list[Annotated[str, Field(pattern=r"^(Domain|OS|Data Source|Use Case): .+$")]] = []
    ingest_delayed: bool = False

    def matches(self, logsource: SigmaLogSource) -> bool:
        values = {"product": logsource.product, "service": logsource.service, "category": logsource.category}
        return all(values.get(key) == value for key, value in self.logsource.items())


class _IndexTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indices: list[IndexEntry]


def indices_path() -> Path:
    return backends_dir() / "elastic" / "indices.yml"


@cache
def load_index_table(path: Path | None = None) -> tuple[IndexEntry, ...]:
    path = path or indices_path()
    try:
        return tuple(_IndexTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).indices)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid index table: {error}") from None


def index_entry(logsource: SigmaLogSource) -> IndexEntry:
    """The first entry matching the log source; an unlisted source is an error."""
    for entry in load_index_table():
        if entry.matches(logsource):
            return entry
    raise ContentError(indices_path(), f"no index pattern for log source {logsource.to_dict()}")


def indices_for(logsource: SigmaLogSource) -> list[str]:
    return list(index_entry(logsource).index)
