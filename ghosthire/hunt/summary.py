"""What a hunt read and found, in numbers: the CLI's summary lines and the HTML report's header."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ghosthire.hunt.run import HuntOutcome


@dataclass(frozen=True)
class HuntSummary:
    files: int
    records: int
    by_source: dict[str, int]
    skipped: dict[str, int]
    alerts_per_rule: dict[str, int]
    alerts: int
    elapsed: float
    rules_not_run: dict[str, str]

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        """The summary as plain lines: records read, skipped with reasons, alerts per rule, time."""
        sources = ", ".join(f"{name} {count:,}" for name, count in sorted(self.by_source.items())) or "none"
        lines = [
            f"read {self.records:,} records from {self.files} files ({sources}); "
            f"skipped {self.skipped_total:,}; {self.alerts:,} alerts in {self.elapsed:.2f}s"
        ]
        lines += [f"  skipped {count:,}: {reason}" for reason, count in sorted(self.skipped.items())]
        lines += [f"  alerts {count:,}: {name}" for name, count in sorted(self.alerts_per_rule.items())]
        lines += [
            f"  rule not run locally: {name}: {reason}" for name, reason in sorted(self.rules_not_run.items())
        ]
        return lines


def summarise(outcome: HuntOutcome) -> HuntSummary:
    stats = outcome.result.stats
    skipped = Counter(_reason_group(problem.reason) for problem in outcome.result.report.problems)
    if stats.unrecognised:
        skipped["not recognised as any log source"] += stats.unrecognised
    if stats.out_of_range:
        skipped["outside --since/--until (or no readable time)"] += stats.out_of_range
    return HuntSummary(
        files=len(outcome.result.report.files),
        records=stats.records,
        by_source=dict(stats.by_source),
        skipped=dict(skipped),
        alerts_per_rule=dict(Counter(alert.rule.name for alert in outcome.alerts)),
        alerts=len(outcome.alerts),
        elapsed=stats.elapsed,
        rules_not_run=dict(outcome.plan.skipped),
    )


def _reason_group(reason: str) -> str:
    """A problem's reason without its per-record detail (byte offsets, error text), for counting."""
    head = reason.split(" (", 1)[0]
    return head if head.startswith("file not read") else head.split(":", 1)[0]
