"""Compiled hunt plans kept by content: a rule directory hunted again is not parsed and compiled again.

Parsing and compiling thousands of Sigma rules takes far longer than hunting a few files with them. The
key is a hash of everything a plan is made from: each rule file's name and bytes, the loading options,
the rule selection, the content under backends/ (pipelines, source table), the placeholder values from
the lookups, the code (each module's size and modification time) and the library versions that compile. Plans are pickled into the user's cache
folder (GHOSTHIRE_CACHE_DIR, else $XDG_CACHE_HOME/ghosthire, else ~/.cache/ghosthire; `off` turns the
cache off); only the most recent few are kept. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from importlib.metadata import version
from pathlib import Path

import ghosthire
from ghosthire.compile.compiler import no_collection
from ghosthire.compile.targets import placeholder_values
from ghosthire.content import backends_dir
from ghosthire.hunt.plan import HuntPlan, build_plan
from ghosthire.rules import load_pack
from ghosthire.rules.loader import rule_files
from ghosthire.rules.selection import RuleSelection, select

CACHE_ENV = "GHOSTHIRE_CACHE_DIR"
KEEP = 8


def cached_plan(root: Path, *, require_metadata: bool, strict: bool, selection: RuleSelection) -> HuntPlan:
    """The plan of the chosen rules of a directory, from the cache when nothing they depend on changed;
    loaded, compiled and stored otherwise."""
    folder = cache_folder()
    path = folder / f"{_key(root, require_metadata, strict, selection)}.pickle" if folder else None
    if path is not None:
        with contextlib.suppress(Exception), no_collection():
            plan = pickle.loads(path.read_bytes())
            path.touch()
            return plan
    pack = select(load_pack(root, require_metadata=require_metadata, strict=strict), selection)
    plan = build_plan(pack, in_place=True)
    if path is not None:
        with contextlib.suppress(Exception):
            _store(path, pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
    return plan


def cache_folder() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ghosthire"


def _key(root: Path, require_metadata: bool, strict: bool, selection: RuleSelection) -> str:
    digest = hashlib.sha256()
    options = [require_metadata, strict, repr(selection), placeholder_values()]
    options += [version(name) for name in ("pysigma", "duckdb")]
    digest.update(json.dumps(options, sort_keys=True).encode())
    # The code by each module's size and modification time: a changed module (edited in a checkout,
    # or installed again) changes them, and reading the whole package at every hunt would not pay.
    code = Path(ghosthire.__file__).parent
    for module in sorted(code.rglob("*.py")):
        status = module.stat()
        digest.update(f"{module.relative_to(code)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    for base, files in (
        (backends_dir(), sorted(p for p in backends_dir().rglob("*") if p.is_file())),
        (root, rule_files(root)),
    ):
        for file in files:
            digest.update(str(file.relative_to(base) if file != base else file.name).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _store(path: Path, data: bytes) -> None:
    """Written whole, then renamed into place (a concurrent hunt never reads half a plan); the oldest
    plans beyond KEEP are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
        part.write(data)
    Path(part.name).replace(path)
    plans = sorted(path.parent.glob("*.pickle"), key=lambda plan: plan.stat().st_mtime, reverse=True)
    for old in plans[KEEP:]:
        old.unlink(missing_ok=True)
