"""Who an alert is about, in Splunk: the identity keys lookup the app resolves entities with.

The company's identity and asset lookups (Splunk ES Asset & Identity columns, read by ghosthire.identities)
become one generated lookup, `ghosthire_identity_keys`: a row per normalised identifier and kind (`user`
for accounts, e-mail addresses, GitHub logins, employee and applicant ids; `host` for host names, their
short names and cloud device ids) with the person it belongs to. The macro `ghosthire_person` then needs
only `lookup` at search time: the entity lower-cased without a `DOMAIN\\` or a machine account's `$`, then,
for a host not found, its short name. Forms the shared resolver (ghosthire.identities.Directory) derives
when it resolves (an identifier at a company domain as its bare name, a bare name at each company domain)
are written as keys here, so Splunk and the local hunt resolve alike. An identifier two persons claim is
kept with an empty person: it resolves to nobody, and is never merged.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from ghosthire.identities import Directory, LookupProblem, Person
from ghosthire.model.leaving import access_end
from ghosthire.splunk.searches import readable_minutes
from ghosthire.triage import TriagePolicy

IDENTITY_KEYS = "ghosthire_identity_keys.csv"
_ADDRESS = re.compile(r"^[0-9.:]+$")
COLUMNS = (
    "kind",
    "key",
    "person",
    "person_name",
    "bunit",
    "category",
    "work_country",
    "watchlist",
    "start_date",
    "end_date",
    "access_end",
    "time_zone",
)


def company_directory() -> tuple[Directory, list[LookupProblem]]:
    """The identities and assets the build uses (the company's `--lookups` folder, else the examples)."""
    directory = Directory.in_use()
    return directory, directory.problems


def identity_keys(directory: Directory, end_date_grace: timedelta) -> bytes:
    """The `ghosthire_identity_keys` lookup: kind, key, the person with what the dashboards show, and
    when a leaver's access ends (ghosthire.model.leaving, `end_date_grace` after their last day)."""
    claims: dict[tuple[str, str], set[str]] = defaultdict(set)
    for person in directory.persons.values():
        for kind, key in _keys(person, directory.company_domains):
            claims[kind, key].add(person.key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for (kind, key), owners in sorted(claims.items()):
        person = directory.persons[next(iter(owners))] if len(owners) == 1 else None
        shown = _shown(person, end_date_grace) if person else {}
        writer.writerow({"kind": kind, "key": key, **shown})
    return buffer.getvalue().encode("utf-8")


def _keys(person: Person, company_domains: Iterable[str]) -> Iterator[tuple[str, str]]:
    domains = sorted(company_domains)
    for identifier in {*person.identifiers, *([person.email] if person.email else [])}:
        bare = identifier.strip().lower().rsplit("\\", 1)[-1]
        if not bare:
            continue
        yield "user", bare
        if "@" in bare:
            local, domain = bare.rsplit("@", 1)
            if domain in domains:
                yield "user", local
        else:
            yield from (("user", f"{bare}@{domain}") for domain in domains)
    for host in person.hosts:
        name = host.strip().lower().rsplit("\\", 1)[-1].rstrip("$")
        if name:
            yield "host", name
            if not _ADDRESS.match(name):
                yield "host", name.split(".", 1)[0]
    for device in person.device_ids:
        if device.strip():
            yield "host", device.strip().lower()


def _shown(person: Person, end_date_grace: timedelta) -> dict[str, str]:
    end = access_end(person.end_date, person.start_date, person.time_zone, end_date_grace)
    return {
        "person": person.key,
        "person_name": person.display_name,
        "bunit": person.bunit,
        "category": "|".join(person.categories),
        "work_country": person.work_country or "",
        "watchlist": str(person.watchlist).lower(),
        "start_date": person.start_date.isoformat() if person.start_date else "",
        "end_date": person.end_date.isoformat() if person.end_date else "",
        "access_end": str(int(end.timestamp())) if end else "",  # epoch seconds, as _time
        "time_zone": person.time_zone or "",
    }


@dataclass(frozen=True)
class TriageSearch:
    """A saved search of the triage queue: persons whose alerts over the policy's window cross its
    thresholds, read from `source_macro` (the app's summary index, or ES's risk index)."""

    name: str
    source_macro: str
    filter_macro: str
    role: str
    cron: str
    earliest: str
    annotations: str


def threshold_condition(policy: TriagePolicy) -> str:
    """The policy's queue conditions as a `where` expression over guidance_areas and total_score."""
    conditions = []
    for condition in policy.queue_when:
        terms = [f"guidance_areas >= {condition.min_guidance_areas}"]
        if condition.min_score:
            terms.append(f"total_score >= {condition.min_score}")
        conditions.append(" AND ".join(terms))
    return " OR ".join(f"({condition})" for condition in conditions)


def window_earliest(policy: TriagePolicy, reach_minutes: int) -> str:
    """The triage search's dispatch time: the policy's lookback (window, new-hire period) with
    `reach_minutes`, the longest range a detection reads at a run (the summary index dates a correlation's
    row at that range's start, its events later: `ghosthire_alert_span` places it)."""
    lookback = policy.lookback(timedelta(minutes=reach_minutes))
    return f"-{readable_minutes(int(lookback.total_seconds() // 60))}@m"
