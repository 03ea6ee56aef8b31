"""Splunk compilation: exact SPL for small rules, strict field mapping, placeholders, escaping, tstats."""

from __future__ import annotations

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from ghosthire.compile import CompiledRule, Target
from tests.splunk.spl_window import commands

PROCESS_RULE = r"""
title: Golden
id: 6f1d2c3b-0000-4000-8000-000000000001
name: golden_rule
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\tool.exe'
    CommandLine|contains: [' --pin=', ' /pin=']
  filter:
    User: 'NT AUTHORITY\SYSTEM'
  condition: sel and not filter
"""


def convert(target: Target, rule_yaml: str, **placeholders: list[str]) -> list[str]:
    """The target's queries for inline rule YAML, with extra placeholder values."""
    pipeline = target.pipeline()
    pipeline.vars.update(placeholders)
    backend = target.backend_class()(processing_pipeline=pipeline, **target.options)
    return list(backend.convert(SigmaCollection.from_yaml(rule_yaml), target.output_format))


def process_rule(detection: str) -> str:
    return (
        "title: Inline\nid: 6f1d2c3b-0000-4000-8000-00000000000f\nname: inline_rule\n"
        "logsource: {product: windows, category: process_creation}\n" + detection
    )


def test_golden_single_event_rule(splunk_target: Target) -> None:
    assert convert(splunk_target, PROCESS_RULE) == [
        "`ghosthire_src_windows_process_creation` "
        'Image="*\\\\tool.exe" CommandLine IN ("* --pin=*", "* /pin=*") NOT User="NT AUTHORITY\\\\SYSTEM"\n'
        "| `golden_rule_filter`"
    ]


def test_golden_value_count_correlation(fixture_queries: dict[str, CompiledRule]) -> None:
    assert fixture_queries["okta_multi_country"].queries == [
        '`ghosthire_src_okta` eventType="user.session.start" outcome.result="SUCCESS"\n'
        "| `okta_session_start_filter`\n"
        "| sort 0 _time\n"
        "| eval gh_by1=lower('actor.alternateId'), gh_value=lower('client.geographicalContext.country')\n"
        "| streamstats time_window=86400s dc(gh_value) as value_count values(gh_value) as distinct_values"
        " by gh_by1\n"
        "| where value_count >= 2\n"
        "| addinfo\n"
        '| where _time >= relative_time(info_min_time, "+86400s")\n'
        "| stats max(value_count) as value_count values(distinct_values) as distinct_values"
        " min(_time) as firstTime max(_time) as lastTime by gh_by1\n"
        '| rename gh_by1 AS "actor.alternateId"\n'
        "| `okta_multi_country_filter`"
    ]


def test_correlations_group_and_count_case_insensitively(fixture_queries: dict[str, CompiledRule]) -> None:
    """Splunk's `by` and `dc()` are case-sensitive; Sigma values and the local engine are not."""
    windowed = {name: item for name, item in fixture_queries.items() if "streamstats" in item.queries[0]}
    assert windowed, "the fixtures hold sliding-window correlations"
    for name, item in windowed.items():
        query = item.queries[0]
        assert "| eval gh_by1=lower(" in query, name
        assert "by gh_by1" in query and '| rename gh_by1 AS "' in query, name


def test_every_fixture_correlation_type_compiles(fixture_queries: dict[str, CompiledRule]) -> None:
    assert {name: item.skipped for name, item in fixture_queries.items() if not item.ok} == {}
    ordered = fixture_queries["rmm_then_local_admin"].queries[0]
    assert "| multisearch\n[ search `ghosthire_src_windows_process_creation`" in ordered
    assert "streamstats current=f time_window=7200s max(_gh_step1) as _gh_chain1 by gh_by1" in ordered


def test_quotes_backslashes_and_pipes_in_values_stay_inside_the_quoted_value(splunk_target: Target) -> None:
    detection = "detection:\n  sel:\n    CommandLine|contains: 'x\" | delete'\n    Image: 'C:\\a\\\"b|c'\n  condition: sel\n"
    [query] = convert(splunk_target, process_rule(detection))
    assert 'CommandLine="*x\\" | delete*"' in query
    assert 'Image="C:\\\\a\\\\\\"b|c"' in query
    # The only command after the search is the filter macro: no value escaped its quotes.
    assert commands(query)[1:] == ["`inline_rule_filter`"]


def test_a_backtick_in_a_value_is_refused(splunk_target: Target) -> None:
    detection = "detection:\n  sel:\n    CommandLine|contains: 'a`delete_everything`b'\n  condition: sel\n"
    with pytest.raises(SigmaError, match="backtick"):
        convert(splunk_target, process_rule(detection))


def test_an_unmapped_field_fails_the_rule_with_its_name(splunk_target: Target) -> None:
    detection = "detection:\n  sel:\n    Image|endswith: '\\x.exe'\n    NoSuchField: 1\n  condition: sel\n"
    with pytest.raises(SigmaError, match="not mapped: NoSuchField"):
        convert(splunk_target, process_rule(detection))


def test_an_unmapped_logsource_fails_the_rule(splunk_target: Target) -> None:
    rule = "title: X\nid: 6f1d2c3b-0000-4000-8000-00000000000e\nname: x\nlogsource: {product: plan9}\n"
    rule += "detection:\n  sel:\n    a: 1\n  condition: sel\n"
    with pytest.raises(SigmaError, match="no Splunk log source mapping"):
        convert(splunk_target, rule)


def test_an_unmapped_correlation_field_fails_the_correlation(splunk_target: Target) -> None:
    base = PROCESS_RULE
    correlation = """
---
title: Many
id: 6f1d2c3b-0000-4000-8000-000000000010
name: many
correlation:
  type: value_count
  rules: [golden_rule]
  group-by: [NotAWindowsField]
  timespan: 1h
  condition: {gte: 2, field: Image}
"""
    with pytest.raises(SigmaError, match="correlation fields are not mapped: NotAWindowsField"):
        convert(splunk_target, base + correlation)


def test_placeholders_become_inline_values_with_the_rule_modifiers(splunk_target: Target) -> None:
    detection = "detection:\n  sel:\n    Image|endswith|expand: '%tools%'\n  condition: sel\n"
    [query] = convert(splunk_target, process_rule(detection), tools=["\\AnyDesk.exe", "\\rustdesk.exe"])
    assert query.startswith(
        '`ghosthire_src_windows_process_creation` Image IN ("*\\\\AnyDesk.exe", "*\\\\rustdesk.exe")'
    )


def test_an_undefined_placeholder_fails_the_rule(splunk_target: Target) -> None:
    detection = "detection:\n  sel:\n    Image|expand: '%no_such_list%'\n  condition: sel\n"
    with pytest.raises(SigmaError, match="no_such_list"):
        convert(splunk_target, process_rule(detection))


def test_an_ordered_correlation_with_a_partial_condition_is_refused(splunk_target: Target) -> None:
    second = PROCESS_RULE.replace("golden_rule", "golden_two").replace("0001", "0002")
    correlation = """
---
title: Ordered
id: 6f1d2c3b-0000-4000-8000-000000000011
name: ordered
correlation:
  type: temporal_ordered
  rules: [golden_rule, golden_two, golden_rule]
  group-by: [Computer]
  timespan: 1h
  condition: {gte: 2}
"""
    with pytest.raises(SigmaError, match="all its rules must occur in order"):
        convert(splunk_target, PROCESS_RULE + "---" + second + correlation)


def test_golden_tstats_variant(splunk_tstats_target: Target) -> None:
    assert convert(splunk_tstats_target, PROCESS_RULE) == [
        "| tstats `ghosthire_summariesonly` count min(_time) as firstTime max(_time) as lastTime"
        ' from datamodel=Endpoint.Processes where Processes.process_path="*\\\\tool.exe"'
        ' Processes.process IN ("* --pin=*", "* /pin=*") NOT Processes.user="NT AUTHORITY\\\\SYSTEM"'
        " by Processes.dest Processes.user Processes.parent_process_path Processes.process_path Processes.process\n"
        '| rename "Processes.*" as *\n'
        "| `golden_rule_tstats_filter`"
    ]


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        ("detection:\n  sel:\n    Image|re: '.*x[0-9]\\.exe'\n  condition: sel\n", "regular expressions"),
        ("detection:\n  sel:\n    Hashes|contains: 'abc'\n  condition: sel\n", "not mapped: Hashes"),
    ],
)
def test_no_tstats_variant_when_the_data_model_cannot_express_the_rule(
    splunk_tstats_target: Target, detection: str, reason: str
) -> None:
    with pytest.raises(SigmaError, match=reason):
        convert(splunk_tstats_target, process_rule(detection))
