"""Benchmark the local hunt end to end against DuckDB's read floor and a Zircolite-style baseline.

    .venv/bin/python scripts/benchmark.py --events 1000000
    .venv/bin/python scripts/benchmark.py --events 1000000 5000000 --skip-engine --skip-baseline \
        --repeat 3 --keep --workdir /tmp/bench      # whole command vs floor, pack and heavy, both sizes
    .venv/bin/python scripts/benchmark.py --sigma /path/to/SigmaHQ/sigma                 # rule counts

One run generates (or, with --keep, reuses) a mixed NDJSON dataset (scripts/generate_events.py), then
measures, each phase in its own process so that its peak RSS is its own (os.wait4's rusage). The engine
and the floor run --repeat times, each engine run followed by a floor run: the machine is a shared VM
whose speed drifts, and a pair run back to back meets the same conditions. The floor goal is judged on
the median of the pairs' ratios, and the table shows each phase's median run (peak memory: the highest);
the baseline runs once:
  engine    ghosthire.hunt.hunt with the full rule pack, end to end (plan, read, rules, correlations,
            alerts with their evidence read back);
  floor     DuckDB reading and parsing the same file: read_json with every column counted, so no field
            is skipped by projection pushdown;
  process   the whole `ghosthire hunt` command (start-up, rules, read, match, correlate, write the
            alerts as JSON lines), timed from outside, with the pack; `heavy` the same with one rule
            that alerts on every process start (output-heavy: about 190,000 alerts a million events);
            with the floor, a last table gives each size's whole command against the floor;
  baseline  Zircolite's way: json.loads, flatten, one in-memory SQLite `logs` table (TEXT COLLATE
            NOCASE / INTEGER columns), then every pack rule as pysigma-backend-sqlite SQL, correlations
            through its `zircolite` plan and execute_plan. The local pipeline's per-source table names
            are views of that one table, so every rule scans every event, as in Zircolite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOAL_BASELINE_RATIO = 10.0
GOAL_FLOOR_RATIO = 4.0
GOAL_PROCESS_RATIO = 2.5
GOAL_DOUBLING_RATIO = 2.2
RULE_COUNTS = (300, 600, 1200)
HEAVY_RULE = """\
title: Every process start (benchmark)
id: 4f0c7a1e-0000-4000-8000-00000000b001
name: bench_every_process_start
status: test
description: Output-heavy benchmark rule, alerting on every process creation.
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '.exe'
  condition: selection
level: low
"""
GOAL_PEAK_BYTES = 2 * 1024**3
# SigmaHQ's Windows rules over its regression samples, the whole command.
GOAL_SIGMA_SECONDS = 10.0
GOAL_SIGMA_PEAK_BYTES = 600 * 1024**2


@dataclass
class Measure:
    phase: str
    events: int
    seconds: float
    peak_bytes: int
    detail: str
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# -- phases (each runs in its own process) -------------------------------------------------------


def engine_phase(path: Path) -> dict[str, Any]:
    from ghosthire.content import rules_dir
    from ghosthire.hunt import hunt
    from ghosthire.rules import load_pack

    pack = load_pack(rules_dir())
    started, cpu = time.perf_counter(), time.process_time()
    outcome = hunt(pack, [path])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = outcome.result.stats
    correlations = sum(1 for alert in outcome.alerts if alert.group is not None)
    return {
        "events": stats.records,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "detail": f"{len(outcome.alerts)} alerts ({correlations} correlation), {len(pack.rules)} rules, "
        f"{stats.unrecognised} unrecognised, {cpu:.2f} s CPU",
    }


def floor_phase(path: Path) -> dict[str, Any]:
    import duckdb

    connection = duckdb.connect()
    # The schema of every record, found beforehand (untimed), so the timed read neither samples nor
    # skips a rare field: it builds every column of every record.
    schema = connection.execute(
        "DESCRIBE SELECT * FROM read_json(?, format = 'newline_delimited', sample_size = -1)", [str(path)]
    ).fetchall()
    columns = "{" + ", ".join(f"{_literal(name)}: {_literal(kind)}" for name, kind, *_ in schema) + "}"
    started, cpu = time.perf_counter(), time.process_time()
    counts = connection.execute(
        f"SELECT count(COLUMNS(*)) FROM read_json(?, format = 'newline_delimited', columns = {columns})",
        [str(path)],
    ).fetchone()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    events = connection.execute("SELECT count(*) FROM read_ndjson_objects(?)", [str(path)]).fetchone()[0]
    return {
        "events": events,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "detail": f"read_json, all {len(counts)} top-level columns, {cpu:.2f} s CPU",
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def baseline_phase(path: Path) -> dict[str, Any]:
    import sqlite3

    from sigma.backends.sqlite import sqliteBackend
    from sigma.backends.sqlite.runtime import execute_plan

    from ghosthire.compile.targets import load_targets
    from ghosthire.content import rules_dir
    from ghosthire.rules import load_pack

    pack = load_pack(rules_dir())
    backend = sqliteBackend(
        processing_pipeline=next(t for t in load_targets() if t.id == "local").pipeline(),
        timestamp_format="unix",
        event_id_field="row_id",
    )
    rules = _zircolite_rules(backend, pack)
    started = time.perf_counter()
    connection = sqlite3.connect(":memory:", isolation_level=None)
    events = _zircolite_ingest(connection, path, _field_mappings(pack))
    tables = {rule["source_table"].strip("`") for rule in rules if "source_table" in rule}
    tables |= {
        t.strip("`")
        for rule in rules
        if rule.get("correlation")
        for t in rule["correlation_plan"]["source_tables"].values()
    }
    for table in tables:
        connection.execute(f'CREATE VIEW "{table}" AS SELECT * FROM logs')
    alerts = 0
    for rule in rules:
        if rule.get("correlation"):
            alerts += len(execute_plan(connection, rule["correlation_plan"])[0])
        else:
            alerts += sum(len(connection.execute(query).fetchall()) for query in rule["rule"])
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "detail": f"{alerts} alert rows, {len(rules)} queries"}


def _zircolite_rules(backend: Any, pack: Any) -> list[dict[str, Any]]:
    """Every rule with output in the `zircolite` format, referenced rules converted first."""
    import copy

    from sigma.correlations import SigmaCorrelationRule

    collection = copy.deepcopy(pack.collection)
    collection.resolve_rule_references()
    by_id = {str(rule.id): rule for rule in collection.rules}
    converted: list[dict[str, Any]] = []
    for pack_rule in pack.rules:
        rule = by_id[pack_rule.id]
        if isinstance(rule, SigmaCorrelationRule):
            converted += backend.convert_correlation_rule(rule, output_format="zircolite")
        else:
            converted += backend.convert_rule(rule, output_format="zircolite")
    return converted


def _field_mappings(pack: Any) -> dict[str, str]:
    """Zircolite's field mapping config, written from backends/local/sources.yml: each raw path of a
    Sigma field the pack uses becomes that field's column, each time path becomes `timestamp`."""
    from ghosthire.hunt import build_plan

    plan = build_plan(pack)
    mappings: dict[str, str] = {}
    for source in plan.sources():
        for field in plan.fields_of(source.id):
            for raw in source.paths_of(field):
                mappings.setdefault(raw, field)
        for raw in source.time:
            mappings.setdefault(raw, "timestamp")
    return mappings


def _zircolite_ingest(connection: Any, path: Path, mappings: dict[str, str]) -> int:
    """json.loads and flatten every line, then one table, typed by each column's first value."""
    rows = [_flatten(json.loads(line), mappings) for line in _lines(path)]
    # SQLite column names ignore case: the first spelling of a name is its column (as in Zircolite).
    spelling: dict[str, str] = {}
    columns: dict[str, str] = {}
    for row in rows:
        for key, value in row.items():
            name = spelling.setdefault(key.lower(), key)
            columns.setdefault(name, "INTEGER" if isinstance(value, int) else "TEXT COLLATE NOCASE")
    # Fields a rule reads that no event has still get a column, so that every rule runs.
    for field in mappings.values():
        columns.setdefault(spelling.setdefault(field.lower(), field), "TEXT COLLATE NOCASE")
    columns["timestamp"] = "REAL"
    rows = [{spelling[key.lower()]: value for key, value in row.items()} for row in rows]
    names = sorted(columns)
    connection.execute(
        "CREATE TABLE logs (row_id INTEGER PRIMARY KEY AUTOINCREMENT, "
        + ", ".join(f'"{name}" {columns[name]}' for name in names)
        + ")"
    )
    placeholders = ", ".join("?" * len(names))
    statement = (
        f"INSERT INTO logs ({', '.join(chr(34) + n + chr(34) for n in names)}) VALUES ({placeholders})"
    )
    connection.execute("BEGIN")
    connection.executemany(statement, (tuple(row.get(name) for name in names) for row in rows))
    connection.execute("COMMIT")
    return len(rows)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as stream:
        yield from (line for line in stream if line.strip())


def _flatten(event: dict[str, Any], mappings: dict[str, str]) -> dict[str, Any]:
    from datetime import datetime

    flat: dict[str, Any] = {}
    stack: list[tuple[Any, str]] = [(event, "")]
    while stack:
        value, prefix = stack.pop()
        if isinstance(value, dict):
            stack.extend((child, f"{prefix}.{key}" if prefix else key) for key, child in value.items())
            continue
        key = mappings.get(prefix) or "".join(c for c in prefix.rsplit(".", 1)[-1] if c.isalnum())
        if key == "timestamp":
            value = (
                value / 1000 if isinstance(value, int | float) else datetime.fromisoformat(value).timestamp()
            )
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = str(value)
        flat[key] = value
    return flat


PHASES = {"engine": engine_phase, "floor": floor_phase, "baseline": baseline_phase}
# Phases run as the `ghosthire hunt` command itself, timed from outside: the rule directory each uses.
PROCESS_PHASES = {"process": None, "heavy": "heavy"}


def hunt_command(inputs: list[Path], rules: Path | None, output: Path) -> list[str]:
    command = [sys.executable, "-c", "from ghosthire.cli import main; main()", "hunt", *map(str, inputs)]
    command += ["--format", "jsonl", "--output", str(output), "--no-progress"]
    return command + (["--rules", str(rules)] if rules else [])


def measure_process(
    phase: str, inputs: list[Path], rules: Path | None, events: int, env: dict[str, str] | None = None
) -> Measure:
    """The whole command in a child process: wall time from start to exit, peak RSS from its rusage."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "alerts.jsonl"
        started = time.perf_counter()
        child = subprocess.Popen(
            hunt_command(inputs, rules, output),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):  # 3: the hunt ran, some rules could not be read
            raise SystemExit(f"phase {phase} failed with exit code {code}: {errors.decode()[-500:]}")
        alerts = sum(1 for _ in output.open(encoding="utf-8")) if output.exists() else 0
    cpu = usage.ru_utime + usage.ru_stime
    detail = f"{alerts} alerts written, {cpu:.2f} s CPU"
    return Measure(phase, events, seconds, usage.ru_maxrss * 1024, detail, cpu)


# -- the driver ------------------------------------------------------------------------------------


def measure(phase: str, path: Path) -> Measure:
    """Run one phase in a child process; its peak RSS comes from that child's own rusage."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--phase", phase, "--input", str(path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"phase {phase} failed with exit code {child.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    return Measure(
        phase,
        result["events"],
        result["seconds"],
        usage.ru_maxrss * 1024,
        result["detail"],
        result.get("cpu_seconds", usage.ru_utime + usage.ru_stime),
    )


def dataset(events: int, workdir: Path) -> Path:
    from generate_events import write_events

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"ghosthire-bench-{events}.ndjson"
    if not path.exists():
        started = time.perf_counter()
        size = write_events(path, events)
        print(
            f"generated {events} events ({size / events:.0f} bytes a line) in {time.perf_counter() - started:.0f}s"
        )
    return path


def report(runs: dict[str, list[Measure]], size: int) -> None:
    measures = {phase: _median(measured) for phase, measured in runs.items()}
    print(f"\n{'phase':<10}{'events/s':>12}{'seconds':>10}{'peak RSS':>12}  detail")
    for m in measures.values():
        print(
            f"{m.phase:<10}{m.rate:>12,.0f}{m.seconds:>10.2f}{m.peak_bytes / 1024**2:>10,.0f}MB  {m.detail}"
        )
    events = next(iter(measures.values())).events
    print(f"\ninput: {events:,} events, {size / 1024**2:,.0f} MB")
    if "baseline" in measures and "engine" in measures:
        ratio = measures["engine"].rate / measures["baseline"].rate
        print(
            f"engine / baseline speed: {ratio:.1f}x (goal >= {GOAL_BASELINE_RATIO:g}x) {_verdict(ratio >= GOAL_BASELINE_RATIO)}"
        )
    if "floor" in measures and "engine" in measures:
        pairs = [e.seconds / f.seconds for e, f in zip(runs["engine"], runs["floor"], strict=True)]
        ratio = statistics.median(pairs)
        print(
            f"engine time / read floor: {ratio:.2f}x, median of {len(pairs)} pairs "
            f"({', '.join(f'{pair:.2f}' for pair in pairs)}) (goal <= {GOAL_FLOOR_RATIO:g}x) "
            f"{_verdict(ratio <= GOAL_FLOOR_RATIO)}"
        )
    for phase in PROCESS_PHASES:
        if phase in runs and "floor" in runs:
            pairs = list(zip(runs[phase], runs["floor"], strict=True))
            ratio = statistics.median(p.seconds / f.seconds for p, f in pairs)
            cpu = statistics.median(p.cpu_seconds / f.cpu_seconds for p, f in pairs if f.cpu_seconds)
            print(
                f"{phase} (whole command) / read floor: {ratio:.2f}x wall, {cpu:.2f}x CPU, median of "
                f"{len(pairs)} pairs (goal <= {GOAL_PROCESS_RATIO:g}x) {_verdict(ratio <= GOAL_PROCESS_RATIO)}"
            )
    for phase in ("engine", *PROCESS_PHASES):
        if phase in measures:
            peak = measures[phase].peak_bytes
            print(
                f"{phase} peak memory: {peak / 1024**2:,.0f} MB (goal < {GOAL_PEAK_BYTES / 1024**2:,.0f} MB) "
                f"{_verdict(peak < GOAL_PEAK_BYTES)}"
            )


def _median(runs: list[Measure]) -> Measure:
    """The median run (by time) of a phase, with the highest peak memory of its runs."""
    middle = sorted(runs, key=lambda m: m.seconds)[(len(runs) - 1) // 2]
    peak = max(m.peak_bytes for m in runs)
    return Measure(middle.phase, middle.events, middle.seconds, peak, middle.detail, middle.cpu_seconds)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, nargs="+", default=[1_000_000], help="dataset sizes, each measured in turn"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated file (and reuse a kept one)")
    parser.add_argument("--repeat", type=int, default=5, help="engine/floor pairs to run (the median counts)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-engine", action="store_true", help="only the whole commands (and floor)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()), help="created if missing"
    )
    parser.add_argument(
        "--sigma", type=Path, help="a SigmaHQ/sigma checkout: measure the rule-count curve over its samples"
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.phase:
        print(json.dumps(PHASES[arguments.phase](arguments.input)))
        return
    if arguments.sigma:
        rule_count_curve(arguments.sigma)
        return
    heavy = arguments.workdir / "ghosthire-bench-heavy-rules"
    heavy.mkdir(parents=True, exist_ok=True)
    (heavy / "bench_every_process_start.yml").write_text(HEAVY_RULE, encoding="utf-8")
    phases = (
        ([] if arguments.skip_engine else ["engine"])
        + list(PROCESS_PHASES)
        + ([] if arguments.skip_floor else ["floor"])
        + ([] if arguments.skip_baseline else ["baseline"])
    )
    measured = {count: run_size(count, phases, heavy, arguments) for count in arguments.events}
    if "floor" in phases:
        whole_process_table(measured)


def run_size(
    count: int, phases: list[str], heavy: Path, arguments: argparse.Namespace
) -> dict[str, list[Measure]]:
    """Every phase over a dataset of `count` events, `--repeat` times; its report."""
    path = dataset(count, arguments.workdir)
    try:
        runs: dict[str, list[Measure]] = {phase: [] for phase in phases}
        for attempt in range(arguments.repeat):
            for phase in phases:
                if phase == "baseline" and attempt:
                    continue
                if phase in PROCESS_PHASES:
                    rules = heavy if PROCESS_PHASES[phase] else None
                    runs[phase].append(measure_process(phase, [path], rules, count))
                else:
                    runs[phase].append(measure(phase, path))
                print(f"{count:,} events, {phase}: {runs[phase][-1].seconds:.2f}s", flush=True)
        report(runs, path.stat().st_size)
        return runs
    finally:
        if not arguments.keep:
            path.unlink(missing_ok=True)


def whole_process_table(measured: dict[int, dict[str, list[Measure]]]) -> None:
    """The whole command against the read floor at each size: the goal's figures in one table. Wall and
    CPU time (the command's, the floor query's) each as the median of the pairs' ratios, every pair's
    wall ratio listed: on a loaded machine CPU time is the steadier of the two."""
    print(
        f"\n{'events':>10}  {'rules':<6}{'floor s':>9}{'whole s':>9}{'ratio':>7}"
        f"{'floor CPU':>10}{'whole CPU':>10}{'ratio':>7}{'peak RSS':>11}  alerts; wall ratio of each pair"
    )
    for count, runs in measured.items():
        floor = _median(runs["floor"])
        for phase in PROCESS_PHASES:
            whole = _median(runs[phase])
            pairs = list(zip(runs[phase], runs["floor"], strict=True))
            walls = [p.seconds / f.seconds for p, f in pairs]
            cpus = statistics.median(p.cpu_seconds / f.cpu_seconds for p, f in pairs if f.cpu_seconds)
            print(
                f"{count:>10,}  {'pack' if phase == 'process' else 'heavy':<6}{floor.seconds:>9.2f}"
                f"{whole.seconds:>9.2f}{statistics.median(walls):>7.2f}{floor.cpu_seconds:>10.1f}"
                f"{whole.cpu_seconds:>10.1f}{cpus:>7.2f}{whole.peak_bytes / 1024**2:>9,.0f}MB  "
                f"{whole.detail.split(',')[0]}; {', '.join(f'{wall:.2f}' for wall in walls)}"
            )


def rule_count_curve(checkout: Path) -> None:
    """SigmaHQ's Windows rules (the first N files, then all) over its regression samples, as the whole
    `ghosthire hunt` command: cold (rules parsed and compiled), warm (their plan from the cache) and, for
    all the rules, with one rule file added (only that rule compiled again). The growth per doubling
    is judged on CPU time, which a shared machine's load distorts least."""
    rules = sorted((checkout / "rules" / "windows").rglob("*.yml"))
    samples = [checkout / "regression_data"]
    counts = [count for count in RULE_COUNTS if count < len(rules)] + [len(rules)]
    print(f"\n{'rules':>6}  {'run':<10}{'CPU s':>8}{'wall s':>8}{'peak RSS':>11}  x CPU per doubling (cold)")
    previous: Measure | None = None
    for count in counts:
        with tempfile.TemporaryDirectory() as folder:
            chosen = Path(folder) / "rules"
            chosen.mkdir()
            for index, rule in enumerate(rules[:count]):
                (chosen / f"{index:05d}-{rule.name}").symlink_to(rule)
            env = {"GHOSTHIRE_CACHE_DIR": str(Path(folder) / "cache")}
            runs = {"cold": measure_process("cold", samples, chosen, count, env)}
            runs["warm"] = measure_process("warm", samples, chosen, count, env)
            if count == len(rules):
                _add_rule_copy(rules[0], chosen / "added.yml")
                runs["one added"] = measure_process("one added", samples, chosen, count + 1, env)
        growth = ""
        if previous is not None:
            factor = (runs["cold"].cpu_seconds / previous.cpu_seconds) / (count / previous.events) * 2
            growth = (
                f"{factor:.2f} (goal <= {GOAL_DOUBLING_RATIO:g}) {_verdict(factor <= GOAL_DOUBLING_RATIO)}"
            )
        for name, run in runs.items():
            print(
                f"{count:>6}  {name:<10}{run.cpu_seconds:>8.2f}{run.seconds:>8.2f}"
                f"{run.peak_bytes / 1024**2:>9,.0f}MB  {growth if name == 'cold' else ''}"
            )
        previous = runs["cold"]
    verdicts = ", ".join(
        f"{name} {_verdict(run.cpu_seconds <= GOAL_SIGMA_SECONDS and run.peak_bytes <= GOAL_SIGMA_PEAK_BYTES)}"
        for name, run in runs.items()
    )
    print(
        f"all the rules, goal at most {GOAL_SIGMA_SECONDS:g} s CPU and "
        f"{GOAL_SIGMA_PEAK_BYTES / 1024**2:,.0f} MB for the whole process: {verdicts}"
    )


def _add_rule_copy(rule: Path, added: Path) -> None:
    """A copy of a rule under a new id and name: a rule file added to the directory."""
    text = rule.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^id: .*$", f"id: {uuid.uuid4()}", text, count=1)
    added.write_text(re.sub(r"(?m)^title: (.*)$", r"title: \1 (added)", text, count=1), encoding="utf-8")


if __name__ == "__main__":
    main()
