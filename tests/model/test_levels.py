"""One list of levels, Sigma's, and every target maps each of them."""

from __future__ import annotations

from sigma.rule import SigmaLevel

from ghosthire.elastic.kibana import load_settings
from ghosthire.hunt.output import LEVEL_STYLES
from ghosthire.model.levels import LEVELS, raised
from ghosthire.splunk.searches import _ALERT_SEVERITY


def test_the_levels_are_sigmas_in_order() -> None:
    assert tuple(level.name.lower() for level in SigmaLevel) == LEVELS


def test_raised_goes_one_up_and_stops_at_critical() -> None:
    assert [raised(level) for level in LEVELS] == ["low", "medium", "high", "critical", "critical"]


def test_every_target_maps_every_level() -> None:
    assert set(load_settings().levels) == set(LEVELS), "backends/elastic/kibana.yml"
    assert set(_ALERT_SEVERITY) == set(LEVELS), "Splunk alert.severity"
    assert set(LEVEL_STYLES) == set(LEVELS), "hunt table styles"
