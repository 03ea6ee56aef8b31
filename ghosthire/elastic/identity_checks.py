"""A rule's comparison with the identity lookup (`identity_check`) in ES|QL, appended to the rule's query:
the rule's user, normalised as the identities lookup index keys it (ghosthire.elastic.persons), is joined
to that index (`LOOKUP JOIN`, the index the installer loads for the triage rule); a country comparison
also joins the event's country name or code to the countries lookup index (ISO alpha-2, the table the
local hunt and Splunk use); then `where` keeps the events that break the person's row, as the local hunt
does after matching (ghosthire/identities/checks.py). A person the index does not know, or a row without
the compared column, gives no verdict: the event is dropped. Needs Elasticsearch 8.19 / 9.1 or later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from ghosthire.elastic.ecs import ecs_field_name
from ghosthire.elastic.persons import ACCESS_END, START_DATE
from ghosthire.identities.countries import country_names
from ghosthire.model.hiring import NEW_HIRE_DAYS
from ghosthire.rules.metadata import IdentityCheck, IdentityComparison

if TYPE_CHECKING:
    from ghosthire.compile.targets import Target
    from ghosthire.rules import PackRule

# The columns the identities lookup index adds (ghosthire.elastic.persons.LOOKUP_MAPPING).
WORK_COUNTRY = "ghosthire.work_country"
# The countries lookup index: a lower-cased country name or code (the join key), its alpha-2 code, and
# whether the company's watch list (ghosthire_watch_countries.csv) holds it.
COUNTRY, COUNTRY_CODE = "ghosthire.country", "ghosthire.country_code"
COUNTRY_WATCHED = "ghosthire.country_watched"
COUNTRIES_MAPPING: dict[str, Any] = {
    "properties": {
        "ghosthire": {
            "properties": {
                "country": {"type": "keyword"},
                "country_code": {"type": "keyword"},
                "country_watched": {"type": "boolean"},
            }
        }
    }
}


class IdentityCheckSettings(BaseModel):
    """backends/elastic/kibana.yml, `identity_checks`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    countries_index: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


def country_documents(watched: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """The countries lookup index's documents, keyed by their join value: every name and code the
    country table knows, lower-cased as the query lowers the event's value, flagged when watched."""
    return {
        name: {"ghosthire": {"country": name, "country_code": code, "country_watched": code in watched}}
        for name, code in sorted(country_names().items())
    }


def identity_stage(pack_rule: PackRule, query: str, target: Target) -> str:
    """The rule's ES|QL followed by the joins with the lookup indices and the comparison."""
    from ghosthire.elastic.kibana import load_settings  # the Kibana settings module imports this one
    from ghosthire.elastic.persons import IDENTIFIER, user_key

    check = pack_rule.meta.identity_check if pack_rule.meta else None
    if check is None:
        return query
    settings = load_settings()
    logsource = pack_rule.rule.logsource
    lines = [
        query,
        f"| eval {IDENTIFIER} = {user_key(rule_ecs_field(check.entity_field, logsource))}",
        f"| lookup join {settings.person_risk.identities_index} on {IDENTIFIER}",
    ]
    if check.compare is IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY:
        assert check.event_field is not None  # the rule model requires it for this comparison
        lines += [
            f"| eval {COUNTRY} = TO_LOWER({rule_ecs_field(check.event_field, logsource)})",
            f"| lookup join {settings.identity_checks.countries_index} on {COUNTRY}",
        ]
    conditions = [_comparison(check), *_scope(check)]
    return "\n".join([*lines, f"| where {' and '.join(conditions)}"])


def rule_ecs_field(field: str, logsource: Any, what: str = "identity_check") -> str:
    """The ECS name of a field a rule's `what` (identity_check, work_pattern) reads."""
    name = ecs_field_name(field, logsource)
    if name is None:
        raise SigmaFeatureNotSupportedByBackendError(f"{what} field {field!r} has no ECS field")
    return name


def _new_hire_window(days: int) -> str:
    """As ghosthire.model.hiring: from the start day (UTC) through `days` days after it."""
    return (
        f'DATE_DIFF("seconds", {START_DATE}, @timestamp) >= 0 '
        f'and DATE_DIFF("days", {START_DATE}, @timestamp) <= {days}'
    )


def _scope(check: IdentityCheck) -> list[str]:
    """new_hires_only: the new-hire window, except for a watched country (ghosthire.identities.checks)."""
    if not check.new_hires_only:
        return []
    if check.compare is IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY:
        return [f"({COUNTRY_WATCHED} == true or {_new_hire_window(NEW_HIRE_DAYS)})"]
    return [f"({_new_hire_window(NEW_HIRE_DAYS)})"]


def _comparison(check: IdentityCheck) -> str:
    match check.compare:
        case IdentityComparison.AFTER_END_DATE:
            # access_end: the end of the last working day where the person works, and the grace after it
            return f'DATE_DIFF("seconds", {ACCESS_END}, @timestamp) >= 0'
        case IdentityComparison.WITHIN_DAYS_OF_START:
            return _new_hire_window(check.days or NEW_HIRE_DAYS)
        case IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY:
            return f"{COUNTRY_CODE} != {WORK_COUNTRY}"
