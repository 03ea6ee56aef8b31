"""Run SigmaHQ's own regression cases through the local hunt engine and report pass/fail.

    .venv/bin/python scripts/sigmahq_regression.py /path/to/SigmaHQ/sigma [--verbose]

SigmaHQ keeps, for some rules, a `regression_tests_path` naming an `info.yml` under `regression_data/`:
an EVTX sample and the number of matches the rule must raise on it. As SigmaHQ's own runner does, a
case passes when the rule raises at least that many alerts on its sample (at least one when no count is
given); more is reported as a warning. Every rule with a case is hunted in one engine run over every
sample, and each alert is counted against the sample it came from. The checkout is read in place:
nothing of it is copied into this repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

RULE_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-dfir", "rules-compliance")


@dataclass(frozen=True)
class RegressionCase:
    rule_file: Path
    rule_id: str
    sample: Path
    expected: int | None


def find_cases(checkout: Path) -> list[RegressionCase]:
    """Every EVTX regression case of every rule under the checkout's rule folders."""
    cases = []
    for folder in RULE_FOLDERS:
        for rule_file in sorted((checkout / folder).rglob("*.yml")):
            rule = yaml.load(rule_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            if not isinstance(rule, dict) or "regression_tests_path" not in rule:
                continue
            info_path = checkout / rule["regression_tests_path"]
            if not info_path.is_file():
                continue
            info = yaml.load(info_path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
            for test in info.get("regression_tests_info") or []:
                if isinstance(test, dict) and test.get("type") == "evtx":
                    sample = checkout / test["path"]
                    cases.append(RegressionCase(rule_file, str(rule["id"]), sample, test.get("match_count")))
    return cases


def run(checkout: Path, verbose: bool) -> int:
    from ghosthire.hunt import hunt
    from ghosthire.rules import load_pack

    cases = find_cases(checkout)
    samples = sorted({case.sample for case in cases if case.sample.is_file()})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ghosthire-regression-") as folder:
        # The rules with a case, side by side (links, not copies) so that one pack holds them all.
        for index, rule_file in enumerate(sorted({case.rule_file for case in cases})):
            (Path(folder) / f"{index:04d}-{rule_file.name}").symlink_to(rule_file)
        pack = load_pack(Path(folder), require_metadata=False)
        outcome = hunt(pack, samples)
    seconds = time.perf_counter() - started
    counts = Counter(
        (alert.rule.id, location.file) for alert in outcome.alerts for location in alert.locations[:1]
    )
    ids = {rule.name: rule.id for rule in pack.rules}
    skipped = {ids[name]: reason for name, reason in outcome.plan.skipped.items() if name in ids}
    passed = exact = 0
    for case in cases:
        found = counts[(case.rule_id, str(case.sample))]
        wanted = case.expected if case.expected is not None else 1
        ok = found >= wanted
        passed += ok
        exact += found == wanted
        if not ok or (verbose and found != wanted):
            why = f" (skipped: {skipped[case.rule_id]})" if case.rule_id in skipped else ""
            status = "FAIL" if not ok else "more"
            print(f"{status} {case.rule_file.relative_to(checkout)}: {found} of {wanted}{why}")
    print(
        f"{passed} of {len(cases)} SigmaHQ regression cases pass ({exact} with exactly the expected count); "
        f"{len(pack.rules)} rules, {len(samples)} samples, {seconds:.1f} s"
    )
    return 0 if passed == len(cases) else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "checkout", type=Path, help="a SigmaHQ/sigma checkout (or an extracted archive of it)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also list cases with more matches than expected"
    )
    arguments = parser.parse_args()
    sys.exit(run(arguments.checkout, arguments.verbose))


if __name__ == "__main__":
    main()
