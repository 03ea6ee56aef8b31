"""What a hunt read and found, in numbers: the CLI's summary lines and the HTML report's header."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ghosthire.hunt.engine import Uncomparable
from ghosthire.hunt.run import HuntOutcome

# Rules named in the one-line alert summary; the HTML report and the CSV have every count.
TOP_RULES = 5


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
    # Rule files (file:line: reason) that could not be read, so did not run.
    rules_unreadable: list[str]
    # Fields holding what no rule value can equal: field, file, records, first line, shape.
    uncomparable: list[Uncomparable] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        """The summary as a few plain lines: records read, skipped with reasons, the rules with the most
        alerts (every count is in the HTML report and the CSV), rules not run, time."""
        sources = ", ".join(f"{name} {count:,}" for name, count in sorted(self.by_source.items())) or "none"
        lines = [
            f"read {self.records:,} records from {self.files} files ({sources}); "
            f"skipped {self.skipped_total:,}; {self.alerts:,} alerts in {self.elapsed:.2f}s"
        ]
        lines += [f"  skipped {count:,}: {reason}" for reason, count in sorted(self.skipped.items())]
        lines += [
            f"  {found.field} {found.what()}, in {found.records:,} records, first at "
            f"{found.file}:{found.first_line} (kept)"
            for found in self.uncomparable
        ]
        if self.alerts_per_rule:
            ranked = sorted(self.alerts_per_rule.items(), key=lambda item: (-item[1], item[0]))
            top = ", ".join(f"{count:,} {name}" for name, count in ranked[:TOP_RULES])
            rest = (
                f"; {len(ranked) - TOP_RULES} more rules in --format html or csv"
                if len(ranked) > TOP_RULES
                else ""
            )
            lines.append(f"  alerts from {len(ranked)} rules, most from: {top}{rest}")
        by_reason: dict[str, list[str]] = {}
        for name, reason in sorted(self.rules_not_run.items()):
            by_reason.setdefault(reason, []).append(name)
        lines += [
            f"  {len(names)} rules not run locally ({reason}): {', '.join(names)}"
            for reason, names in by_reason.items()
        ]
        if self.rules_unreadable:
            lines.append(
                f"  {len(self.rules_unreadable)} rules skipped, not readable (--strict stops at them):"
            )
            lines += [f"    {problem}" for problem in self.rules_unreadable]
        return lines


def summarise(outcome: HuntOutcome) -> HuntSummary:
    stats = outcome.result.stats
    skipped = Counter(problem.kind for problem in outcome.result.report.problems)
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
        rules_unreadable=[str(problem) for problem in outcome.plan.unreadable],
        uncomparable=list(stats.uncomparable),
    )
