"""Compiled hunt plans kept by content: a rule directory hunted again is not parsed and compiled again.

Parsing and compiling thousands of Sigma rules takes far longer than hunting a few files with them. A
plan's key is a hash of everything it is made from: each rule file's name and bytes, the loading
options, the rule selection, and the environment that compiles: the content under backends/
(pipelines, source table), the placeholder values from the lookups, the code (each module's size and
modification time) and the library versions. A plan is kept without what only compiling reads (each
rule's detection and pySigma's conversion state): a tenth of the time to write and a third to read.

When a directory changed, its rules are parsed again (unpickling pySigma's parse of a file takes as long
as parsing it), but the unchanged rules are not compiled again: each rule's local query is kept by its
file's name and bytes and the directory's Sigma filters, so adding or editing one rule costs the
compiling of that rule.

Everything is pickled into the user's cache folder (GHOSTHIRE_CACHE_DIR, else $XDG_CACHE_HOME/ghosthire,
else ~/.cache/ghosthire; `off` turns the cache off); only the most recent few plans and rule stores are
kept. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import io
import json
import os
import pickle
import tempfile
from importlib.metadata import version
from pathlib import Path

from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

import ghosthire
from ghosthire.compile.compiler import no_collection
from ghosthire.compile.targets import placeholder_values
from ghosthire.content import backends_dir
from ghosthire.hunt.backend import LocalQuery
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.rules import PackRule, load_pack
from ghosthire.rules.loader import ParsedFile, parse_file, rule_files
from ghosthire.rules.selection import RuleSelection, select

CACHE_ENV = "GHOSTHIRE_CACHE_DIR"
KEEP = 8
# The folder (under the cache folder) of the rule stores, one per rule directory.
RULE_STORES = "rules"


def cached_plan(root: Path, *, require_metadata: bool, strict: bool, selection: RuleSelection) -> HuntPlan:
    """The plan of the chosen rules of a directory, from the cache when nothing they depend on changed;
    loaded, compiled and stored otherwise (with the unchanged files' rules from the rule store)."""
    folder = cache_folder()
    if folder is None:
        pack = load_pack(root, require_metadata=require_metadata, strict=strict)
        return build_plan(select(pack, selection), in_place=True)
    environment = _environment()
    path = folder / f"{_plan_key(environment, root, require_metadata, strict, selection)}.pickle"
    with contextlib.suppress(Exception), no_collection():
        plan = pickle.loads(path.read_bytes())
        path.touch()
        return plan
    store = RuleStore(
        folder / RULE_STORES / f"{_digest(environment, str(root.resolve()), require_metadata)}.pickle"
    )
    pack = load_pack(root, require_metadata=require_metadata, strict=strict, parse=store.parse)
    plan = build_plan(select(pack, selection), in_place=True, kept=store)
    with contextlib.suppress(Exception):
        _store(path, _without_detections(plan))
        store.save()
    return plan


# What of a pySigma rule only loading and compiling read: the plan's rules are kept without them.
COMPILING_ONLY = ("detection", "_conversion_result", "_conversion_states", "_conversion_state")


def _without_detections(plan: HuntPlan) -> bytes:
    """The plan pickled with its pySigma rules' titles, tags, levels and the rest of what alerts read,
    but not their detections nor conversion state (read back as None)."""
    data = io.BytesIO()
    pickler = pickle.Pickler(data, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[SigmaRule] = _reduced_rule
    pickler.dump(plan)
    return data.getvalue()


def _reduced_rule(rule: SigmaRule) -> tuple[object, ...]:
    kept = {name: None if name in COMPILING_ONLY else value for name, value in vars(rule).items()}
    return _rebuilt_rule, (type(rule), kept)


def _rebuilt_rule(kind: type[SigmaRule], attributes: dict[str, object]) -> SigmaRule:
    rule = kind.__new__(kind)
    vars(rule).update(attributes)
    return rule


class RuleStore:
    """Each rule's local query or reason it cannot run, from the last hunt of a directory, by content
    (see build_plan's `kept`); what this hunt used is stored for the next."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._compiled_before: dict[str, LocalQuery | str] = {}
        with contextlib.suppress(Exception), no_collection():
            stored = pickle.loads(path.read_bytes())
            self._compiled_before = stored if isinstance(stored, dict) else {}
        self._compiled: dict[str, LocalQuery | str] = {}
        self._file_digests: dict[Path, str] = {}
        self._filter_digests: list[str] = []

    def parse(self, path: Path, text: str) -> ParsedFile:
        """A file's rules and filters as parse_file reads them; the file's content digest is noted, by
        which its rules' queries are kept."""
        digest = _digest(path, text)
        parsed = parse_file(path, text)
        self._file_digests[path] = digest
        if any(isinstance(item, SigmaFilter) for item in parsed[0]):
            self._filter_digests.append(digest)
        return parsed

    def get(self, rule: PackRule) -> LocalQuery | str | None:
        found = self._compiled_before.get(self._rule_key(rule))
        if found is not None:
            self._compiled[self._rule_key(rule)] = found
        return found

    def put(self, rule: PackRule, compiled: LocalQuery | str) -> None:
        self._compiled[self._rule_key(rule)] = compiled

    def save(self) -> None:
        _store(self.path, pickle.dumps(self._compiled, protocol=pickle.HIGHEST_PROTOCOL))

    def _rule_key(self, rule: PackRule) -> str:
        # A filter of the directory may apply to any of its rules.
        return _digest(self._file_digests[rule.path], rule.id, *sorted(self._filter_digests))


def cache_folder() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ghosthire"


def _environment() -> str:
    """A digest of what compiles the rules: library versions, placeholder values, the code and backends/."""
    digest = hashlib.sha256()
    options = [placeholder_values()] + [version(name) for name in ("pysigma", "duckdb")]
    digest.update(json.dumps(options, sort_keys=True).encode())
    # The code by each module's size and modification time: a changed module (edited in a checkout,
    # or installed again) changes them, and reading the whole package at every hunt would not pay.
    code = Path(ghosthire.__file__).parent
    for module in sorted(code.rglob("*.py")):
        status = module.stat()
        digest.update(f"{module.relative_to(code)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    _add_files(digest, backends_dir(), sorted(p for p in backends_dir().rglob("*") if p.is_file()))
    return digest.hexdigest()


def _plan_key(
    environment: str, root: Path, require_metadata: bool, strict: bool, selection: RuleSelection
) -> str:
    digest = hashlib.sha256(f"{environment}\0{require_metadata}\0{strict}\0{selection!r}\0".encode())
    _add_files(digest, root, rule_files(root))
    return digest.hexdigest()


def _add_files(digest: hashlib._Hash, base: Path, files: list[Path]) -> None:
    for file in files:
        digest.update(str(file.relative_to(base) if file != base else file.name).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()


def _store(path: Path, data: bytes) -> None:
    """Written whole, then renamed into place (a concurrent hunt never reads half a plan); the oldest
    files of the folder beyond KEEP are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
        part.write(data)
    Path(part.name).replace(path)
    kept = sorted(path.parent.glob("*.pickle"), key=lambda file: file.stat().st_mtime, reverse=True)
    for old in kept[KEEP:]:
        old.unlink(missing_ok=True)
