"""The hostile-value campaign, longer than the suite runs it: generated packs of rules comparing
`CommandLine` with hostile values (tests/hostile/properties.py), every target's query parsed and judged
by the suite's evaluators. Prints the cases tried, the failures (each with its verdict) and the time.

    .venv/bin/python scripts/hostile_campaign.py --packs 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.hostile.properties import CASES, Case, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=100, help="generated packs (up to 6 rules each)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="ghosthire-hostile-"))
    tried: Counter[str] = Counter()
    failures: list[str] = []

    @seed(options.seed)
    @settings(
        max_examples=options.packs,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases=CASES)
    def campaign(cases: list[Case]) -> None:
        for case, per_target in zip(cases, verdicts(directory, cases), strict=True):
            for target, verdict in per_target.items():
                tried[target] += 1
                if not verdict.startswith(("ok", "skipped")):
                    failures.append(f"{case!r} {target}: {verdict}")
                elif verdict.startswith("skipped"):
                    tried[f"{target} skipped"] += 1

    started = time.perf_counter()
    campaign()
    elapsed = time.perf_counter() - started
    per_target = ", ".join(
        f"{target} {count} ({tried[f'{target} skipped']} skipped)"
        for target, count in sorted(tried.items())
        if not target.endswith(" skipped")
    )
    print(f"cases tried per target: {per_target}")
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(f"  {failure}")
    print(f"time: {elapsed:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
