"""ghosthire's processing pipelines as a pySigma plugin, for sigma-cli and any pySigma program:

    sigma convert -t splunk -p ghosthire_splunk RULES            (or -t ghosthire_splunk, as `ghosthire build`)
    sigma convert -t esql -p ghosthire_elastic RULES             (eql, lucene alike; or -t ghosthire_esql ...)

Each is the target's pipelines from backends/targets.yml, placeholders filled from the lookups, exactly as
`ghosthire build` uses them. Importing the plugin also registers the pack's transformations, so the
pipelines' YAML files load on their own (`-p backends/elastic/windows.yml`).
"""

from __future__ import annotations

from sigma.processing.pipeline import ProcessingPipeline

from ghosthire.compile.targets import register_transformations, target_pipeline

__all__ = ["ghosthire_elastic_pipeline", "ghosthire_local_pipeline", "ghosthire_splunk_pipeline"]

ELASTIC_BACKENDS = frozenset({"eql", "esql", "lucene", "ghosthire_eql", "ghosthire_esql", "ghosthire_lucene"})

register_transformations()


def ghosthire_splunk_pipeline() -> ProcessingPipeline:
    return target_pipeline("splunk", frozenset({"splunk", "ghosthire_splunk"}))


def ghosthire_elastic_pipeline() -> ProcessingPipeline:
    return target_pipeline("eql", ELASTIC_BACKENDS)


def ghosthire_local_pipeline() -> ProcessingPipeline:
    return target_pipeline("local", frozenset({"sqlite"}))
