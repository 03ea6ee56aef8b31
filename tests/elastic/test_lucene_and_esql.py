"""Lucene queries parse and give the Sigma verdicts with keyword/IP/number semantics; ES|QL parses with the
real grammar, gives the Sigma verdicts (single events here, correlations through the Kibana schedule in
test_eql_verdicts), compares strings only through TO_LOWER, and names only fields the ECS pipelines
produce."""

from __future__ import annotations

import re

from sigma.collection import SigmaCollection

from ghosthire.compile import TargetOutput
from ghosthire.elastic.backends import GhosthireEsqlBackend
from tests.elastic.conftest import ESQL_MULTIVALUE_MISSES, EcsCase, expected_skip
from tests.elastic.esql_eval import EsqlQuery, EsqlTypeError, parse_tree
from tests.elastic.lucene_eval import LuceneTypeError, matches, parse_lucene


def _ok(outputs: dict[str, TargetOutput], target: str) -> list:
    """The rules the target compiled: never none, or every loop over them would pass on nothing."""
    compiled = [item for item in outputs[target].compiled if item.ok]
    assert len(compiled) > 10, f"only {len(compiled)} rules compiled for {target}"
    return compiled


def test_every_lucene_query_parses(elastic_outputs) -> None:
    for item in _ok(elastic_outputs, "lucene"):
        parse_lucene(str(item.queries[0]))


def test_lucene_verdicts_with_keyword_case(ecs_cases: list[EcsCase], elastic_outputs) -> None:
    queries = {item.rule.id: str(item.queries[0]) for item in _ok(elastic_outputs, "lucene")}
    wrong = []
    checked = {True: 0, False: 0}
    for case in ecs_cases:
        if case.rule.id not in queries:  # correlations, and rules Lucene cannot express (build report)
            continue
        checked[case.must_fire] += 1
        query = parse_lucene(queries[case.rule.id])
        try:
            fired = any(matches(query, document) for document in case.documents)
        except LuceneTypeError as error:
            wrong.append(f"{case.id}: Elasticsearch would reject the query: {error}")
            continue
        if fired is not case.must_fire:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)
    assert min(checked.values()) > 10, f"cases checked (must fire, must not): {checked}"


def test_lucene_case_folding_is_real() -> None:
    """The evaluator is case-sensitive, so the [xX] classes are what make mixed case match."""
    query = parse_lucene(r"process.executable:/.*\\[aA][nN][yY][dD][eE][sS][kK]\.[eE][xX][eE]/")
    assert matches(query, {"process": {"executable": "C:\\Temp\\ANYDESK.EXE"}})
    assert not matches(
        parse_lucene(r"process.executable:*\\AnyDesk.exe"), {"process": {"executable": "C:\\ANYDESK.EXE"}}
    )


def parse_esql(query: str) -> int:
    """The number of syntax errors of an ES|QL query under the real grammar (esql-parser)."""
    return parse_tree(query)[1]


def test_every_esql_query_parses(esql_queries: dict[str, EsqlQuery], pack) -> None:
    failures = [pack.get(rule_id).name for rule_id, query in esql_queries.items() if query.errors]
    assert not failures
    assert parse_esql('from x | where (a == "') > 0


def test_esql_single_event_verdicts(
    ecs_cases: list[EcsCase], esql_queries: dict[str, EsqlQuery], esql_lookups
) -> None:
    """Every single-event rule's ES|QL on its cases, a rule compared with the identity lookup joining the
    lookup indices made from the shipped lookups (correlations: test_every_kibana_rule_verdict)."""
    wrong = []
    checked = {True: 0, False: 0}
    for case in ecs_cases:
        if case.rule.is_correlation or (case.rule.meta and case.rule.meta.work_pattern):
            continue  # judged over days on the Kibana schedule (test_every_kibana_rule_verdict)
        checked[case.must_fire] += 1
        query = esql_queries.get(case.rule.id)
        if query is None and expected_skip("esql", case.rule):
            continue  # not expressible in ES|QL, an expected skip (test_skips_are_expected)
        if query is None:
            wrong.append(f"{case.id}: no ES|QL query")
            continue
        try:
            fired = bool(query.run(case.documents, esql_lookups))
        except EsqlTypeError as error:
            wrong.append(f"{case.id}: Elasticsearch would reject the query: {error}")
            continue
        expected = case.must_fire and (case.rule.name, case.name) not in ESQL_MULTIVALUE_MISSES
        if fired is not expected:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)
    assert min(checked.values()) > 10, f"cases checked (must fire, must not): {checked}"


LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
COMPARED = re.compile(r'(\S+)\s*(?:==|like)\s*"S"|(\S+)\s+in\s+\("S"|(?:starts_with|ends_with)\((\S+), "S"\)')


def test_esql_strings_compare_lowercased(elastic_outputs) -> None:
    comparisons = 0
    for item in _ok(elastic_outputs, "esql"):
        query = str(item.queries[0]).split("|", 1)[1]
        for literal in LITERAL.findall(query):
            assert literal == literal.lower(), f"{item.rule.name}: literal {literal!r} not lower-cased"
        for match in COMPARED.finditer(LITERAL.sub('"S"', query)):
            comparisons += 1
            operand = next(group for group in match.groups() if group)
            assert re.sub(r"^(?:\(|CASE\(|COALESCE\()+", "", operand).startswith("TO_LOWER("), (
                f"{item.rule.name}: case-sensitive {match.group(0)}"
            )
    assert comparisons > 50, "the string comparisons were found"


def _pipeline_fields() -> tuple[frozenset[str], tuple[str, ...]]:
    """ECS field names the Elastic pipelines write, and the namespaces their prefix mappings fill."""
    from ghosthire.compile import load_targets
    from ghosthire.elastic.fields import pipeline_output_fields

    return pipeline_output_fields(next(target for target in load_targets() if target.id == "esql").pipeline())


def test_esql_fields_are_ecs_fields(elastic_outputs) -> None:
    """Every field an ES|QL query names is one the ECS pipelines map to (no raw field leaks through), or
    a column of the pack's lookup indices (`ghosthire.`, the identity comparison's)."""
    fields, prefixes = _pipeline_fields()
    prefixes = (*prefixes, "ghosthire.")
    for item in _ok(elastic_outputs, "esql"):
        body = LITERAL.sub("", str(item.queries[0]).split("|", 1)[1])
        named = set(re.findall(r"(?<![\w.@])[a-z_][a-z0-9_]*(?:\.[A-Za-z_0-9]+)+\b", body))
        unknown = {field for field in named if field not in fields and not field.startswith(prefixes)}
        assert not unknown, f"{item.rule.name}: fields no ECS pipeline maps: {sorted(unknown)}"


def test_esql_not_holds_on_a_missing_field() -> None:
    # Sigma: a comparison on a missing field is false, so `not filter` keeps the event; ES|QL's null
    # would drop it.
    rule = SigmaCollection.from_yaml(
        """
title: not on a missing field
logsource: {product: okta, service: okta}
detection:
  selection: {event.action: user.session.start}
  filter: {source.as.organization.name: Example Corp}
  condition: selection and not filter
"""
    )
    query = EsqlQuery.parse(GhosthireEsqlBackend().convert(rule)[0])
    documents = [
        {"@timestamp": "2025-06-01T00:00:00Z", "event": {"action": "user.session.start"}},
        {
            "@timestamp": "2025-06-01T00:00:01Z",
            "event": {"action": "user.session.start"},
            "source": {"as": {"organization": {"name": "Example Corp"}}},
        },
        {
            "@timestamp": "2025-06-01T00:00:02Z",
            "event": {"action": "user.session.start"},
            "source": {"as": {"organization": {"name": "Other ISP"}}},
        },
    ]
    times = [row["@timestamp"] for row in query.run(documents)]
    assert times == ["2025-06-01T00:00:00Z", "2025-06-01T00:00:02Z"]
