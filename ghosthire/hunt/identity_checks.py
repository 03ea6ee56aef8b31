"""The stage after matching for rules with an `identity_check`: a hit stands only when the event breaks
the identity lookup's row of the person it names (country, end date). It runs as the engine reads the
hits, so that the many it drops (every sign-in, for a country check) are never held."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ghosthire.hunt.alerts import to_time
from ghosthire.hunt.engine import Hit
from ghosthire.hunt.plan import HuntPlan
from ghosthire.identities import Directory
from ghosthire.identities.checks import identity_check_holds
from ghosthire.identities.directory import EntityKind


def has_identity_checks(plan: HuntPlan) -> bool:
    return any(detection.rule.meta and detection.rule.meta.identity_check for detection in plan.detections)


def identity_check(directory: Directory, end_date_grace: timedelta) -> Callable[[Hit], bool]:
    """Whether a hit stands: its rule has no identity check, or its event, with the fields the engine
    read with the match, breaks the row of the person it names (a leaver's row `end_date_grace` after
    their last day)."""

    def stands(hit: Hit) -> bool:
        meta = hit.detection.rule.meta
        check = meta.identity_check if meta else None
        if check is None:
            return True
        values = dict(zip(hit.detection.later_fields, hit.values, strict=True))
        person = directory.resolve(EntityKind.USER, values[check.entity_field])
        value = values[check.event_field] if check.event_field else None
        return identity_check_holds(
            check, person, value, to_time(hit.ts), directory.watched_countries, end_date_grace
        )

    return stands
