"""New-hire escalation in the Splunk app: the rule of ghosthire/tuning.py, data-driven, shown everywhere.

The build writes each rule's escalated score and level into the `ghosthire_rules` lookup (computed by
tuning.Escalation), the macro `ghosthire_new_hire_escalation` applies them to alerts whose entity is in
the `ghosthire_new_hires` lookup within the window, and the risk roll-up and every dashboard read alerts
through it rather than repeating the rule.
"""

from __future__ import annotations

import csv
import io
import re

from ghosthire.model.levels import LEVELS
from ghosthire.rules import RulePack
from ghosthire.splunk.conf import parse_conf
from ghosthire.tuning import NEW_HIRE_DAYS, NEW_HIRE_SCORE_FACTOR
from tests.splunk.test_app import conf, dashboard_definitions, queries

MACRO = "ghosthire_new_hire_escalation"


def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    parsed = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    return {name: keys["definition"] for name, keys in parsed.items()}


def test_the_catalogue_carries_each_rules_escalated_score_and_level(
    app_files: dict[str, bytes], pack: RulePack
) -> None:
    rows = list(csv.DictReader(io.StringIO(app_files["lookups/ghosthire_rules.csv"].decode("utf-8"))))
    assert rows
    for row in rows:
        rule = pack.get(row["rule"])
        assert rule.meta is not None
        score = rule.meta.risk.score
        assert int(row["new_hire_score"]) == min(100, round(score * NEW_HIRE_SCORE_FACTOR)), row["rule"]
        step = LEVELS[min(LEVELS.index(rule.level) + 1, len(LEVELS) - 1)]
        assert row["new_hire_level"] == step, row["rule"]
        assert row["level"] == rule.level


def test_the_macro_reads_the_lookup_definition_and_the_tuning_window(app_files: dict[str, bytes]) -> None:
    definition = macros(app_files)[MACRO]
    assert definition.startswith(
        "lookup ghosthire_new_hires user AS entity OUTPUT start_date AS new_hire_start"
    )
    # start_date is a UTC calendar day, as in tuning.escalation_for (not the search head's time zone)
    assert '" 00:00:00 +0000", "%Y-%m-%d %H:%M:%S %z")' in definition
    # the new-hire window of ghosthire.model.hiring: the start day through the NEW_HIRE_DAYS days after it
    assert f"new_hire_seconds < {(NEW_HIRE_DAYS + 1) * 86400}," in definition
    assert "score=if(new_hire=1, new_hire_score, score)" in definition
    assert "level=if(new_hire=1, new_hire_level, level)" in definition
    entity = macros(app_files)["ghosthire_entity"]
    assert entity.endswith("OUTPUT title guidance entity_type score level new_hire_score new_hire_level")
    transforms = conf(app_files, "default/transforms.conf")
    assert transforms["ghosthire_new_hires"]["filename"] == "ghosthire_new_hires.csv"
    assert transforms["ghosthire_new_hires"]["case_sensitive_match"] == "false"


def test_the_person_risk_applies_the_escalation(app_files: dict[str, bytes]) -> None:
    ranking = macros(app_files)["ghosthire_person_risk"]
    assert ranking.splitlines()[:4] == [
        "`ghosthire_signals`",
        "| `ghosthire_entity`",
        "| `ghosthire_person`",
        f"| `{MACRO}`",
    ]
    assert "sum(score) as total_score" in ranking and "max(new_hire) as new_hire" in ranking
    searches = conf(app_files, "default/savedsearches.conf")
    [queue] = [keys for keys in searches.values() if "`ghosthire_person_risk`" in keys["search"]]
    assert queue["disabled"] == "1"


def test_dashboards_show_the_escalation_and_never_repeat_its_rule(app_files: dict[str, bytes]) -> None:
    definitions = dashboard_definitions(app_files)
    assert definitions, "the app has dashboards"
    for path, definition in definitions.items():
        texts = queries(definition)
        for text in texts:
            # the lookup itself is read only to count who is on file; the rule lives in the macro
            if "ghosthire_new_hires" in text:
                assert text.startswith("| inputlookup ghosthire_new_hires"), path
            assert not re.search(r"strptime\(|\* ?1\.5|<= ?90\b", text), (path, text)
        signal_queries = [
            text for text in texts if "`ghosthire_signals`" in text or "`ghosthire_person" in text
        ]
        assert signal_queries, path
        for text in signal_queries:
            assert f"`{MACRO}`" in text or "`ghosthire_person" in text, (path, text)
        shown = " ".join(texts)
        assert "new_hire" in shown, path
