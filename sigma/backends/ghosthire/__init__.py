"""ghosthire's pySigma backends as a plugin for sigma-cli: what `ghosthire build` writes, e.g.

    sigma convert -t ghosthire_splunk -p ghosthire_splunk sigma_rules/

They add to the stock backends what those cannot express (Splunk source macros and sliding-window
correlations, Elastic correlations that run; docs/sigma-cli.md), and read the rules as `ghosthire build`
does, so that their output is the build's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError

from ghosthire.elastic import backends as elastic
from ghosthire.rules import load_pack
from ghosthire.rules.order import dependencies_first
from ghosthire.splunk import backend as splunk

__all__ = ["GhosthireEqlBackend", "GhosthireEsqlBackend", "GhosthireLuceneBackend", "GhosthireSplunkBackend"]


class _AsTheBuildReads:
    """Convert the rules as `ghosthire build` reads them. sigma-cli's loader applies each Sigma filter
    twice (once per collection it merges) and pySigma's sort by direct reference can put a correlation
    before a rule it references; so rules read from files are read again with ghosthire's loader (filters
    applied once, referenced rules first). Rules without a file are converted as given, referenced first."""

    def convert(self, rule_collection: SigmaCollection, *args: Any, **kwargs: Any) -> Any:
        return super().convert(_as_the_build_reads(rule_collection), *args, **kwargs)  # type: ignore[misc]

    def convert_correlation_rule(self, rule: SigmaCorrelationRule, *args: Any, **kwargs: Any) -> Any:
        """A correlation the target cannot express is skipped with its reason under `sigma convert -s`,
        as pySigma already does for other rules (and as the build does)."""
        try:
            return super().convert_correlation_rule(rule, *args, **kwargs)  # type: ignore[misc]
        except (SigmaError, NotImplementedError) as error:
            if not self.collect_errors:  # type: ignore[attr-defined]
                raise
            self.errors.append((rule, error))  # type: ignore[attr-defined]
            return []


def _as_the_build_reads(collection: SigmaCollection) -> SigmaCollection:
    items = [*collection.rules, *collection.filters]
    paths = [item.source.path if item.source else None for item in items]
    if items and all(paths):
        files = sorted({Path(path) for path in paths if path})
        pack = load_pack(files[0].parent, files=files, require_metadata=False)
        return SigmaCollection([pack_rule.rule for pack_rule in pack.rules])
    collection.resolve_rule_references()
    collection.rules = dependencies_first(collection.rules)
    return collection


class GhosthireSplunkBackend(_AsTheBuildReads, splunk.GhosthireSplunkBackend):
    identifier = "ghosthire_splunk"


class GhosthireEqlBackend(_AsTheBuildReads, elastic.GhosthireEqlBackend):
    identifier = "ghosthire_eql"


class GhosthireEsqlBackend(_AsTheBuildReads, elastic.GhosthireEsqlBackend):
    identifier = "ghosthire_esql"


class GhosthireLuceneBackend(_AsTheBuildReads, elastic.GhosthireLuceneBackend):
    identifier = "ghosthire_lucene"
