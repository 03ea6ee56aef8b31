"""Lucene queries parse and give the Sigma verdicts with case-sensitive keyword semantics; ES|QL parses,
compares strings only through TO_LOWER, and names only fields the ECS pipelines produce."""

from __future__ import annotations

import re

import pytest

from ghosthire.compile import TargetOutput
from tests.elastic.conftest import EcsCase
from tests.elastic.lucene_eval import matches, parse_lucene


def _ok(outputs: dict[str, TargetOutput], target: str) -> list:
    return [item for item in outputs[target].compiled if item.ok]


def test_every_lucene_query_parses(elastic_outputs) -> None:
    for item in _ok(elastic_outputs, "lucene"):
        parse_lucene(str(item.queries[0]))


def test_lucene_verdicts_with_keyword_case(ecs_cases: list[EcsCase], elastic_outputs) -> None:
    queries = {item.rule.id: str(item.queries[0]) for item in _ok(elastic_outputs, "lucene")}
    wrong = []
    for case in ecs_cases:
        if case.rule.id not in queries:  # correlations, and rules Lucene cannot express (build report)
            continue
        query = parse_lucene(queries[case.rule.id])
        fired = any(matches(query, document) for document in case.documents)
        if fired is not case.must_fire:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)


def test_lucene_case_folding_is_real() -> None:
    """The evaluator is case-sensitive, so the [xX] classes are what make mixed case match."""
    query = parse_lucene(r"process.executable:/.*\\[aA][nN][yY][dD][eE][sS][kK]\.[eE][xX][eE]/")
    assert matches(query, {"process": {"executable": "C:\\Temp\\ANYDESK.EXE"}})
    assert not matches(
        parse_lucene(r"process.executable:*\\AnyDesk.exe"), {"process": {"executable": "C:\\ANYDESK.EXE"}}
    )


esql_parser = pytest.importorskip("esql_parser.EsqlBaseParser", reason="esql-parser (dev) not installed")


def parse_esql(query: str) -> int:
    from antlr4 import CommonTokenStream, InputStream
    from esql_parser.EsqlBaseLexer import EsqlBaseLexer

    lexer = EsqlBaseLexer(InputStream(query))
    lexer.removeErrorListeners()
    parser = esql_parser.EsqlBaseParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.singleStatement()
    return parser.getNumberOfSyntaxErrors()


def test_every_esql_query_parses(elastic_outputs) -> None:
    failures = [item.rule.name for item in _ok(elastic_outputs, "esql") if parse_esql(str(item.queries[0]))]
    assert not failures
    assert parse_esql('from x | where (a == "') > 0


LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
COMPARED = re.compile(r'(\S+)\s*(?:==|like)\s*"S"|(\S+)\s+in\s+\("S"|(?:starts_with|ends_with)\((\S+), "S"\)')


def test_esql_strings_compare_lowercased(elastic_outputs) -> None:
    for item in _ok(elastic_outputs, "esql"):
        query = str(item.queries[0]).split("|", 1)[1]
        for literal in LITERAL.findall(query):
            assert literal == literal.lower(), f"{item.rule.name}: literal {literal!r} not lower-cased"
        for match in COMPARED.finditer(LITERAL.sub('"S"', query)):
            operand = next(group for group in match.groups() if group)
            assert re.sub(r"^(?:\(|CASE\()+", "", operand).startswith("TO_LOWER("), (
                f"{item.rule.name}: case-sensitive {match.group(0)}"
            )


def _pipeline_fields() -> tuple[set[str], tuple[str, ...]]:
    """ECS field names the Elastic pipelines write, and the namespaces their prefix mappings fill."""
    from sigma.processing.transformations import (
        AddConditionTransformation,
        AddFieldnamePrefixTransformation,
        FieldMappingTransformation,
    )

    from ghosthire.compile import load_targets

    pipeline = next(target for target in load_targets() if target.id == "esql").pipeline()
    fields: set[str] = set()
    prefixes: list[str] = []
    for item in pipeline.items:
        transformation = item.transformation
        if isinstance(transformation, FieldMappingTransformation):
            for mapped in transformation.mapping.values():
                fields.update([mapped] if isinstance(mapped, str) else mapped)
        elif isinstance(transformation, AddConditionTransformation):
            fields.update(transformation.conditions)
        elif isinstance(transformation, AddFieldnamePrefixTransformation):
            prefixes.append(transformation.prefix)
    return fields, tuple(prefixes)


def test_esql_fields_are_ecs_fields(elastic_outputs) -> None:
    """Every field an ES|QL query names is one the ECS pipelines map to (no raw field leaks through)."""
    fields, prefixes = _pipeline_fields()
    for item in _ok(elastic_outputs, "esql"):
        body = LITERAL.sub("", str(item.queries[0]).split("|", 1)[1])
        named = set(re.findall(r"\b[a-z_][a-z0-9_]*(?:\.[A-Za-z_0-9]+)+\b", body))
        unknown = {field for field in named if field not in fields and not field.startswith(prefixes)}
        assert not unknown, f"{item.rule.name}: fields no ECS pipeline maps: {sorted(unknown)}"
