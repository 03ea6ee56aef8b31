"""Sigma's rule levels, lowest first: the one list every target maps its severities from."""

from __future__ import annotations

from typing import Literal, get_args

Level = Literal["informational", "low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = get_args(Level)
# What a rule without `level` is treated as.
DEFAULT_LEVEL: Level = "medium"


def raised(level: Level) -> Level:
    """One level up, at most critical."""
    return LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]
